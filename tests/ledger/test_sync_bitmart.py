"""Syncing fills from the fake BitMart through the real ccxt client: bad rows, self-trades, backlogs."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from bots.models import Bot
from exchanges.services import save_credentials
from ledger.models import BotTrade, PnlState, QuarantinedFill, TradeSyncCursor
from ledger.services import sync_trades
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.bitmart import FakeBitmart

D = Decimal
KEY, SECRET, MEMO = "bm-key-sync-4b1d", "bm-secret-sync-8e2f", "bm-memo-sync"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=dt_timezone.utc)
T0_MS = int(T0.timestamp() * 1000)

pytestmark = pytest.mark.django_db


@pytest.fixture
def venue(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # Months of quiet between the test dates and today cost a dozen requests: not the throttle's test.
    settings.EXCHANGE_RATE_LIMITS = {"bitmart": {"account": "1000/s", "ip": "1000/s"}}
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        yield fake


def bitmart_bot(fake, created_at=T0):
    account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": fake.url})
    save_credentials(account, api_key=KEY, secret=SECRET, memo=MEMO)
    bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
    Bot.objects.filter(pk=bot.pk).update(created_at=created_at)
    bot.refresh_from_db()
    return bot


def test_one_bad_fill_is_quarantined_and_the_rest_of_its_page_is_booked(venue):
    bot = bitmart_bot(venue)
    venue.record_trade("SHARP_USDT", "buy", "100", "0.0123", at_ms=T0_MS + 1_000)
    bad = venue.record_trade("SHARP_USDT", "hold", "50", "0.0123", at_ms=T0_MS + 2_000)  # no such side
    venue.record_trade("SHARP_USDT", "sell", "40", "0.0125", at_ms=T0_MS + 3_000)

    result = sync_trades(bot)

    assert result.new == 2 and result.quarantined == 1
    assert sorted(t.side for t in BotTrade.objects.filter(bot=bot)) == ["buy", "sell"]
    (kept,) = QuarantinedFill.objects.filter(bot=bot)
    assert kept.exchange_trade_id == bad["tradeId"] and kept.code == "trade_side" and "hold" in kept.reason
    assert kept.raw["amount"] == "50" and kept.raw["side"] == "hold" and kept.account_id == bot.account_id
    cursor = TradeSyncCursor.objects.get(bot=bot)
    assert cursor.last_trade_at == T0 + timedelta(seconds=3) and cursor.last_error == ""
    # The next sync re-reads the overlap: the bad fill is kept once, nothing is booked twice.
    venue.record_trade("SHARP_USDT", "buy", "10", "0.0124", at_ms=T0_MS + 4_000)
    assert sync_trades(bot).new == 1
    assert QuarantinedFill.objects.filter(bot=bot).count() == 1
    assert PnlState.objects.get(bot=bot).trade_count == 3


def test_both_sides_of_a_self_trade_are_booked(venue):
    bot = bitmart_bot(venue)
    venue.record_trade("SHARP_USDT", "buy", "100", "0.0120", at_ms=T0_MS + 1_000)
    venue.record_trade("SHARP_USDT", "buy", "30", "0.0123", at_ms=T0_MS + 2_000, trade_id="777")
    venue.record_trade("SHARP_USDT", "sell", "30", "0.0123", at_ms=T0_MS + 2_000, trade_id="777")

    assert sync_trades(bot).new == 3
    assert sync_trades(bot).new == 0  # re-read: neither side is booked twice

    pair = BotTrade.objects.filter(bot=bot, exchange_trade_id="777")
    assert sorted(pair.values_list("side", flat=True)) == ["buy", "sell"]
    state = PnlState.objects.get(bot=bot)
    assert state.trade_count == 3 and state.position == D("100")


def backlog(fake, count, *, every_ms, start_ms=T0_MS + 60_000):
    for i in range(count):
        fake.record_trade("SHARP_USDT", "buy" if i % 3 else "sell", "1", "0.0123", at_ms=start_ms + i * every_ms)


def test_a_backlog_of_twelve_thousand_fills_drains_in_one_sync(venue):
    bot = bitmart_bot(venue, created_at=T0)
    backlog(venue, 12_000, every_ms=7_000)  # ~23 hours, ~500 an hour: full 1-hour windows
    venue.record_trade("SHARP_USDT", "buy", "5", "0.0123", at_ms=T0_MS + 40 * 86_400_000)  # after a quiet month

    result = sync_trades(bot)

    assert result.new == BotTrade.objects.filter(bot=bot).count() == 12_001
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == T0 + timedelta(days=40)
    queries = venue.requests_to("/spot/v4/query/trades")
    assert all(q.body["endTime"] > q.body["startTime"] and q.body["limit"] == 200 for q in queries)
    assert len(queries) < 130  # ~80 windows of ~150: they adapt to the density; no walk back from now
    assert PnlState.objects.get(bot=bot).trade_count == 12_001


@pytest.mark.parametrize("inclusive", [True, False])
def test_fills_on_window_edges_are_read_whether_end_time_is_inclusive_or_not(venue, inclusive):
    venue.end_time_inclusive = inclusive
    bot = bitmart_bot(venue)
    since_ms = T0_MS - 5 * 60_000  # the first sync reads from a little before the bot was created
    edges = [since_ms + n * 3_600_000 for n in range(1, 6)] + [since_ms + 3 * 3_600_000 + 1]
    for i, at_ms in enumerate(edges):
        venue.record_trade("SHARP_USDT", "buy", str(i + 1), "0.0123", at_ms=at_ms)
    venue.record_trade("SHARP_USDT", "sell", "1", "0.0123", at_ms=edges[0], trade_id="900000000000000001")

    assert sync_trades(bot).new == len(edges) + 1


def test_a_sync_cut_short_keeps_what_it_drained_and_the_next_one_finishes(venue):
    bot = bitmart_bot(venue)
    backlog(venue, 2_000, every_ms=1_000)

    def fail_after_two_pages(result):
        if result.pages == 2:
            venue.inject("ip_forbidden", path="/spot/v4/query/trades", times=None)

    with pytest.raises(Exception):
        sync_trades(bot, progress=fail_after_two_pages)
    stored = BotTrade.objects.filter(bot=bot).count()
    assert 900 < stored < 2_000  # two pages of 500, the boundary fill read by both
    cursor = TradeSyncCursor.objects.get(bot=bot)
    assert cursor.last_trade_at == max(t.traded_at for t in BotTrade.objects.filter(bot=bot)) and cursor.last_error

    venue.clear_faults()
    sync_trades(bot)
    assert BotTrade.objects.filter(bot=bot).count() == 2_000
