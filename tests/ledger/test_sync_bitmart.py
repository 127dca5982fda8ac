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
