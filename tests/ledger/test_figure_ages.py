"""Every figure says how old it is: marks, USD rates and balances have age limits, and the freshest source wins."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import BalanceRefresh, BalanceSnapshot, PriceSnapshot
from ledger.selectors import balances_for_bot, pnl_for_bot, volume_for_bot
from ledger.services import ingest_trades
from pipelabs.checks import check_limits_and_queue
from tests.factories import BotFactory
from tests.ledger.conftest import T0, fill

pytestmark = pytest.mark.django_db
D = Decimal
NOW = T0 + timedelta(days=40)


def price(exchange, symbol, value, at):
    return PriceSnapshot.objects.create(exchange=exchange, symbol=symbol, price=D(value), source="mid", taken_at=at)


@pytest.fixture
def sol_bot():
    bot = BotFactory(symbol="SHARP/SOL", account__exchange="coinstore")
    ingest_trades(bot, [fill("b", "buy", 10, "0.1", symbol="SHARP/SOL", fee_currency="SOL", at=NOW - timedelta(days=35)),
                        fill("s", "sell", 10, "0.2", symbol="SHARP/SOL", fee_currency="SOL",
                             at=NOW - timedelta(days=35) + timedelta(minutes=1))])
    return bot


def test_a_month_old_rate_at_the_bots_venue_does_not_beat_a_fresh_one_elsewhere(sol_bot, settings):
    settings.USD_RATE_MAX_AGE_S = 900
    price("coinstore", "SOL/USDT", "100", NOW - timedelta(days=30))
    price("bitmart", "SOL/USDT", "150", NOW - timedelta(seconds=20))
    pnl = pnl_for_bot(sol_bot, now=NOW)
    assert pnl["usd_rate"]["price"] == D("150") and pnl["usd_rate"]["is_stale"] is False
    assert pnl["usd_rate"]["age_s"] == 20
    assert pnl["usd"]["realized"] == D("150")
    volume = volume_for_bot(sol_bot, "all", now=NOW)
    assert volume["usd_rate"]["price"] == D("150")


def test_the_bots_venue_wins_while_fresh(sol_bot):
    price("coinstore", "SOL/USDT", "149", NOW - timedelta(seconds=60))
    price("bitmart", "SOL/USDT", "150", NOW - timedelta(seconds=5))
    assert pnl_for_bot(sol_bot, now=NOW)["usd_rate"]["price"] == D("149")


def test_a_rate_past_its_limit_is_used_but_flagged_stale(sol_bot, settings):
    settings.USD_RATE_MAX_AGE_S = 60
    price("coinstore", "SOL/USDC", "140", NOW - timedelta(seconds=61))
    rate = pnl_for_bot(sol_bot, now=NOW)["usd_rate"]
    assert (rate["price"], rate["age_s"], rate["is_stale"]) == (D("140"), 61, True)


def test_a_stale_mark_gives_way_to_a_newer_last_trade_and_both_say_their_age(settings):
    settings.MARK_MAX_AGE_S = 300
    bot = BotFactory(symbol="SHARP/USDT")
    venue = f"paper:{bot.account_id}"
    price(venue, "SHARP/USDT", "9", NOW - timedelta(days=30))
    ingest_trades(bot, [fill("b", "buy", 10, "1", at=NOW - timedelta(hours=1))])
    mark = pnl_for_bot(bot, now=NOW)["mark"]
    assert (mark["price"], mark["source"], mark["age_s"], mark["is_stale"]) == (D("1"), "last_trade", 3600, True)
    price_row = PriceSnapshot.objects.get(exchange=venue)
    price_row.taken_at = NOW - timedelta(seconds=10)
    price_row.save()
    mark = pnl_for_bot(bot, now=NOW)["mark"]
    assert (mark["price"], mark["source"], mark["age_s"], mark["is_stale"]) == (D("9"), "mid", 10, False)


def test_balances_past_their_limit_are_stale_even_when_no_refresh_failed(settings):
    settings.BALANCE_MAX_AGE_S = 300
    bot = BotFactory(symbol="SHARP/USDT")
    confirmed = NOW - timedelta(seconds=301)
    BalanceRefresh.objects.create(account=bot.account, last_success_at=confirmed, last_attempt_at=confirmed)
    BalanceSnapshot.objects.create(account=bot.account, asset="USDT", available=5, locked=0, total=5, usd_value=5,
                                   taken_at=confirmed - timedelta(days=1), confirmed_at=confirmed)
    balances = balances_for_bot(bot, now=NOW)
    assert (balances["age_s"], balances["is_stale"]) == (301, True)
    assert "BALANCE_MAX_AGE_S" in balances["error"]
    fresh = balances_for_bot(bot, now=confirmed + timedelta(seconds=300))
    assert (fresh["is_stale"], fresh["error"], fresh["changed_at"]) == (False, "", confirmed - timedelta(days=1))


@pytest.mark.parametrize("name", ["MARK_MAX_AGE_S", "USD_RATE_MAX_AGE_S", "BALANCE_MAX_AGE_S", "PRUNE_AFTER_DAYS"])
def test_age_limits_must_be_positive(settings, name):
    setattr(settings, name, 0)
    assert any(name in error.msg for error in check_limits_and_queue())
