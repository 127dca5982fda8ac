"""Ingesting fills: stored once, FIFO state and rollups kept current, rebuild gives the same figures."""

import dataclasses
import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from ledger import fifo
from ledger.models import BotTrade, DailyRollup, HourlyRollup, PnlState, PriceSnapshot, QuarantinedFill
from ledger.selectors import pnl_for_bot
from ledger.services import IngestResult, ingest_fills, ingest_trades, rebuild_pnl
from tests.ledger.conftest import T0, fill

D = Decimal


def test_same_fill_twice_is_stored_once(bot):
    fills = [fill("a", "buy", 2, 10), fill("b", "sell", 1, 12, minutes=1)]
    assert ingest_trades(bot, fills) == 2
    assert ingest_trades(bot, fills) == 0
    assert ingest_trades(bot, [fills[1], fills[1]]) == 0
    assert BotTrade.objects.filter(bot=bot).count() == 2
    state = PnlState.objects.get(bot=bot)
    assert state.trade_count == 2
    assert state.realized_pnl == D("2")


def test_duplicates_inside_one_batch_count_once(bot):
    assert ingest_trades(bot, [fill("a"), fill("a"), fill("b", minutes=1)]) == 2


def test_trade_keeps_every_field(bot):
    ingest_trades(bot, [fill("x1", "sell", "1.5", "2.25", fee="-0.001", fee_currency="bnb", minutes=3)])
    trade = BotTrade.objects.get(bot=bot)
    assert (trade.side, trade.amount, trade.price, trade.cost) == ("sell", D("1.5"), D("2.25"), D("3.375"))
    assert (trade.fee, trade.fee_currency, trade.order_id) == (D("-0.001"), "BNB", "o-x1")
    assert trade.traded_at == T0 + timedelta(minutes=3)
    assert trade.fee_quote is None  # no BNB price stored


def test_third_token_fee_is_converted_with_a_price_taken_near_the_trade(bot):
    PriceSnapshot.objects.create(exchange="paper", symbol="BNB/USDT", price=D("300"), source="mid", taken_at=T0)
    ingest_trades(bot, [
        fill("near", "buy", 1, 10, fee="0.001", fee_currency="BNB", minutes=5),
        fill("far", "buy", 1, 10, fee="0.001", fee_currency="BNB", minutes=60 * 5),
    ])
    by_id = {t.exchange_trade_id: t.fee_quote for t in BotTrade.objects.filter(bot=bot)}
    assert by_id == {"near": D("0.3"), "far": None}
    pnl = pnl_for_bot(bot)
    assert pnl["fees"] == D("0.3")
    assert pnl["unconverted_fees"] == {"BNB": D("0.001")}
    assert pnl["open_cost"] == D("20.3")


@pytest.mark.parametrize(
    "bad, code",
    [(fill("s", side="hold"), "trade_side"), (fill("z", amount="0"), "trade_amount"),
     (fill("", side="buy"), "trade_id_missing"),
     (dataclasses.replace(fill("p"), symbol="BTC/USDT"), "trade_symbol"),
     (dataclasses.replace(fill("n"), traded_at=datetime(2026, 1, 1)), "trade_time"),
     (dataclasses.replace(fill("t"), traded_at=None), "trade_time"),
     (fill("big", amount="1e21"), "trade_too_large"),  # would overflow the column and fail the page
     (fill("x" * 129), "trade_too_long"),
     (dataclasses.replace(fill("g"), amount="garbage"), "trade_unreadable"),
     (dataclasses.replace(fill("f"), fee=object()), "trade_unreadable")],
)
def test_invalid_fill_is_quarantined_and_the_others_are_booked(bot, bad, code):
    result = ingest_fills(bot, [fill("ok1", minutes=-1), bad, fill("ok2", "sell", minutes=1)])

    assert (result.new, result.quarantined) == (2, 1)
    assert sorted(BotTrade.objects.filter(bot=bot).values_list("exchange_trade_id", flat=True)) == ["ok1", "ok2"]
    (kept,) = QuarantinedFill.objects.filter(bot=bot)
    assert kept.code == code and kept.reason and kept.raw["side"] == bad.side
    assert ingest_fills(bot, [bad]) == IngestResult()  # the same bad fill again is kept once
    assert QuarantinedFill.objects.filter(bot=bot).count() == 1
    assert PnlState.objects.get(bot=bot).trade_count == 2


def test_incremental_figures_and_rollups_equal_a_rebuild(bot):
    rng = random.Random(7)
    fills = []
    for i in range(300):
        side = rng.choice(["buy", "buy", "sell"])
        fee_currency = rng.choice(["USDT", "SHARP", "BNB", ""])
        fills.append(fill(f"t{i}", side, D(rng.randint(1, 5000)) / 100, D(rng.randint(900, 1100)) / 1000,
                          fee=D(rng.randint(-5, 50)) / 10000, fee_currency=fee_currency, minutes=i * 7))
    for start in range(0, 300, 37):
        ingest_trades(bot, fills[start : start + 37])
    before = PnlState.objects.get(bot=bot)
    result = rebuild_pnl(bot)
    assert result.differences == {}
    after = PnlState.objects.get(bot=bot)
    assert after.engine == before.engine
    assert after.trade_count == 300
    assert HourlyRollup.objects.filter(bot=bot).count() > 24
    assert DailyRollup.objects.filter(bot=bot).count() == 2
    hourly_realized = sum(r.realized_pnl for r in HourlyRollup.objects.filter(bot=bot))
    if connection.vendor == "postgresql":
        assert hourly_realized == after.realized_pnl
    else:  # SQLite keeps ~15 significant digits per decimal column
        assert abs(hourly_realized - after.realized_pnl) < D("1e-12")


def test_an_older_fill_arriving_late_rebuilds_in_fifo_order(bot):
    ingest_trades(bot, [fill("b2", "buy", 1, 20, minutes=10), fill("s1", "sell", 1, 30, minutes=20)])
    assert pnl_for_bot(bot)["realized"] == D("10")
    ingest_trades(bot, [fill("b1", "buy", 1, 10, minutes=0)])  # older than everything stored
    pnl = pnl_for_bot(bot)
    assert pnl["realized"] == D("20")  # the sell now consumes the 10 lot first
    assert pnl["open_cost"] == D("20")
    assert PnlState.objects.get(bot=bot).rebuilt_at is not None
    assert rebuild_pnl(bot).differences == {}


def test_trades_stored_before_the_state_existed_are_picked_up(bot):
    BotTrade.objects.create(bot=bot, exchange_trade_id="old", side="buy", amount=1, price=5, cost=5, traded_at=T0)
    ingest_trades(bot, [fill("new", "sell", 1, 8, minutes=1)])
    assert pnl_for_bot(bot)["realized"] == D("3")


def test_rebuild_reports_a_tampered_state(bot):
    ingest_trades(bot, [fill("a", "buy", 1, 10), fill("b", "sell", 1, 11, minutes=1)])
    PnlState.objects.filter(bot=bot).update(engine={**PnlState.objects.get(bot=bot).engine, "realized": 5})
    result = rebuild_pnl(bot)
    assert result.differences["realized"] == (D("5E-18"), fifo.from_units(10**18))
    assert pnl_for_bot(bot)["realized"] == D("1")


def test_rebuild_command_says_same_or_reports_differences(bot, capsys):
    ingest_trades(bot, [fill("a", "buy", 1, 10), fill("b", "sell", 1, 11, minutes=1)])
    call_command("rebuild_pnl", "--bot", str(bot.pk))
    assert "same as the incremental figures" in capsys.readouterr().out
    PnlState.objects.filter(bot=bot).update(engine={**PnlState.objects.get(bot=bot).engine, "realized": 5})
    with pytest.raises(Exception, match="differed"):
        call_command("rebuild_pnl", "--all")
    assert "realized" in capsys.readouterr().out


def test_bot_last_trade_at_moves_forward_only(bot):
    ingest_trades(bot, [fill("a", minutes=30)])
    ingest_trades(bot, [fill("b", minutes=5)])
    bot.refresh_from_db()
    assert bot.last_trade_at == T0 + timedelta(minutes=30)
