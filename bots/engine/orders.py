"""Placing and cancelling orders: rounded once, recorded before sending, updated from the venue.

No transaction is open while a connector is called: the row is written (short atomic block),
the order sent, the answer recorded (another short block). A crash between the two leaves a
``pending`` row whose client order id reconciliation asks the venue about.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from django.db import transaction

from bots.models import Bot, Order
from exchanges.connectors.base import Connector, Market, OrderInfo, OrderRequest
from exchanges.errors import ExchangeError, InvalidOrder, OrderNotFound, OrderStateUnknown
from exchanges.markets import quantize_order
from pipelabs.logging import scrub

# pl<bot id>x<16 hex>: letters and digits only, at most 29 characters for any 32-bit bot id, so it
# fits every venue's client order id (BitMart: 32 alphanumerics; Coinstore, Binance: longer).
CLIENT_ORDER_ID = re.compile(r"^pl(?P<bot>\d+)x(?P<nonce>[0-9a-f]{16})$")
MANUAL_BOT_ID = 0  # pl0x...: an operator's order, no bot
BOT_NOT_RUNNING = "The bot is not running; no order was placed."
VENUE_STATUSES = {"open": Order.Status.OPEN, "filled": Order.Status.FILLED, "canceled": Order.Status.CANCELED,
                  "rejected": Order.Status.REJECTED}


class BotNotRunning(Exception):
    """The bot left ``running`` before its order was recorded: nothing was sent."""


def new_client_order_id(bot_id: int | None) -> str:
    return f"pl{bot_id or MANUAL_BOT_ID}x{secrets.token_hex(8)}"


def bot_id_of(client_order_id: str) -> int | None:
    """The bot a client order id was made for; None for a manual order or someone else's id."""
    match = CLIENT_ORDER_ID.match(client_order_id or "")
    if match is None or int(match["bot"]) == MANUAL_BOT_ID:
        return None
    return int(match["bot"])


def is_ours(client_order_id: str) -> bool:
    return CLIENT_ORDER_ID.match(client_order_id or "") is not None


def _error_text(exc: Exception) -> str:
    return scrub(str(exc))[:2000] or type(exc).__name__


def apply_info(order: Order, info: OrderInfo) -> Order:
    """Record what the venue said of the order (status, fill, its id); returns the updated row."""
    fields = {"status": VENUE_STATUSES.get(info.status, Order.Status.UNKNOWN), "filled": info.filled}
    if info.exchange_order_id:
        fields["exchange_order_id"] = info.exchange_order_id
    if info.price is not None and order.kind == Order.Kind.LIMIT:
        fields["price"] = info.price
    Order.objects.filter(pk=order.pk).update(**fields)
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def place_order(connector: Connector, *, account, symbol: str, side: str, kind: str, amount: Decimal,
                price: Decimal | None = None, market: Market, bot: Bot | None = None, note: str = "",
                reference_price: Decimal | None = None) -> Order:
    """Round to the market, record, send, record the answer; the Order as the venue left it.

    Raises InvalidOrder before recording anything when rounding leaves nothing the market takes
    (below its minimums). A bot's order is recorded only while the bot is running (else
    BotNotRunning). After a refusal the row is ``rejected`` and the error raised; when the venue
    cannot say, the row is ``unknown`` (reconciliation asks again) and OrderStateUnknown raised.
    """
    request = quantize_order(market, OrderRequest(
        symbol=symbol, side=side, kind=kind, amount=amount, price=price,
        client_order_id=new_client_order_id(bot.pk if bot else None),
    ), reference_price=reference_price)
    with transaction.atomic():
        if bot is not None and not Bot.objects.filter(pk=bot.pk, status=Bot.Status.RUNNING).exists():
            raise BotNotRunning(BOT_NOT_RUNNING)
        order = Order.objects.create(
            account=account, bot=bot, symbol=symbol, client_order_id=request.client_order_id, side=request.side,
            kind=request.kind, amount=request.amount, price=request.price, status=Order.Status.PENDING, note=note[:100],
        )
    try:
        info = connector.create_order(request)
    except OrderStateUnknown as exc:
        Order.objects.filter(pk=order.pk).update(status=Order.Status.UNKNOWN, error_message=_error_text(exc))
        raise
    except ExchangeError as exc:
        # The guard raises only refusals that prove nothing was placed; anything else is unknown.
        refused = not exc.retryable
        status = Order.Status.REJECTED if refused else Order.Status.UNKNOWN
        changes = {"status": status, "error_message": _error_text(exc)}
        # A swap that failed on chain has an id all the same (its signature) and paid its fee: the
        # fee-only fill sync reads for it is this order's, so the bot's ledger counts the cost.
        signature = (getattr(exc, "fields", None) or {}).get("signature")
        if signature:
            changes["exchange_order_id"] = str(signature)
        Order.objects.filter(pk=order.pk).update(**changes)
        raise
    except BaseException as exc:
        # A bug or a worker's timeout after sending: the order may rest; reconciliation decides.
        Order.objects.filter(pk=order.pk).update(status=Order.Status.UNKNOWN, error_message=_error_text(exc))
        raise
    return apply_info(order, info)


def cancel_order(connector: Connector, order: Order) -> Order:
    """Ask the venue to cancel; the row follows the venue's answer (it may have filled meanwhile).

    An order without an exchange id is first looked up by its client order id. An order the
    venue has never heard of (pending or unknown, confirmed absent) is marked canceled.
    """
    if not order.exchange_order_id:
        try:
            info = connector.fetch_order(order.symbol, "", order.client_order_id)
        except OrderNotFound:
            Order.objects.filter(pk=order.pk, status__in=Order.LIVE).update(
                status=Order.Status.CANCELED, error_message="The venue has no such order.")
            order.status = Order.Status.CANCELED
            return order
        apply_info(order, info)
        if order.status != Order.Status.OPEN:
            return order
    info = connector.cancel_order(order.symbol, order.exchange_order_id)
    if info is None or info.status == "open":
        # Some venues answer a cancel before it takes effect: ask, and trust only the answer.
        info = connector.fetch_order(order.symbol, order.exchange_order_id, order.client_order_id)
    return apply_info(order, info)


def refresh_order(connector: Connector, order: Order) -> Order:
    """What the venue says of the order now (by exchange id, else client order id).

    A pending or unknown order the venue does not know is marked canceled: OrderNotFound is the
    venue's own confirmation. An open order it no longer knows stays as it is (venues forget
    finished orders; the fills tell).
    """
    try:
        info = connector.fetch_order(order.symbol, order.exchange_order_id, order.client_order_id)
    except OrderNotFound:
        if not order.exchange_order_id:
            Order.objects.filter(pk=order.pk, status__in=(Order.Status.PENDING, Order.Status.UNKNOWN)).update(
                status=Order.Status.CANCELED, error_message="The venue has no such order; it was never placed.")
            order.status = Order.Status.CANCELED
        return order
    return apply_info(order, info)


__all__ = ["BotNotRunning", "InvalidOrder", "bot_id_of", "cancel_order", "is_ours", "new_client_order_id",
           "place_order", "refresh_order"]
