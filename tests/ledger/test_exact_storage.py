"""Figures are exact on SQLite too: decimal columns there keep ~15 digits, the exact mirrors all."""

from decimal import Decimal

from ledger import fifo
from ledger.models import BotTrade, DailyRollup, HourlyRollup, PnlState
from ledger.selectors import pnl_for_bot, stats_for_bot
from ledger.services import ingest_trades, rebuild_pnl
from tests.ledger.conftest import T0, fill

D = Decimal
BIG = "123456789.123456789012345678"


def test_figures_with_more_digits_than_sqlite_keeps_are_exact(bot):
    ingest_trades(bot, [
        fill("b1", "buy", BIG, "1.000000000000000001", fee="0.000000000000000003", fee_currency="USDT"),
        fill("b2", "buy", "0.000000000000000007", "98765.432109876543210987", minutes=1),
        fill("s1", "sell", "100000000.000000000000000001", "1.100000000000000011", minutes=2,
             fee="12.345678901234567891", fee_currency="SHARP"),
    ])

    trade = BotTrade.objects.get(bot=bot, exchange_trade_id="b1")
    assert trade.amount == D(BIG) and trade.price == D("1.000000000000000001")
    assert trade.cost == fifo.quantize(D(BIG) * D("1.000000000000000001"))
    assert trade.fee == D("0.000000000000000003")
    sell = BotTrade.objects.get(bot=bot, exchange_trade_id="s1")
    assert sell.fee == D("12.345678901234567891")
    assert sell.fee_quote == fifo.quantize(D("12.345678901234567891") * D("1.100000000000000011"))

    ordered = list(BotTrade.objects.filter(bot=bot).order_by("traded_at", "pk"))
    expected = fifo.recompute([
        fifo.engine_trade(side=t.side, amount=t.amount, price=t.price, cost=t.cost, fee=t.fee,
                          fee_currency=t.fee_currency, fee_quote=t.fee_quote, base="SHARP", quote="USDT")
        for t in ordered
    ])
    assert fifo.FifoState.from_json(PnlState.objects.get(bot=bot).engine) == expected
    assert pnl_for_bot(bot)["position"] == fifo.from_units(expected.position)

    day = DailyRollup.objects.get(bot=bot)
    assert day.buy_base == D(BIG) + D("0.000000000000000007")
    assert day.sell_base == D("100000000.000000000000000001")
    assert day.realized_pnl == fifo.from_units(expected.realized)
    assert sum(h.buy_quote for h in HourlyRollup.objects.filter(bot=bot)) == day.buy_quote
    assert day.buy_quote == ordered[0].cost + ordered[1].cost
    series = stats_for_bot(bot, now=T0)["daily"][-1]
    assert series["quote_volume"] == day.buy_quote + day.sell_quote

    assert rebuild_pnl(bot).differences == {}  # exact equality, no tolerance, on every database
    assert fifo.FifoState.from_json(PnlState.objects.get(bot=bot).engine) == expected
    assert DailyRollup.objects.get(bot=bot).buy_base == D(BIG) + D("0.000000000000000007")


def test_a_column_written_alone_wins_over_its_stale_mirror(bot):
    ingest_trades(bot, [fill("b1", "buy", "2", "3")])
    BotTrade.objects.filter(bot=bot).update(fee_quote=D("0.5"))  # e.g. a fee converted later, mirror not rewritten
    BotTrade.objects.filter(bot=bot).update(fee_quote_exact="0.25")

    assert BotTrade.objects.get(bot=bot).fee_quote == D("0.5")
