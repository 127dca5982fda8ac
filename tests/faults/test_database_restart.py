"""PostgreSQL restarted under a running platform: a cluster with paper bots ticking and a web server.

Workers and web recover without anyone acting, no fill is lost or booked twice (each account's
ledger equals its paper venue's balances), and no bot is ticked twice at once. PostgreSQL only,
and only where this machine runs the cluster (``pg_ctlcluster``): the test stops and starts it,
so every other connection on the machine sees the restart too (a few seconds).
``PL_SKIP_PG_RESTART=1`` skips it on a machine shared with other test runs.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
import requests
from django.db import connection, connections
from django.db.models import Sum
from django.utils import timezone

from bots.models import Bot, Order
from bots.services import finish_stop, start_bot, stop_bot
from exchanges.models import PaperBalance, PaperOrder
from ledger.models import BotTrade
from tests.factories import BotFactory
from tests.faults.cluster import FAST, ROOT, cluster, enqueue, tail, ticks, wait_for

pytestmark = pytest.mark.slow

VOLUME = {"daily_volume_usd": "5000", "min_trade_usd": "10", "max_trade_usd": "50", "interval_min_seconds": 3,
          "interval_max_seconds": 4}
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 2, "levels": 1}
DOWN_S = 3  # how long PostgreSQL stays stopped
# Known bug (bots/engine/dispatch.py, routed to the engine's owner): the dispatcher task's loop
# raises on the first OperationalError, so no successor is enqueued (and enqueueing one needs the
# database too); the chain restarts only when the every-minute 'bot-dispatch' schedule next runs after
# its lease lapses (LEASE_S), so a few seconds' restart stops every bot for up to ~90 s.
DISPATCHER_DIES = ("no bot ticked within {seconds:.0f} s of PostgreSQL's return: the dispatcher did not outlive "
                   "the outage (only the every-minute schedule would restart it)")


def pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True,
                   capture_output=True, timeout=60)


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], timeout=10).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(base: str) -> int | None:
    try:
        return requests.get(f"{base}/health", timeout=5).status_code
    except requests.RequestException:
        return None


def paper_balances(account) -> dict:
    return {b.asset: b.available + b.locked for b in PaperBalance.objects.filter(account=account)}


@pytest.fixture
def restartable_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("restarts PostgreSQL: runs on PostgreSQL (CI)")
    if os.environ.get("PL_SKIP_PG_RESTART"):
        pytest.skip("PL_SKIP_PG_RESTART is set")
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql") \
            or connection.settings_dict.get("HOST") not in ("127.0.0.1", "localhost", "", None):
        pytest.skip("needs the local PostgreSQL cluster (pg_ctlcluster)")


def test_postgresql_restart_under_running_workers_and_web(restartable_postgresql, subprocess_env, tmp_path):
    env = {**subprocess_env, **FAST}
    volume = [start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME), actor="op")
              for _ in range(2)]
    maker = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    bots = [*volume, maker]
    from exchanges.registry import connector_for

    before = {}
    for bot in volume:
        connector_for(bot.account).fetch_balance()  # opens the paper account: its starting balances
        before[bot.pk] = paper_balances(bot.account)
    # The production schedule that restarts a dispatcher chain whose last link died.
    from django.core.management import call_command

    call_command("setup_schedules", verbosity=0)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web_log = open(tmp_path / "web.log", "w")
    web = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT,
                           env={**env, "PIPELABS_ENV": "development"}, stdout=web_log, stderr=web_log)
    log = tmp_path / "cluster.log"
    try:
        with cluster(env, log):
            enqueue(env, "bots.tasks.dispatch_task")
            assert wait_for(lambda: all(BotTrade.objects.filter(bot=b).exists() for b in volume)
                            and Order.objects.filter(bot=maker, status="open").exists(), 30), tail(log)
            assert wait_for(lambda: health(base) == 200, 15), (tmp_path / "web.log").read_text()[-2000:]
            connections.close_all()  # this process's connection goes with the restart
            try:
                pg_ctl("stop")
                time.sleep(DOWN_S)
                down_status = health(base)
            finally:
                pg_ctl("start")
                assert wait_for(pg_ready, 30), "PostgreSQL did not come back"
            up_at = timezone.now()
            assert down_status == 503  # the web said so while the database was away
            assert wait_for(lambda: health(base) == 200, 10), (tmp_path / "web.log").read_text()[-2000:]

            def ticked_since_up() -> bool:
                seen = {t["bot_id"] for t in ticks(log) if datetime.fromisoformat(t["started_at"]) > up_at
                        and not t["outcome"].startswith("failed")}
                return all(bot.pk in seen for bot in bots)

            # Bots tick every 2-4 s: each one's next tick is due within seconds of the restart.
            recovered = wait_for(ticked_since_up, 15)
            recovered_after_s = (timezone.now() - up_at).total_seconds()
            for bot in bots:
                stop_bot(bot, actor="op")
                assert wait_for(lambda bot=bot: finish_stop(bot).status == Bot.Status.STOPPED, 30), tail(log)
    finally:
        web.terminate()
        web.wait(10)
        web_log.close()
    # No fill lost or doubled: each account moved exactly by what its bot's ledger says.
    for bot in volume:
        after = paper_balances(bot.account)
        trades = BotTrade.objects.filter(bot=bot)
        bought = trades.filter(side="buy").aggregate(a=Sum("amount"), c=Sum("cost"))
        sold = trades.filter(side="sell").aggregate(a=Sum("amount"), c=Sum("cost"))
        fees = trades.aggregate(f=Sum("fee"))["f"] or 0
        assert trades.exists()
        assert after["SOL"] - before[bot.pk]["SOL"] == (bought["a"] or 0) - (sold["a"] or 0)
        assert after["USDC"] - before[bot.pk]["USDC"] == (sold["c"] or 0) - (bought["c"] or 0) - fees
    # No order sent twice, none the platform does not know.
    for bot in bots:
        sent = list(PaperOrder.objects.filter(account=bot.account).values_list("client_order_id", flat=True))
        assert len(sent) == len(set(sent))
        assert set(sent) <= set(Order.objects.filter(bot=bot).values_list("client_order_id", flat=True))
    # No bot ticked twice: one tick per due time, and a bot's ticks never overlap.
    entries = ticks(log)
    for bot in bots:
        mine = [t for t in entries if t["bot_id"] == bot.pk and t.get("due_at")]
        due = [t["due_at"] for t in mine]
        assert len(due) == len(set(due)), f"bot {bot.pk} ticked twice for one due time"
        spans = sorted((datetime.fromisoformat(t["started_at"]),
                        datetime.fromisoformat(t["started_at"]) + timedelta(milliseconds=t["total_ms"])) for t in mine)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"bot {bot.pk}: a tick began at {start} before the previous ended at {end}"
    assert recovered, DISPATCHER_DIES.format(seconds=recovered_after_s)
