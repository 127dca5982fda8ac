import os

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from pipelabs.middleware import RATE_LIMITED

ORIGIN = "https://app.pipelabs.xyz"


@pytest.fixture
def database_cache(settings):
    """The production default: counters in the database cache every process shares."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "pipelabs_cache"}}
    caches["default"].clear()
    return caches["default"]


@pytest.mark.django_db
def test_preflight_from_allowed_origin_is_answered(client):
    response = client.options(
        "/health", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-wallet-address, authorization",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-wallet-address" in response["Access-Control-Allow-Headers"]


@pytest.mark.django_db
def test_unlisted_origin_gets_no_cors_header(client):
    response = client.get("/health", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_404_carries_cors_headers_and_json_detail(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-thing", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.django_db
def test_500_carries_cors_headers_and_json_detail(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.pipelabs.urls_faults"
    response = Client(raise_request_exception=False).get("/explode", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 500
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response.json()["detail"] == "Internal server error; the error was logged."
    assert "boom" not in response.content.decode()


@pytest.mark.django_db
def test_limited_request_gets_429_json_with_cors(client, settings, database_cache):
    settings.API_RATE_LIMIT = "3/m"
    statuses = [client.get("/no-such-thing", HTTP_ORIGIN=ORIGIN).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    response = client.get("/no-such-thing", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 429
    assert response.json()["detail"] == RATE_LIMITED
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.django_db
def test_health_has_its_own_higher_limit(client, settings, database_cache):
    settings.API_RATE_LIMIT = "2/m"
    settings.HEALTH_RATE_LIMIT = "5/m"
    assert [client.get("/health").status_code for _ in range(5)] == [200] * 5
    assert client.get("/health").status_code == 429
    # the API's counter is separate from health's
    assert client.get("/no-such-thing").status_code == 404


@pytest.mark.django_db
def test_limit_is_per_client_ip(client, settings, database_cache):
    settings.API_RATE_LIMIT = "1/m"
    assert client.get("/x", REMOTE_ADDR="198.51.100.1").status_code == 404
    assert client.get("/x", REMOTE_ADDR="198.51.100.1").status_code == 429
    assert client.get("/x", REMOTE_ADDR="198.51.100.2").status_code == 404


@pytest.mark.django_db
def test_proxy_header_names_the_client(client, settings, database_cache):
    settings.API_RATE_LIMIT = "1/m"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.PROXY_COUNT = 1
    # Same proxy peer, different clients: limited separately, by the entry the proxy appended.
    assert client.get("/x", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.1").status_code == 404
    assert client.get("/x", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 404
    assert client.get("/x", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="other, 203.0.113.1").status_code == 429
    # a dual-stack listener reports the proxy as an IPv4-mapped IPv6 address
    assert client.get("/x", REMOTE_ADDR="::ffff:10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.3").status_code == 404


@pytest.mark.django_db
def test_counters_live_in_the_shared_database_cache(client, settings, database_cache):
    settings.API_RATE_LIMIT = "1/m"
    client.get("/x", REMOTE_ADDR="198.51.100.9")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pipelabs_cache")
        assert cursor.fetchone()[0] >= 1
    # a second cache connection (another process would have its own) sees the same counter
    caches._settings = None  # noqa: SLF001  (drop this thread's cache objects)
    from django.core.cache import CacheHandler

    other = CacheHandler(settings.CACHES)["default"]
    assert any(other.get(key) for key in _counter_keys())
    assert client.get("/x", REMOTE_ADDR="198.51.100.9").status_code == 429


def _counter_keys():
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM pipelabs_cache")
        return [row[0].split(":", 2)[-1] for row in cursor.fetchall()]


def test_redis_cache_counts_when_redis_url_is_set(client, settings, db, redis_url):
    # A prefix of its own: other runs may share this Redis database.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                                   "KEY_PREFIX": f"test-{os.getpid()}-{id(client)}"}}
    settings.API_RATE_LIMIT = "2/m"
    assert [client.get("/x").status_code for _ in range(3)] == [404, 404, 429]


@pytest.mark.django_db
def test_cache_outage_lets_requests_through(client, settings):
    settings.API_RATE_LIMIT = "1/m"
    settings.HEALTH_RATE_LIMIT = "1/m"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"socket_connect_timeout": 0.2}}}
    # With a working cache the second request of each would be 429.
    assert [client.get("/no-such-thing").status_code for _ in range(3)] == [404, 404, 404]
    assert [client.get("/health").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/no-such-thing", "/api/nothing/here", "/health/nope"])
def test_unknown_path_is_json_404_even_with_debug(client, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_wrong_method_is_json_405_with_allow(client, settings, debug):
    settings.DEBUG = debug
    response = client.post("/health", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method not allowed.", "code": "method_not_allowed"}
    assert response["Allow"] == "GET"
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.django_db
def test_500_is_json_even_with_debug(settings):
    settings.DEBUG = True
    settings.ROOT_URLCONF = "tests.pipelabs.urls_faults"
    response = Client(raise_request_exception=False).get("/explode", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error; the error was logged.", "code": "server_error"}
    assert "boom" not in response.content.decode()
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.django_db
def test_admin_keeps_its_html_pages(client, settings):
    settings.DEBUG = True
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert client.get("/admin").status_code == 301  # APPEND_SLASH still redirects


@pytest.mark.django_db
def test_ipv6_client_rotating_inside_its_64_is_one_client(client, settings):
    settings.API_RATE_LIMIT = "5/m"
    statuses = [client.get("/x", REMOTE_ADDR=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 13)]
    assert statuses.count(429) == 7
    # another /64 is another client; an IPv4 address is counted alone
    assert client.get("/x", REMOTE_ADDR="2001:db8:1:3::1").status_code == 404
    assert client.get("/x", REMOTE_ADDR="198.51.100.7").status_code == 404
    assert client.get("/x", REMOTE_ADDR="198.51.100.8").status_code == 404


@pytest.mark.django_db
def test_ipv6_prefix_is_configurable(client, settings):
    settings.API_RATE_LIMIT = "1/m"
    settings.RATELIMIT_IPV6_PREFIX = 48
    assert client.get("/x", REMOTE_ADDR="2001:db8:1:2::1").status_code == 404
    assert client.get("/x", REMOTE_ADDR="2001:db8:1:ffff::1").status_code == 429


@pytest.mark.django_db
def test_client_ip_header_from_an_untrusted_peer_is_ignored(client, settings):
    settings.API_RATE_LIMIT = "5/m"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # Reaching the app directly and inventing a new "client" each time does not help.
    statuses = [client.get("/x", REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
                for n in range(12)]
    assert statuses.count(429) == 7


@pytest.mark.django_db
def test_client_ip_header_without_trusted_proxies_is_never_used(client, settings):
    settings.API_RATE_LIMIT = "5/m"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXIES = []
    statuses = [client.get("/x", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
                for n in range(12)]
    assert statuses.count(429) == 7


@pytest.mark.django_db
def test_ipv6_behind_a_trusted_proxy_is_counted_by_prefix(client, settings):
    settings.API_RATE_LIMIT = "2/m"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    statuses = [client.get("/x", REMOTE_ADDR="fd00::5", HTTP_X_FORWARDED_FOR=f"2001:db8:9:9::{n}").status_code
                for n in range(1, 5)]
    assert statuses == [404, 404, 429, 429]
