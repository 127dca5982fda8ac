"""Whose fill is it: a fill is booked to a bot only when its order is one of that bot's orders.

Two bots on one account and pair each book their own fills; fills of orders no bot placed (a
manual trade on the account, an order from elsewhere) are kept as UnownedFill rows for operators,
never booked. A fill whose order id we learn later (an order placed with an unknown outcome) is
claimed from there once reconciliation has its id (``claim_unowned_fills``).
"""

from __future__ import annotations

from collections.abc import Iterable

from exchanges.connectors.base import TradeFill
from bots.models import Bot, Order, UnownedFill


def _owners(bot: Bot, order_ids: Iterable[str]) -> dict[str, int | None]:
    ids = sorted({str(order_id) for order_id in order_ids if order_id})
    rows = Order.objects.filter(account_id=bot.account_id, symbol=bot.symbol, exchange_order_id__in=ids)
    return dict(rows.values_list("exchange_order_id", "bot_id"))


def split_fills(bot: Bot, fills: list[TradeFill]) -> list[TradeFill]:
    """The fills of ``bot``'s own orders; those of orders no bot placed are kept as UnownedFill.

    Fills of another bot's orders are left for that bot's own sync.
    """
    if not fills:
        return []
    owners = _owners(bot, (fill.order_id for fill in fills))
    own, unowned = [], []
    for fill in fills:
        owner = owners.get(str(fill.order_id or ""), "none")
        if owner == bot.pk:
            own.append(fill)
        elif owner in ("none", None):
            unowned.append(fill)
    if unowned:
        UnownedFill.objects.bulk_create([
            UnownedFill(account_id=bot.account_id, symbol=bot.symbol, exchange_trade_id=str(fill.exchange_trade_id),
                        order_id=str(fill.order_id or ""), side=fill.side, amount=fill.amount, price=fill.price,
                        cost=fill.cost, fee=fill.fee or 0, fee_currency=fill.fee_currency or "",
                        traded_at=fill.traded_at)
            for fill in unowned
        ], ignore_conflicts=True)
    return own


def claim_unowned_fills(bot: Bot) -> int:
    """Book to ``bot`` the kept fills of orders that turned out to be its own; returns how many."""
    from ledger.services import ingest_trades

    rows = list(UnownedFill.objects.filter(account_id=bot.account_id, symbol=bot.symbol).exclude(order_id=""))
    if not rows:
        return 0
    mine = {order_id for order_id, owner in _owners(bot, (row.order_id for row in rows)).items() if owner == bot.pk}
    claimed = [row for row in rows if row.order_id in mine]
    if not claimed:
        return 0
    ingest_trades(bot, [
        TradeFill(exchange_trade_id=row.exchange_trade_id, order_id=row.order_id, symbol=row.symbol, side=row.side,
                  amount=row.amount, price=row.price, cost=row.cost, fee=row.fee, fee_currency=row.fee_currency,
                  traded_at=row.traded_at)
        for row in claimed
    ])
    UnownedFill.objects.filter(pk__in=[row.pk for row in claimed]).delete()
    return len(claimed)
