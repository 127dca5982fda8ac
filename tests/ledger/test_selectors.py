"""Reading P&L, volume and stats: Decimals only, marks that say their source, constant query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import PriceSnapshot
from ledger.selectors import (
    NO_USD,
    pnl_for_bot,
    pnl_for_bots,
    stats_for_bot,
    summaries_for_bots,
    volume_for_bot,
    volume_for_bots,
)
from ledger.services import ingest_trades
from tests.factories import BotFactory
from tests.ledger.conftest import T0, fill

pytestmark = pytest.mark.django_db
D = Decimal
NOW = T0 + timedelta(hours=2, minutes=30)


def no_floats(value):
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(no_floats(v) for v in value)
    return not isinstance(value, float)


def snapshot(symbol, price, source="mid", exchange="paper", at=NOW):
    return PriceSnapshot.objects.create(exchange=exchange, symbol=symbol, price=D(price), source=source, taken_at=at)


@pytest.fixture
def traded(bot):
    ingest_trades(bot, [
        fill("b1", "buy", 10, "1.0", fee="0.01", fee_currency="USDT", minutes=0),
        fill("b2", "buy", 10, "1.2", fee="0.012", fee_currency="USDT", minutes=60),
        fill("s1", "sell", 15, "1.5", fee="0.0225", fee_currency="USDT", minutes=120),
    ])
    return bot


def test_pnl_marks_open_lots_at_the_stored_mid_and_says_so(traded):
    snapshot("SHARP/USDT", "2", exchange=f"paper:{traded.account_id}")  # each paper account has its own price
    pnl = pnl_for_bot(traded, now=NOW)
    # realized: 22.5 − 0.0225 − (10.01 + 5 × 12.012 / 10) = 22.4775 − 16.016
    assert pnl["realized"] == D("6.4615")
    # 5 left at a basis of 6.006, marked at 2
    assert pnl["unrealized"] == D("3.994")
    assert pnl["total"] == D("10.4555")
    assert pnl["mark"] == {"price": D("2"), "source": "mid", "taken_at": NOW, "age_s": 0, "is_stale": False}
    assert pnl["usd"] == {"realized": D("6.4615"), "unrealized": D("3.994"), "total": D("10.4555")}
    assert pnl["usd_rate"]["source"] == "stablecoin"
    assert pnl["fees"] == D("0.0445")
    assert no_floats(pnl)
    assert all(isinstance(pnl[k], Decimal) for k in ("realized", "unrealized", "total", "position", "fees"))


def test_pnl_falls_back_to_the_last_trade_price_and_says_when(traded):
    pnl = pnl_for_bot(traded, now=NOW)
    assert pnl["mark"] == {"price": D("1.5"), "source": "last_trade", "taken_at": T0 + timedelta(minutes=120),
                           "age_s": 1800, "is_stale": True}
    assert pnl["unrealized"] == D("1.494")


def test_pnl_in_usd_needs_a_stored_quote_price():
    bot = BotFactory(symbol="SHARP/SOL")
    ingest_trades(bot, [fill("b", "buy", 10, "0.1", fee_currency="SOL", symbol="SHARP/SOL"),
                        fill("s", "sell", 10, "0.2", minutes=1, symbol="SHARP/SOL")])
    pnl = pnl_for_bot(bot)
    assert pnl["realized"] == D("1")
    assert pnl["usd"] is None
    assert pnl["usd_reason"] == NO_USD.format(quote="SOL")
    snapshot("SOL/USDT", "150", source="ticker", exchange="coinstore")
    pnl = pnl_for_bot(bot)
    assert pnl["usd"]["realized"] == D("150")
    assert pnl["usd_rate"]["source"] == "ticker"


def test_a_bot_with_no_trades_reads_as_zero(bot):
    pnl = pnl_for_bot(bot)
    assert (pnl["realized"], pnl["unrealized"], pnl["position"], pnl["trade_count"]) == (0, 0, 0, 0)
    assert pnl["mark"] is None


def test_volume_sums_the_window_in_base_quote_and_usd(traded):
    ingest_trades(traded, [fill("old", "buy", 100, 1, minutes=-60 * 30)])  # 30 h before T0
    volume = volume_for_bot(traded, "24h", now=NOW)
    assert volume["since"] == NOW - timedelta(hours=24)
    assert (volume["trade_count"], volume["buy_count"], volume["sell_count"]) == (3, 2, 1)
    assert volume["base_volume"] == D("35")
    assert volume["quote_volume"] == D("44.5")
    assert volume["usd_volume"] == D("44.5")
    assert volume["avg_buy_price"] == D("1.1")
    assert volume["avg_sell_price"] == D("1.5")
    assert volume["fees"] == D("0.0445")
    assert no_floats(volume)
    assert volume_for_bot(traded, "all", now=NOW)["trade_count"] == 4
    assert volume_for_bot(traded, "7d", now=NOW)["trade_count"] == 4
    assert volume_for_bot(traded, timedelta(hours=1), now=NOW)["trade_count"] == 1
    empty = volume_for_bot(traded, "24h", now=NOW + timedelta(days=3))
    assert (empty["trade_count"], empty["avg_buy_price"], empty["quote_volume"]) == (0, None, 0)


def test_volume_says_why_it_has_no_usd_figure():
    bot = BotFactory(symbol="SHARP/SOL")
    ingest_trades(bot, [fill("b", "buy", 10, "0.1", fee_currency="SOL", symbol="SHARP/SOL")])
    volume = volume_for_bot(bot, "all")
    assert volume["usd_volume"] is None and volume["usd_reason"] == NO_USD.format(quote="SOL")


def test_unknown_window_is_refused(bot):
    with pytest.raises(ValueError, match="Unknown window"):
        volume_for_bot(bot, "1y")


def test_stats_give_every_window_and_a_daily_pnl_series(traded):
    ingest_trades(traded, [fill("next-day", "sell", 5, 2, minutes=60 * 24)])
    stats = stats_for_bot(traded, now=NOW + timedelta(days=1), days=3)
    assert set(stats["windows"]) == {"24h", "7d", "30d", "all"}
    assert stats["windows"]["all"]["trade_count"] == 4
    assert stats["windows"]["24h"]["trade_count"] == 1
    series = stats["daily"]
    assert [d["day"].isoformat() for d in series] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert [d["realized_pnl"] for d in series] == [D(0), D("6.4615"), D("3.994")]
    assert sum(d["realized_pnl"] for d in series) == stats["pnl"]["realized"]
    assert no_floats(stats)


def test_reading_pnl_and_24h_volume_costs_the_same_queries_for_3_or_300_trades(bot, django_assert_num_queries):
    ingest_trades(bot, [fill("a", "buy", 1, 1), fill("b", "sell", 1, 2, minutes=1), fill("c", "buy", 1, 1, minutes=2)])
    bot = type(bot).objects.select_related("account").get(pk=bot.pk)
    with django_assert_num_queries(5):  # bot-less: state, prices; volume: edge trades, hourly rows, prices
        pnl_for_bot(bot)
        volume_for_bot(bot, "24h", now=NOW)
    ingest_trades(bot, [fill(f"x{i}", "buy" if i % 2 else "sell", 1, 1, minutes=i) for i in range(300)])
    with django_assert_num_queries(5):  # bot-less: state, prices; volume: edge trades, hourly rows, prices
        pnl_for_bot(bot)
        volume_for_bot(bot, "24h", now=NOW)


def test_bulk_reads_cost_the_same_queries_for_1_or_5_bots(django_assert_num_queries):
    bots = [BotFactory() for _ in range(5)]
    for i, bot in enumerate(bots):
        ingest_trades(bot, [fill(f"t{i}", "buy", 1, 1)])
    fresh = list(type(bots[0]).objects.filter(pk__in=[b.pk for b in bots]))  # accounts not loaded
    for group in (fresh[:1], fresh):
        with django_assert_num_queries(3):
            pnl_for_bots(group)
        with django_assert_num_queries(4):
            volume_for_bots(group, "24h", now=NOW)


def test_bot_list_summary_costs_the_same_queries_for_1_or_4_bots(django_assert_num_queries):
    bots = [BotFactory() for _ in range(4)]
    for i, bot in enumerate(bots):
        ingest_trades(bot, [fill(f"s{i}", "buy", 2, 3)])
    listed = list(type(bots[0]).objects.select_related("account").filter(pk__in=[b.pk for b in bots]))
    for group in (listed[:1], listed):
        with django_assert_num_queries(7):
            summaries = summaries_for_bots(group, now=NOW)
        assert all(s["pnl"]["position"] == D("2") and s["balances"]["reason"] for s in summaries.values())


def test_another_venues_price_is_not_the_bots_mark(traded):
    snapshot("SHARP/USDT", "9", exchange="coinstore")
    assert pnl_for_bot(traded)["mark"]["source"] == "last_trade"
