"""The admin login refuses after a few failed attempts, per client IP and per username."""

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "a-long-Correct-passw0rd"


@pytest.fixture(autouse=True)
def _patient_limiter(settings):
    # These tests count attempts; on a loaded machine a cache query can pass the limiter's 0.3 s
    # budget and fail open (tested on its own below), which would skip a count.
    settings.RATELIMIT_DB_TIMEOUT_S = 5.0


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)


def attempt(client, username, password, ip="198.51.100.1"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_attempts_from_one_ip_are_limited_with_a_readable_message(client, settings, operator):
    settings.ADMIN_LOGIN_FAILURE_LIMIT = "5/15m"
    statuses = [attempt(client, f"guess{n}", "wrong").status_code for n in range(5)]
    assert statuses == [200] * 5  # the form again, with Django's error
    refused = attempt(client, "ops", PASSWORD)  # even the right password: the IP is locked out
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "15 minutes" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # another IP still signs in
    assert attempt(client, "ops", PASSWORD, ip="198.51.100.2").status_code == 302


def test_failed_attempts_on_one_username_are_limited_across_ips(client, settings, operator):
    settings.ADMIN_LOGIN_FAILURE_LIMIT = "5/15m"
    statuses = [attempt(client, "ops", "wrong", ip=f"203.0.113.{n}").status_code for n in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert attempt(client, "ops", PASSWORD, ip="203.0.113.200").status_code == 429
    # other accounts are not locked by it
    get_user_model().objects.create_superuser("other", "o@example.com", PASSWORD)
    assert attempt(client, "other", PASSWORD, ip="203.0.113.201").status_code == 302


def test_successful_logins_do_not_count(client, settings, operator):
    settings.ADMIN_LOGIN_FAILURE_LIMIT = "2/15m"
    for _ in range(4):
        assert attempt(client, "ops", PASSWORD).status_code == 302
        client.logout()


def test_ipv6_attacker_rotating_inside_its_64_is_one_ip(client, settings, operator):
    settings.ADMIN_LOGIN_FAILURE_LIMIT = "3/15m"
    statuses = [attempt(client, f"user{n}", "wrong", ip=f"2001:db8::{n + 1:x}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_login_limit_fails_open_when_the_cache_is_down(client, settings, operator):
    settings.ADMIN_LOGIN_FAILURE_LIMIT = "1/15m"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"socket_connect_timeout": 0.2}}}
    assert [attempt(client, "x", "wrong").status_code for _ in range(3)] == [200, 200, 200]
    assert attempt(client, "ops", PASSWORD).status_code == 302
