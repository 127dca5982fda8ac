"""A real django-q2 cluster, on the ORM broker and on Redis, runs the platform's tasks."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from pipelabs.models import WorkerHeartbeat
from pipelabs.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
ENQUEUE = "from django_q.tasks import async_task; print(async_task('pipelabs.tasks.beat'))"


def redis_or_skip():
    import redis

    try:
        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        connection.flushdb()
    except redis.RedisError:
        if os.environ.get("REQUIRE_REDIS"):
            raise
        pytest.skip("no Redis on this machine (CI sets REQUIRE_REDIS=1)")


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_cluster_executes_tasks_and_health_sees_the_worker(subprocess_env, client, broker, tmp_path):
    env = dict(subprocess_env)
    if broker == "redis":
        redis_or_skip()
        env["REDIS_URL"] = REDIS_URL
    log = open(tmp_path / "cluster.log", "w")
    cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        enqueue = subprocess.run([sys.executable, "manage.py", "shell", "-c", ENQUEUE], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert enqueue.returncode == 0, enqueue.stderr
        deadline = time.monotonic() + 45
        while not WorkerHeartbeat.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert WorkerHeartbeat.objects.exists(), (tmp_path / "cluster.log").read_text()[-3000:]
        body = client.get("/health").json()
        assert body["workers"]["alive"] is True
        assert body["status"] == "healthy"
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
        log.close()


def test_setup_schedules_reconciles_by_name(db):
    Schedule.objects.create(name="obsolete-job", func="pipelabs.tasks.beat", schedule_type=Schedule.MINUTES, minutes=5)
    Schedule.objects.create(name="worker-heartbeat", func="wrong.func", schedule_type=Schedule.DAILY)
    call_command("setup_schedules", stdout=open(os.devnull, "w"))
    call_command("setup_schedules", stdout=open(os.devnull, "w"))  # idempotent
    rows = {s.name: s for s in Schedule.objects.all()}
    assert set(rows) == {spec.name for spec in SCHEDULES}
    assert rows["worker-heartbeat"].func == "pipelabs.tasks.beat"
    assert rows["worker-heartbeat"].schedule_type == Schedule.MINUTES
