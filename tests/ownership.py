"""Tests that place orders straight on a connector record them as a bot's, as the engine would:
trade sync books a fill to a bot only when its order is one of the bot's (bots/ownership.py)."""

from bots.engine.orders import VENUE_STATUSES, new_client_order_id
from bots.models import Order
from exchanges.connectors.base import OrderInfo


def own_order(bot, info: OrderInfo) -> OrderInfo:
    """Record the venue's order ``info`` as ``bot``'s; returns it unchanged."""
    Order.objects.create(
        account_id=bot.account_id, bot=bot, symbol=bot.symbol, client_order_id=new_client_order_id(bot.pk),
        exchange_order_id=info.exchange_order_id, side=info.side, kind=info.kind, amount=info.amount,
        price=info.price, filled=info.filled, status=VENUE_STATUSES.get(info.status, Order.Status.UNKNOWN),
    )
    return info
