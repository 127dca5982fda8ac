"""Reconciliation: the venue's open orders for the bot's account and pair against the bot's own.

Run on start (a bot's first tick), after a restart (a tick after a lapsed lease) and
periodically (BOT_RECONCILE_EVERY_S), and by ``manage.py reconcile_orders``:
- an open order carrying this bot's client order id is adopted (its row updated or created)
  while the bot runs, and cancelled when it does not;
- each live order of the bot the venue no longer lists is asked about and settled (filled,
  cancelled) from the venue's answer; an order counts as gone only when the venue confirms;
- the bot's fills are then synced, including fills of orders whose id was learned just now.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.engine.orders import VENUE_STATUSES, apply_info, bot_id_of, cancel_order, refresh_order
from bots.models import Bot, Order
from exchanges.errors import ExchangeError


@dataclass
class ReconcileResult:
    adopted: int = 0
    cancelled: int = 0
    settled: int = 0
    unresolved: int = 0
    fills: int = 0


def reconcile_bot(bot: Bot, *, connector=None, sync: bool = True) -> ReconcileResult:
    """Bring the bot's order rows in line with the venue (see the module docstring)."""
    from bots.ownership import claim_unowned_fills
    from exchanges.registry import connector_for
    from ledger.services import sync_trades

    result = ReconcileResult()
    own_connector = connector is None
    connector = connector or connector_for(bot.account)
    try:
        running = Bot.objects.filter(pk=bot.pk, status=Bot.Status.RUNNING).exists()
        venue_open = [info for info in connector.fetch_open_orders(bot.symbol)
                      if bot_id_of(info.client_order_id) == bot.pk]
        listed = set()
        for info in venue_open:
            listed.add(info.client_order_id)
            order = Order.objects.filter(client_order_id=info.client_order_id).first()
            if order is None:
                # Ours by its id but never recorded (the row was lost): record it so it is seen.
                order = Order.objects.create(
                    account_id=bot.account_id, bot=bot, symbol=bot.symbol, client_order_id=info.client_order_id,
                    exchange_order_id=info.exchange_order_id, side=info.side, kind=info.kind, amount=info.amount,
                    price=info.price, filled=info.filled, status=VENUE_STATUSES.get(info.status, Order.Status.UNKNOWN),
                    note="adopted by reconciliation")
            else:
                apply_info(order, info)
            result.adopted += 1
            if not running:
                cancel_order(connector, order)
                result.cancelled += 1
        for order in bot.orders.filter(status__in=Order.LIVE).exclude(client_order_id__in=listed):
            try:
                refresh_order(connector, order)
            except ExchangeError:
                result.unresolved += 1
                continue
            if order.status in Order.LIVE:
                if order.status == Order.Status.OPEN and not running:
                    cancel_order(connector, order)
                    result.cancelled += 1
                else:
                    result.unresolved += 1
            else:
                result.settled += 1
        if sync:
            result.fills = sync_trades(bot).new + claim_unowned_fills(bot)
    finally:
        if own_connector:
            connector.close()
    return result
