import pytest

# The fake exchanges listen on plain http on loopback (exchanges/endpoints.py).
FAKE_HTTP_HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture(autouse=True)
def _fake_hosts_allowed(settings):
    settings.EXCHANGE_HTTP_HOSTS = FAKE_HTTP_HOSTS


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test counts rate limits in its own memory cache, so tests do not throttle each other."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    from django.core.cache import cache, caches

    from pipelabs.api import memo

    cache.clear()
    memo._down_until = 0.0  # a dead cache of an earlier test is not this test's
    yield
    try:
        caches["default"].clear()
    except Exception:  # a test may point the cache at a dead server on purpose
        pass


@pytest.fixture
def subprocess_env(transactional_db):
    """Environment for a child process (worker, server) that uses this test's database."""
    import os

    from django.db import connection

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "REDIS_URL")}
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = settings_dict["NAME"]
    else:
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        env["DATABASE_URL"] = f"postgresql://{settings_dict['USER']}{password}@{host}:{port}/{settings_dict['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "pipelabs.settings"
    env["EXCHANGE_HTTP_HOSTS"] = ",".join(FAKE_HTTP_HOSTS)
    return env


@pytest.fixture
def redis_url():
    """A reachable local Redis (its own database for tests), or a skip; CI sets REQUIRE_REDIS=1."""
    import os

    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("REQUIRE_REDIS"):
            raise
        pytest.skip("no Redis on this machine (CI sets REQUIRE_REDIS=1)")
    return url
