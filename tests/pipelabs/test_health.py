import http.server
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bots.models import Bot
from pipelabs.models import WorkerHeartbeat
from tests.factories import BotFactory


@contextmanager
def ip_service(body: bytes, *, status: int = 200, delay_s: float = 0.0):
    """A local stand-in for the public IP lookup service (ipify's answer shape)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay_s)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                self.wfile.write(body)
            except BrokenPipeError:
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/?format=json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health_is_healthy_with_database_and_fresh_worker(client, path):
    WorkerHeartbeat.objects.create(name="pipelabs", seen_at=timezone.now())
    response = client.get(path)
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "healthy"
    assert body["database"]["ok"] is True
    assert body["database"]["latency_ms"] >= 0
    assert body["workers"]["alive"] is True
    assert body["version"]


@pytest.mark.django_db
def test_health_is_degraded_without_a_worker(client):
    WorkerHeartbeat.objects.create(name="pipelabs", seen_at=timezone.now() - timedelta(hours=1))
    body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["workers"]["alive"] is False
    assert body["workers"]["last_seen_s"] >= 3600


def test_health_reports_database_down_instead_of_crashing(transactional_db, client):
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/pipelabs.sqlite3"
    else:
        connection.settings_dict["PORT"] = 1  # nothing listens there
    try:
        response = client.get("/health")
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"]["ok"] is False
    assert body["database"]["error"] == "OperationalError"
    # and the database works again for what follows
    assert client.get("/health").json()["database"]["ok"] is True


@pytest.mark.django_db
def test_bot_runner_counts_running_and_stale_bots(client, settings):
    settings.BOT_STALE_AFTER_S = 60
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="pipelabs", seen_at=now)
    fresh = BotFactory(status=Bot.Status.RUNNING, heartbeat_at=now - timedelta(seconds=5))
    stale = BotFactory(status=Bot.Status.RUNNING, heartbeat_at=now - timedelta(minutes=10))
    BotFactory(status=Bot.Status.STOPPED, heartbeat_at=now - timedelta(days=1))
    body = client.get("/health/bot-runner").json()
    assert body["running_bots"] == 2
    assert body["stale_bots"] == 1
    assert body["stale_bot_ids"] == [stale.id]
    assert 4 <= body["last_tick_age_s"] < 60
    assert body["workers"]["alive"] is True
    assert body["status"] == "degraded"
    assert fresh.id not in body["stale_bot_ids"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/egress-ip", "/railway-ip", "/railway-ip/"])
def test_egress_ip_answers_from_the_lookup_service(client, settings, path):
    with ip_service(b'{"ip": "203.0.113.7"}') as url:
        settings.EGRESS_IP_URL = url
        response = client.get(path)
    assert response.status_code == 200
    assert response.json()["ip"] == "203.0.113.7"


@pytest.mark.django_db
def test_egress_ip_times_out_with_503_and_a_reason(client, settings):
    with ip_service(b'{"ip": "203.0.113.7"}', delay_s=3) as url:
        settings.EGRESS_IP_URL = url
        settings.EGRESS_IP_TIMEOUT_S = 0.5
        started = time.monotonic()
        response = client.get("/egress-ip")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "timed out after 0.5s" in response.json()["detail"]
    assert elapsed < 2


@pytest.mark.django_db
@pytest.mark.parametrize("body,status", [(b"<html>oops</html>", 200), (b"{}", 500), (b'{"ip": "not-an-ip"}', 200)])
def test_egress_ip_failure_is_503_never_500(client, settings, body, status):
    with ip_service(body, status=status) as url:
        settings.EGRESS_IP_URL = url
        response = client.get("/egress-ip")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Could not determine the egress IP")


@contextmanager
def trickling_ip_service(interval_s: float):
    """Answers headers at once, then one byte of the body every ``interval_s``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"ip": "203.0.113.7"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(interval_s)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_egress_ip_lookup_that_trickles_is_cut_at_its_timeout_and_not_retried_at_once(client, settings):
    with trickling_ip_service(0.3) as url:
        settings.EGRESS_IP_URL = url
        settings.EGRESS_IP_TIMEOUT_S = 1.0
        started = time.monotonic()
        response = client.get("/egress-ip")
        assert time.monotonic() - started < 2.5  # the answer would take 6 s
        assert response.status_code == 503
        started = time.monotonic()
        assert client.get("/railway-ip").status_code == 503  # the failure is remembered briefly
        assert time.monotonic() - started < 0.5


@pytest.mark.django_db
def test_bot_runner_last_tick_ignores_bots_that_never_ticked(client):
    now = timezone.now()
    BotFactory(status=Bot.Status.RUNNING, heartbeat_at=None)
    BotFactory(status=Bot.Status.RUNNING, heartbeat_at=now - timedelta(seconds=5))
    body = client.get("/health/bot-runner").json()
    assert 4 <= body["last_tick_age_s"] < 60
    assert body["stale_bots"] == 1
