"""The engine in real django-q2 clusters on the paper venue: trading, stopping, a worker killed
mid-tick, and two clusters on one database."""

import os
import signal
import time
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from bots.engine import dispatch
from bots.models import Bot, Order
from bots.services import finish_stop, start_bot, stop_bot
from exchanges.models import PaperBalance, PaperOrder
from ledger.models import BotTrade
from tests.cluster import cluster as run_cluster
from tests.cluster import enqueue, ticks, wait_for
from tests.factories import BotFactory, ExchangeAccountFactory

WORKER = Path(__file__).with_name("faulty_worker.py")
D = Decimal
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}
VOLUME = {"daily_volume_usd": "5000", "min_trade_usd": "10", "max_trade_usd": "50", "interval_min_seconds": 3,
          "interval_max_seconds": 5}
# Short timeouts, so a killed tick's lease lapses in seconds (lease = Q_TIMEOUT_S + margin).
FAST = {"Q_TIMEOUT_S": "8", "Q_RETRY_S": "12", "BOT_LEASE_MARGIN_S": "2", "BOT_MIN_INTERVAL_S": "1",
        "BOT_LONGEST_VENUE_CALL_S": "2", "Q_WORKERS": "2", "LOG_FORMAT": "json",
        # Short dispatcher loops (each hands over to the next), so a cluster stops in seconds.
        "BOT_DISPATCH_RUN_S": "3"}
pytestmark = pytest.mark.slow


cluster = partial(run_cluster, worker=WORKER)


def paper_balances(account) -> dict:
    return {b.asset: b.available + b.locked for b in PaperBalance.objects.filter(account=account)}


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_cluster_trades_books_the_venues_fills_and_stop_cancels(subprocess_env, broker, tmp_path, request):
    env = {**subprocess_env, **FAST, "Q_TIMEOUT_S": "40", "Q_RETRY_S": "60"}
    if broker == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        env["Q_CLUSTER_NAME"] = f"pipelabs-engine-{os.getpid()}"
    volume = start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME), actor="op")
    maker = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    from exchanges.registry import connector_for
    connector_for(volume.account).fetch_balance()  # opens the paper account: its starting balances
    before = paper_balances(volume.account)
    with cluster(env, tmp_path / "cluster.log"):
        enqueue(env, "bots.tasks.dispatch_task")
        assert wait_for(lambda: BotTrade.objects.filter(bot=volume).count() >= 2
                        and Order.objects.filter(bot=maker, status="open").exists(), 60), \
            (tmp_path / "cluster.log").read_text()[-3000:]
        for bot in (volume, maker):
            stop_bot(bot, actor="op")  # finishes now, or once the tick holding the bot is done
            assert wait_for(lambda bot=bot: finish_stop(bot).status == Bot.Status.STOPPED, 30)
    after = paper_balances(volume.account)
    trades = BotTrade.objects.filter(bot=volume)
    bought = trades.filter(side="buy").aggregate(a=Sum("amount"), c=Sum("cost"))
    sold = trades.filter(side="sell").aggregate(a=Sum("amount"), c=Sum("cost"))
    fees = trades.aggregate(f=Sum("fee"))["f"] or 0
    assert after["SOL"] - before["SOL"] == (bought["a"] or 0) - (sold["a"] or 0)
    assert after["USDC"] - before["USDC"] == (sold["c"] or 0) - (bought["c"] or 0) - fees
    assert not PaperOrder.objects.filter(account=maker.account, status="open").exists()


def _drive(env, until, timeout_s: float) -> bool:
    """Dispatch from this process (as the schedule's loop would) until ``until()`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dispatch.dispatch_once()
        if until():
            return True
        time.sleep(0.3)
    return until()


def test_worker_killed_mid_tick_resumes_without_a_duplicate_order(subprocess_env, tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("the test process dispatches beside the cluster: PostgreSQL (CI) for concurrent writers")
    hang = tmp_path / "hang"
    hang.write_text("1")
    env = {**subprocess_env, **FAST, "PL_TEST_HANG_FILE": str(hang)}
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    pid_file = Path(str(hang) + ".pid")
    with cluster(env, tmp_path / "cluster.log"):
        assert _drive(env, pid_file.exists, 30), (tmp_path / "cluster.log").read_text()[-3000:]
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # mid-tick: one order sent, its answer lost
        killed_at = timezone.now()
        lease_s = int(FAST["Q_TIMEOUT_S"]) + int(FAST["BOT_LEASE_MARGIN_S"])

        def resumed():
            bot.refresh_from_db()
            return bot.heartbeat_at and bot.heartbeat_at > killed_at and \
                Order.objects.filter(bot=bot, status="open").count() == 2

        assert _drive(env, resumed, lease_s + 2 * 5 + 10), (tmp_path / "cluster.log").read_text()[-3000:]
        resumed_after_s = (bot.heartbeat_at - killed_at).total_seconds()
    assert resumed_after_s <= lease_s + 2 * 5
    venue = PaperOrder.objects.filter(account=bot.account)
    assert venue.filter(status="open").count() == 2  # one bid, one ask: nothing doubled
    assert set(venue.filter(status="open").values_list("side", flat=True)) == {"buy", "sell"}
    ours = set(Order.objects.filter(bot=bot).values_list("client_order_id", flat=True))
    assert set(venue.values_list("client_order_id", flat=True)) <= ours  # every venue order is recorded


def test_two_clusters_on_one_database_never_tick_one_bot_at_once(subprocess_env, tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("two clusters on one database: PostgreSQL (CI)")
    env = {**subprocess_env, **FAST, "Q_TIMEOUT_S": "30", "Q_RETRY_S": "40", "PL_TEST_SLOW_BOOK_S": "0.4",
           "BOT_MIN_INTERVAL_S": "0.5"}
    bots = [start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC",
                                 config={**SPREAD, "poll_interval_seconds": 1}), actor="op") for _ in range(3)]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with cluster(env, logs[0]), cluster(env, logs[1]):
        for _ in range(3):  # dispatchers in both clusters, racing for the dispatcher's and the bots' leases
            enqueue(env, "bots.tasks.dispatch_task")
        assert wait_for(lambda: sum(len(ticks(log)) for log in logs) >= 20, 40), logs[0].read_text()[-3000:]
        time.sleep(5)
    seen = [(entry, log.name) for log in logs for entry in ticks(log)]
    assert {name for _, name in seen} == {"a.log", "b.log"}  # both clusters ticked
    for bot in bots:
        spans = sorted(
            (datetime.fromisoformat(entry["started_at"]),
             datetime.fromisoformat(entry["started_at"]) + timedelta(milliseconds=entry["total_ms"]))
            for entry, _ in seen if entry["bot_id"] == bot.pk)
        assert len(spans) >= 3
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"bot {bot.pk}: a tick began at {start} before the previous ended at {end}"
    for bot in bots:  # and so nothing was placed twice
        assert PaperOrder.objects.filter(account=bot.account, status="open").count() <= 2
