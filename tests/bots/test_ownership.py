"""Fills belong to the bot whose order made them; others' fills are kept visible, never booked."""

from decimal import Decimal

from bots.engine.orders import place_order
from bots.models import Bot, Order, UnownedFill
from bots.ownership import claim_unowned_fills
from exchanges.connectors.base import OrderRequest
from exchanges.registry import connector_for
from ledger.models import BotTrade, PnlState
from ledger.services import sync_trades
from tests.factories import BotFactory

D = Decimal


def market_buy(bot, amount):
    connector = connector_for(bot.account)
    return place_order(connector, account=bot.account, bot=bot, symbol=bot.symbol, side="buy", kind="market",
                       amount=D(amount), market=connector.market(bot.symbol), reference_price=D("0.0125"))


def test_two_bots_on_one_account_and_pair_each_book_only_their_own_fills(db):
    first = BotFactory(status=Bot.Status.RUNNING)
    second = BotFactory(status=Bot.Status.RUNNING, client=first.client, account=first.account)
    market_buy(first, "1000")
    market_buy(second, "3000")
    # A manual trade on the account, placed outside the platform.
    connector_for(first.account).create_order(OrderRequest("SHARP/USDT", "buy", "market", D("500"), "by-hand"))
    sync_trades(first)
    sync_trades(second)
    assert PnlState.objects.get(bot=first).position == D("1000")
    assert PnlState.objects.get(bot=second).position == D("3000")
    assert sum(t.amount for t in BotTrade.objects.filter(bot=first)) == D("1000")
    unowned = UnownedFill.objects.filter(account=first.account)
    assert sum(f.amount for f in unowned) == D("500")  # kept for operators, booked to nobody
    sync_trades(first)  # again: nothing doubles
    assert UnownedFill.objects.count() == unowned.count() and PnlState.objects.get(bot=first).position == D("1000")


def test_a_fill_of_an_order_whose_id_came_late_is_claimed_once_known(db):
    bot = BotFactory(status=Bot.Status.RUNNING)
    order = market_buy(bot, "1000")
    exchange_id = order.exchange_order_id
    Order.objects.filter(pk=order.pk).update(exchange_order_id="", status=Order.Status.UNKNOWN)  # the answer was lost
    sync_trades(bot)
    assert not BotTrade.objects.filter(bot=bot).exists() and UnownedFill.objects.exists()
    Order.objects.filter(pk=order.pk).update(exchange_order_id=exchange_id, status=Order.Status.FILLED)  # reconciled
    assert claim_unowned_fills(bot) >= 1
    assert PnlState.objects.get(bot=bot).position == D("1000") and not UnownedFill.objects.exists()


def test_both_sides_of_a_manual_self_trade_are_kept_for_operators(db):
    from datetime import datetime, timezone

    from bots.ownership import split_fills
    from exchanges.connectors.base import TradeFill

    bot = BotFactory(status=Bot.Status.RUNNING)
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)
    sides = [TradeFill(exchange_trade_id="m1", order_id=f"manual-{side}", symbol="SHARP/USDT", side=side,
                       amount=D("7"), price=D("0.0125"), cost=D("0.0875"), fee=D(0), fee_currency="USDT", traded_at=at)
             for side in ("buy", "sell")]
    assert split_fills(bot, sides) == []
    assert split_fills(bot, sides) == []  # again: nothing doubles
    assert sorted(UnownedFill.objects.values_list("side", flat=True)) == ["buy", "sell"]
