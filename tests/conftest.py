import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test counts rate limits in its own memory cache, so tests do not throttle each other."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
