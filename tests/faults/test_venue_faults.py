"""A venue that misbehaves while bots run: the bots say so, back off, keep what they know, resume.

The venue is the BitMart wire-format fake (tests/fakes/bitmart.py) reached through ccxt and the
guard, as in production. Five faults (a hang, HTTP 500, garbage JSON, HTTP 429, a connection cut
before the answer) are driven through the real tick function in process; the hang is also run
under a real django-q2 cluster with the API answering beside it (test_venue_hang_under_a_cluster).
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import start_bot
from exchanges.services import save_credentials
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.bitmart import FakeBitmart

KEY, SECRET, MEMO = "fault-key-000001", "fault-secret-0000000000000001", "fault-memo"
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}
# Each fault and the words the operator reads in the bot's health_message.
FAULTS = {"hang": "no answer within the time limit", "http500": "500 Internal Server Error",
          "garbage": "not JSON", "http429": "too many requests", "drop": "closed before an answer"}
# Every call's timeout, shortened so a hung venue costs a tick ~1 s instead of up to 15 s per try
# (the production values are in exchanges/guard.py).
FAST_TIMEOUTS_S = {kind: 0.4 for kind in ("load_markets", "fetch_balance", "fetch_ticker", "fetch_order_book",
                                           "create_order", "cancel_order", "fetch_open_orders", "fetch_order",
                                           "fetch_my_trades")}
NO_BUDGET = {"bitmart": {"account": None, "ip": None}}
ATTEMPTS = 4  # exchanges/guard.py RetryPolicy.attempts: one failing read is tried at most this often


@pytest.fixture(autouse=True)
def fast_venue_calls(settings, monkeypatch):
    """Short call timeouts and retry pauses (the same attempts): a failing tick takes ~1 s, not ~20.
    The venue's request budget is lifted: its waits (~1.4 s a tick) are not what is tested here."""
    import functools

    from exchanges import guard

    settings.EXCHANGE_TIMEOUTS_S = FAST_TIMEOUTS_S
    settings.EXCHANGE_RATE_LIMITS = NO_BUDGET
    monkeypatch.setattr(guard, "RetryPolicy", functools.partial(guard.RetryPolicy, base_delay_s=0.05,
                                                                max_delay_s=0.2))


@pytest.fixture
def venue():
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        yield fake


def bitmart_bot(url: str) -> Bot:
    account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": url})
    save_credentials(account, api_key=KEY, secret=SECRET, memo=MEMO)
    return start_bot(BotFactory(account=account, bot_type=Bot.Type.SPREAD, symbol="SHARP/USDT", config=SPREAD),
                     actor="op")


def tick_now(bot: Bot) -> tick.TickReport:
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now())
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)
    assert token, "the bot's lease is held: a tick did not release it"
    return tick.run(bot.pk, token)


def live_orders(bot: Bot) -> set[tuple[str, str]]:
    return set(Order.objects.filter(bot=bot, status__in=Order.LIVE).values_list("client_order_id", "exchange_order_id"))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_bot_shows_a_venue_fault_backs_off_keeps_its_state_and_resumes(db, venue, fault):
    bot = bitmart_bot(venue.url)
    first = tick_now(bot)
    assert first.placed == 2, first.outcome  # a bid and an ask rest on the venue
    bot.refresh_from_db()
    config, orders = dict(bot.config), live_orders(bot)
    baselines = {k: bot.state[k] for k in ("session_start_price", "reconciled_for", "market")}
    assert len(orders) == 2 and bot.health_status == Bot.Health.OK

    venue.inject(fault, times=None)  # every request, until cleared
    for failures in (1, 2):  # below BOT_MAX_FAILURES: the bot stays running
        sent = len(venue.requests)
        before = timezone.now()
        report = tick_now(bot)
        bot.refresh_from_db()
        assert report.outcome.startswith("failed"), report.outcome
        assert bot.status == Bot.Status.RUNNING and bot.failures == failures
        assert bot.health_status == Bot.Health.ERROR
        assert FAULTS[fault].lower() in bot.health_message.lower(), bot.health_message
        # Backs off: the next tick waits longer after each failure, and one failing tick tried the
        # venue a bounded number of times (no tight retry loop).
        assert bot.next_tick_at >= before + timedelta(seconds=5 * failures - 1)
        assert 1 <= len(venue.requests) - sent <= ATTEMPTS, [r.path for r in venue.requests[sent:]]
        # Keeps its state: config, baselines and orders as they were; nothing placed blind.
        assert bot.config == config and live_orders(bot) == orders
        assert {k: bot.state[k] for k in baselines} == baselines
        assert Order.objects.filter(bot=bot).count() == 2

    venue.clear_faults()
    report = tick_now(bot)
    bot.refresh_from_db()
    assert not report.outcome.startswith("failed"), report.outcome
    assert bot.status == Bot.Status.RUNNING and bot.failures == 0 and bot.health_status != Bot.Health.ERROR
    assert live_orders(bot) == orders  # the same two orders still rest: none doubled, none lost
    assert len(venue._visible()) == 2
    assert {k: bot.state[k] for k in baselines} == baselines
    # And it trades again: the market moves 5 %, the bot re-quotes around the new mid.
    venue.set_book("SHARP_USDT", bids=[["0.012960", "50000"]], asks=[["0.012980", "50000"]])
    report = tick_now(bot)
    assert report.cancelled == 2 and report.placed >= 1, report.outcome
    assert live_orders(bot) and not live_orders(bot) & orders


def test_a_venue_down_for_longer_than_three_ticks_needs_no_operator(db, settings, venue):
    bot = bitmart_bot(venue.url)
    assert tick_now(bot).placed == 2
    venue.inject("http500", times=None)
    waits = []
    for _ in range(settings.BOT_MAX_FAILURES + 2):
        before = timezone.now()
        tick_now(bot)
        bot.refresh_from_db()
        waits.append((bot.next_tick_at - before).total_seconds())
    assert bot.status == Bot.Status.RUNNING, f"{bot.status}: {bot.error_message}"
    assert "retrying in" in bot.health_message
    assert [round(w / 5) * 5 for w in waits] == [5, 10, 20, 40, 60]  # backs off, capped
    venue.clear_faults()
    assert not tick_now(bot).outcome.startswith("failed")
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RUNNING and bot.failures == 0


def test_a_venue_down_past_the_transient_limit_puts_the_bot_in_error(db, settings, venue):
    settings.BOT_MAX_TRANSIENT_FAILURES = 4
    bot = bitmart_bot(venue.url)
    venue.inject("http500", times=None)
    for _ in range(4):
        tick_now(bot)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ERROR and bot.next_tick_at is None
    assert "retrying" not in bot.error_message and bot.error_message


@pytest.mark.slow
def test_venue_hang_under_a_cluster_shows_backs_off_and_the_api_answers_from_snapshots(subprocess_env, tmp_path):
    """Two bots ticking in a real cluster; their venue hangs; the API answers as usual meanwhile."""
    import json

    from tests.api import client_with_token
    from tests.faults.cluster import FAST, cluster, enqueue, tail, wait_for

    env = {**subprocess_env, **FAST, "PL_TEST_EXCHANGE_TIMEOUTS_S": json.dumps(FAST_TIMEOUTS_S),
           "EXCHANGE_RATE_LIMITS": json.dumps(NO_BUDGET)}
    log = tmp_path / "cluster.log"
    client, api = client_with_token()
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        bots = []
        for _ in range(2):
            account = ExchangeAccountFactory(client=client, exchange="bitmart", options={"api_url": fake.url})
            save_credentials(account, api_key=KEY, secret=SECRET, memo=MEMO)
            bots.append(start_bot(BotFactory(client=client, account=account, bot_type=Bot.Type.SPREAD,
                                             symbol="SHARP/USDT", config={**SPREAD, "poll_interval_seconds": 2}),
                                  actor="op"))

        def fresh():
            return [Bot.objects.get(pk=bot.pk) for bot in bots]

        def api_latency_s() -> float:
            slowest = 0.0
            for path in [f"/bots/{bots[0].pk}", "/bots?include_balances=true"] * 3:
                started = time.monotonic()
                answer = api.get(path)
                slowest = max(slowest, time.monotonic() - started)
                assert answer.status_code == 200, answer.content[:300]
            return slowest

        with cluster(env, log):
            enqueue(env, "bots.tasks.dispatch_task")
            assert wait_for(lambda: all(len(live_orders(bot)) == 2 for bot in bots), 30), tail(log)
            usual_s = api_latency_s()
            fake.inject("hang", times=None)
            hung_at, sent = timezone.now(), len(fake.requests)
            assert wait_for(lambda: all(b.failures >= 1 for b in fresh()), 15), tail(log)
            hung_s = api_latency_s()  # while both bots' ticks wait on the venue
            for bot in fresh():
                assert bot.status == Bot.Status.RUNNING and bot.health_status == Bot.Health.ERROR
                assert FAULTS["hang"] in bot.health_message and bot.next_tick_at > timezone.now()
            hung_requests = len(fake.requests) - sent
            fake.clear_faults()
            cleared_at = timezone.now()
            # The back-off after one failure is 5 s (2 s after two); then the next tick trades again.
            assert wait_for(lambda: all(b.failures == 0 and b.heartbeat_at > cleared_at for b in fresh()), 20), \
                tail(log)
    for bot in fresh():
        assert bot.status == Bot.Status.RUNNING and bot.health_status != Bot.Health.ERROR
        assert len(live_orders(bot)) == 2 and Order.objects.filter(bot=bot).count() == 2  # nothing doubled
    failed_ticks = [t for t in ticks_since(log, hung_at) if t["outcome"].startswith("failed")]
    assert failed_ticks and hung_requests <= ATTEMPTS * len(failed_ticks) + 2 * len(bots)  # no tight loop
    # The API reads snapshots: a hung venue does not slow it (a loaded CI machine gets slack).
    assert hung_s < max(1.0, 3 * usual_s), (usual_s, hung_s)


def ticks_since(log, moment):
    from datetime import datetime

    from tests.faults.cluster import ticks

    return [t for t in ticks(log) if datetime.fromisoformat(t["started_at"]) >= moment]
