"""A real django-q2 cluster, on the ORM broker and on Redis, runs the platform's tasks."""

import os
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from pipelabs.models import WorkerHeartbeat
from pipelabs.schedules import SCHEDULES
from tests.cluster import cluster, enqueue, tail
from tests.cluster import wait_for as shared_wait_for


@contextmanager
def running_cluster(env: dict, tmp_path):
    """A real qcluster process on the test's database; yields a function returning its log tail."""
    log = tmp_path / "cluster.log"
    with cluster(env, log):
        yield lambda: tail(log)


def wait_for(condition, timeout_s: float = 45) -> bool:
    return shared_wait_for(condition, timeout_s, every_s=0.5)


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
