"""Health endpoints and the rate limiter answer in time whatever the database does.

Faults are real: a TCP server that accepts and never answers stands in for a hung database, and
tables are locked with LOCK TABLE from another PostgreSQL session (or an exclusive SQLite lock).
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection, connections

from pipelabs import env as pipelabs_env
from tests.pipelabs.test_runlocal import free_port

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
needs_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="LOCK TABLE needs PostgreSQL")


@contextmanager
def silent_database():
    """A 'database' on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for sock in held:
            sock.close()
        server.close()


@contextmanager
def locked(table: str):
    """LOCK TABLE in another session, held until the block ends."""
    import psycopg2

    params = connection.get_connection_params()
    params.pop("options", None)
    other = psycopg2.connect(**params)
    try:
        with other.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()


@contextmanager
def sqlite_exclusive():
    """Another process's exclusive lock on the SQLite file (a long write being committed)."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def timed_get(url_or_client, path: str, **extra):
    started = time.monotonic()
    if isinstance(url_or_client, str):
        request = urllib.request.Request(url_or_client + path, headers=extra.get("headers", {}))
        try:
            with urllib.request.urlopen(request, timeout=40) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
    else:
        response = url_or_client.get(path)
        status, body = response.status_code, response.content
    return status, time.monotonic() - started, body


@contextmanager
def web_server(env: dict, tmp_path):
    """gunicorn as the Procfile runs it (one sync worker, 30 s timeout), on this environment."""
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "pipelabs.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"],
        cwd=ROOT, env=env | {"PIPELABS_ENV": "development", "DEBUG": "false", "LOG_FORMAT": "text"},
        stdout=log, stderr=log, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # until the worker has loaded the app: a static path touches no database
            try:
                urllib.request.urlopen(f"{url}/static/ready", timeout=5)
            except urllib.error.HTTPError:
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-3000:]
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_health_answers_in_time_when_the_database_accepts_and_never_answers(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "REDIS_URL")}
    with silent_database() as port:
        env = base | {"DATABASE_URL": f"postgres://pipelabs@127.0.0.1:{port}/pipelabs", "PIPELABS_VAR_DIR": str(tmp_path)}
        with web_server(env, tmp_path) as url:
            for _ in range(3):  # the rate limiter's database cache is asked first, every time
                status, elapsed, body = timed_get(url, "/health")
                assert status == 503, body
                assert elapsed < 2, elapsed
                assert json.loads(body)["database"]["ok"] is False
            status, elapsed, _ = timed_get(url, "/health/bot-runner")
            assert (status, elapsed < 2) == (503, True), elapsed


@needs_postgres
@pytest.mark.parametrize("path", ["/health", "/health/bot-runner"])
def test_health_answers_503_in_time_while_the_heartbeat_table_is_locked(transactional_db, client, path):
    with locked("pipelabs_workerheartbeat"):
        status, elapsed, body = timed_get(client, path)
    assert status == 503, body
    assert elapsed < 2
    assert client.get(path).status_code == 200  # and the same connection works again


@needs_postgres
def test_health_budget_restores_the_enclosing_transactions_limits(db, client):
    """Inside a transaction (a test's, or ATOMIC_REQUESTS) the health's short limits do not stay."""
    client.get("/health")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


@needs_postgres
def test_rate_limiter_fails_open_fast_while_the_cache_table_is_locked(transactional_db, client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "pipelabs_cache"}}
    caches["default"].clear()
    settings.API_RATE_LIMIT = "1/m"
    with locked("pipelabs_cache"):
        for path, expected in (("/no-such-thing", 404), ("/no-such-thing", 404), ("/health", 200)):
            status, elapsed, _ = timed_get(client, path)
            assert status == expected
            assert elapsed < 1
    assert client.get("/no-such-thing").status_code == 404
    assert client.get("/no-such-thing").status_code == 429  # counting again once the lock is gone


@needs_postgres
@pytest.mark.slow
@pytest.mark.parametrize("table,path,expected", [
    ("pipelabs_workerheartbeat", "/health", 503),
    ("pipelabs_cache", "/health", 200),
    ("pipelabs_cache", "/admin/login/", 200),
])
def test_real_server_answers_in_time_with_a_locked_table(subprocess_env, tmp_path, table, path, expected):
    with web_server(subprocess_env | {"PIPELABS_VAR_DIR": str(tmp_path)}, tmp_path) as url:
        assert timed_get(url, "/health")[0] in (200, 503)  # connected, warm
        with locked(table):
            status, elapsed, body = timed_get(url, path)
        assert status == expected, body[:300]
        assert elapsed < 2, elapsed


@needs_postgres
@pytest.mark.slow
def test_web_requests_have_a_lock_timeout(subprocess_env, tmp_path):
    """A page waiting on a locked table fails after WEB_LOCK_TIMEOUT_S, not when gunicorn kills it."""
    env = subprocess_env | {"PIPELABS_VAR_DIR": str(tmp_path), "WEB_LOCK_TIMEOUT_S": "1"}
    with web_server(env, tmp_path) as url:
        with locked("django_session"):
            status, elapsed, _ = timed_get(url, "/admin/", headers={"Cookie": "sessionid=0123456789abcdefghijklmnopqrstuv"})
        assert status == 500
        assert elapsed < 5, elapsed


@needs_postgres
def test_web_and_worker_sessions_get_their_own_timeouts(db, settings):
    settings.WEB_STATEMENT_TIMEOUT_S = 15
    settings.WEB_LOCK_TIMEOUT_S = 5
    settings.WORKER_STATEMENT_TIMEOUT_S = 0
    settings.WORKER_LOCK_TIMEOUT_S = 2.5

    def session_limits():
        fresh = connections.create_connection("default")
        try:
            with fresh.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
                return cursor.fetchone()
        finally:
            fresh.close()

    assert session_limits() == ("0", "2500ms")
    pipelabs_env.mark_web_process()
    try:
        assert session_limits() == ("15s", "5s")
    finally:
        pipelabs_env._process["web"] = False


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's lock")
def test_health_answers_in_time_while_sqlite_is_locked(transactional_db, client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "pipelabs_cache"}}
    caches["default"].clear()
    with sqlite_exclusive():
        status, elapsed, body = timed_get(client, "/health")  # the limiter's counter, then the probe
    assert status == 503, body
    assert elapsed < 2
    assert client.get("/health").status_code == 200
