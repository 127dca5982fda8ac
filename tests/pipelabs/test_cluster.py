"""A real django-q2 cluster, on the ORM broker and on Redis, runs the platform's tasks."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from pipelabs.models import WorkerHeartbeat
from pipelabs.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_cluster(env: dict, tmp_path):
    """A real qcluster process on the test's database; yields a function returning its log tail."""
    log = open(tmp_path / "cluster.log", "w")
    cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield lambda: (tmp_path / "cluster.log").read_text()[-3000:]
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
        log.close()


def enqueue(env: dict, func: str) -> None:
    """Queue a task from another process, through the broker that process's settings choose."""
    code = f"from django_q.tasks import async_task; async_task({func!r})"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def wait_for(condition, timeout_s: float = 45) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)
    return condition()


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_cluster_executes_tasks_and_health_sees_the_worker(subprocess_env, client, broker, tmp_path, request):
    env = dict(subprocess_env)
    if broker == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        # Its own queue on the shared Redis, so test runs side by side never take each other's tasks.
        env["Q_CLUSTER_NAME"] = f"pipelabs-test-{os.getpid()}"
    with running_cluster(env, tmp_path) as log_tail:
        enqueue(env, "pipelabs.tasks.beat")
        assert wait_for(WorkerHeartbeat.objects.exists), log_tail()
        body = client.get("/health").json()
        assert body["workers"]["alive"] is True
        assert body["status"] == "healthy"


def test_setup_schedules_reconciles_by_name(db):
    Schedule.objects.create(name="obsolete-job", func="pipelabs.tasks.beat", schedule_type=Schedule.MINUTES, minutes=5)
    Schedule.objects.create(name="worker-heartbeat", func="wrong.func", schedule_type=Schedule.DAILY)
    call_command("setup_schedules", stdout=open(os.devnull, "w"))
    call_command("setup_schedules", stdout=open(os.devnull, "w"))  # idempotent
    rows = {s.name: s for s in Schedule.objects.all()}
    assert set(rows) == {spec.name for spec in SCHEDULES}
    assert rows["worker-heartbeat"].func == "pipelabs.tasks.beat"
    assert rows["worker-heartbeat"].schedule_type == Schedule.MINUTES


@pytest.mark.slow
def test_cluster_refreshes_balance_snapshots_of_paper_bots(subprocess_env, tmp_path):
    from ledger.models import BalanceRefresh, BalanceSnapshot
    from tests.factories import BotFactory, ExchangeAccountFactory

    bot = BotFactory(account=ExchangeAccountFactory(exchange="paper"))
    with running_cluster(subprocess_env, tmp_path) as log_tail:
        enqueue(subprocess_env, "ledger.tasks.refresh_balances_task")
        assert wait_for(BalanceRefresh.objects.filter(account=bot.account).exists), log_tail()
    assert BalanceRefresh.objects.get(account=bot.account).is_stale is False
    assert BalanceSnapshot.objects.filter(account=bot.account, asset="USDT", total__gt=0).exists()
