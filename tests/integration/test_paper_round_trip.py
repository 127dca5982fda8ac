"""Across the layers: orders on the paper venue, fills synced into the ledger, figures checked
against the venue's own balances. A bot that ends flat has realized exactly what its quote
balance gained or lost."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest

from exchanges.connectors.base import OrderRequest
from exchanges.connectors.paper import PaperConnector
from ledger.models import BotTrade
from ledger.selectors import pnl_for_bot, volume_for_bot
from ledger.services import sync_trades
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.ownership import own_order

D = Decimal
PAPER = {"paper": {"markets": {"SOL/USDC": {"price": "150", "price_step": "0.01", "amount_step": "0.001",
                                            "min_amount": "0.001", "min_notional": "1", "depth_quote": "400",
                                            "step_ms": 3_600_000}},
                   "balances": {"USDC": "10000", "SOL": "0"}}}


class Clock:
    def __init__(self):
        self.at = datetime.now(dt_timezone.utc) - timedelta(hours=2)

    def __call__(self):
        self.at += timedelta(seconds=7)
        return self.at


def paper_bot(account, clock: Clock):
    """A bot that existed before the clock's first trade (a first sync reads from its creation)."""
    bot = BotFactory(client=account.client, account=account, symbol="SOL/USDC")
    type(bot).objects.filter(pk=bot.pk).update(created_at=clock.at)
    bot.refresh_from_db()
    return bot


def balances(venue) -> dict[str, Decimal]:
    return {b.asset: b.total for b in venue.fetch_balance()}


@pytest.mark.django_db
def test_flat_bot_realizes_exactly_its_quote_balance_change():
    account = ExchangeAccountFactory(exchange="paper", options=PAPER)
    clock = Clock()
    bot = paper_bot(account, clock)
    venue = PaperConnector(account, clock=clock)
    before = balances(venue)

    for n, (side, amount) in enumerate([("buy", "1.5"), ("buy", "0.75"), ("sell", "1.0"), ("buy", "3.333"),
                                        ("sell", "4.583")]):
        own_order(bot, venue.create_order(OrderRequest("SOL/USDC", side, "market", D(amount), f"rt-{n}")))
    after = balances(venue)
    assert after.get("SOL", D(0)) == before.get("SOL", D(0))  # flat again

    assert sync_trades(bot).new == BotTrade.objects.filter(bot=bot).count() >= 5

    pnl = pnl_for_bot(bot)
    assert pnl["position"] == 0
    assert pnl["realized"] == after["USDC"] - before["USDC"]  # to the last unit, fees included
    assert pnl["unrealized"] == 0
    trades = list(BotTrade.objects.filter(bot=bot))
    assert pnl["fees"] == sum(t.fee for t in trades)
    volume = volume_for_bot(bot, "all")
    assert volume["quote_volume"] == sum(t.cost for t in trades)
    assert volume["base_volume"] == D("1.5") + D("0.75") + D("1.0") + D("3.333") + D("4.583")
    assert volume["usd_volume"] == volume["quote_volume"]  # USDC counts 1:1
    assert volume["realized_pnl"] == pnl["realized"]
    assert (volume["buy_count"], volume["sell_count"]) == (
        sum(t.side == "buy" for t in trades), sum(t.side == "sell" for t in trades))
    assert isinstance(pnl["realized"], Decimal) and isinstance(volume["quote_volume"], Decimal)


@pytest.mark.django_db(transaction=True)  # refresh_prices reads the paper venue from its own thread
def test_open_position_is_marked_at_the_stored_mid():
    from ledger.services import refresh_prices

    account = ExchangeAccountFactory(exchange="paper", options=PAPER)
    clock = Clock()
    bot = paper_bot(account, clock)
    venue = PaperConnector(account, clock=clock)
    before = balances(venue)
    for n, (side, amount) in enumerate([("buy", "2.0"), ("buy", "1.25"), ("sell", "0.5")]):
        own_order(bot, venue.create_order(OrderRequest("SOL/USDC", side, "market", D(amount), f"op-{n}")))
    after = balances(venue)
    sync_trades(bot)
    refresh_prices([bot.pk])

    pnl = pnl_for_bot(bot)
    assert pnl["mark"]["source"] == "mid"
    mark = D(str(pnl["mark"]["price"]))
    held = after["SOL"] - before.get("SOL", D(0))
    assert pnl["position"] == held == D("2.75")
    # what the bot's money is worth now, minus what it started with, is its total P&L
    assert pnl["total"] == (after["USDC"] - before["USDC"]) + held * mark


@pytest.mark.django_db(transaction=True)
def test_each_paper_account_is_marked_at_its_own_price():
    from ledger.services import refresh_prices

    bots = []
    for price in ("150", "600"):
        options = {"paper": {"markets": {"SOL/USDC": {**PAPER["paper"]["markets"]["SOL/USDC"], "price": price}},
                             "balances": PAPER["paper"]["balances"]}}
        account = ExchangeAccountFactory(exchange="paper", options=options)
        clock = Clock()
        bot = paper_bot(account, clock)
        own_order(bot, PaperConnector(account, clock=clock).create_order(OrderRequest("SOL/USDC", "buy", "market", D("1"), "m-1")))
        sync_trades(bot)
        bots.append(bot)
    refresh_prices([b.pk for b in bots])
    marks = [pnl_for_bot(bot)["mark"]["price"] for bot in bots]
    assert marks[0] < 200 < 450 < marks[1]  # each near its own walk, not one shared price
