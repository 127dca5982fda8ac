"""Two clusters, as on two machines: separate processes on one Redis broker and one database. Each
bot ticks once per interval: never twice for one due time, never two ticks at once, and no interval
skipped. (The ORM-broker variant is in tests/bots/engine/test_cluster_engine.py.)

Each cluster has its own name (Q_CLUSTER_NAME, its queue) and runs its own dispatcher, which feeds
that queue: both dispatchers claim due bots by the same conditional UPDATE, so both clusters take
ticks (the work is shared) and the UPDATE alone keeps a bot to one tick at a time. Clusters sharing
one name share one queue and one dispatcher; that layout is the ORM-broker test's.
"""

import os
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection

from bots.models import Bot
from bots.services import start_bot
from exchanges.models import PaperOrder
from tests.factories import BotFactory
from tests.faults.cluster import FAST, cluster, enqueue, tail, ticks, wait_for

pytestmark = pytest.mark.slow

INTERVAL_S = 2
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": INTERVAL_S, "levels": 1}
RUN_S = 6  # of ticking counted, after both clusters are up


def test_two_clusters_on_redis_tick_each_bot_once_per_interval(subprocess_env, redis_url, tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("two clusters writing one database at once: PostgreSQL (CI)")
    base = {**subprocess_env, **FAST, "REDIS_URL": redis_url}
    names = [f"pl-faults-{name}-{os.getpid()}" for name in ("a", "b")]
    envs = [{**base, "Q_CLUSTER_NAME": name} for name in names]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    bots = [start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
            for _ in range(4)]
    with cluster(envs[0], logs[0]), cluster(envs[1], logs[1]):
        for env in envs:  # each machine starts its own dispatcher chain
            enqueue(env, "bots.tasks.dispatch_task")
        assert wait_for(lambda: {t["bot_id"] for log in logs for t in ticks(log)} >= {b.pk for b in bots}, 20), \
            tail(logs[0]) + tail(logs[1])
        counted_from = datetime.now().astimezone()
        time.sleep(RUN_S)
        enqueue(envs[1], "bots.tasks.dispatch_task")  # a second start while one runs changes nothing
        time.sleep(1)
    seen = [(entry, log.name) for log in logs for entry in ticks(log)]
    for bot in bots:
        mine = sorted((e for e, _ in seen if e["bot_id"] == bot.pk), key=lambda e: e["started_at"])
        due = [e["due_at"] for e in mine if e.get("due_at")]
        assert len(due) == len(set(due)), f"bot {bot.pk} ticked twice for one due time"
        starts = [datetime.fromisoformat(e["started_at"]) for e in mine]
        ends = [s + timedelta(milliseconds=e["total_ms"]) for s, e in zip(starts, mine)]
        for end, start in zip(ends, starts[1:]):
            assert start >= end, f"bot {bot.pk}: two ticks at once ({start} before {end})"
        counted = [s for s in starts if s >= counted_from]
        # Once per interval: each gap is one interval (plus the dispatcher's pass and the queue's
        # latency), never shorter (a double) and never two intervals (a skip).
        gaps = [(b - a).total_seconds() for a, b in zip(counted, counted[1:])]
        assert len(counted) >= RUN_S / INTERVAL_S - 2, (bot.pk, gaps)
        assert all(INTERVAL_S - 0.25 <= gap < 2 * INTERVAL_S for gap in gaps), (bot.pk, gaps)
        assert PaperOrder.objects.filter(account=bot.account, status="open").count() <= 2  # nothing placed twice
    per_cluster = [sum(1 for _, name in seen if name == log.name) for log in logs]
    assert all(per_cluster), f"both clusters take ticks: {per_cluster}"
