"""Manual limit orders an admin places for a client's account: recorded as an order of no bot,
audited, sent through the guard within a short budget, never inside a transaction."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError

from bots.engine.orders import place_order
from bots.models import Order
from exchanges.errors import ExchangeError
from exchanges.guard import GuardedConnector, RetryPolicy, lookup_window_s
from exchanges.models import ExchangeAccount
from exchanges.registry import raw_connector_for
from pipelabs.audit import record_event

NOT_LISTED = "{symbol} is not listed on this account's exchange."
NOT_TRADING = "{symbol} is listed but not trading on this account's exchange."


def _connector(account: ExchangeAccount):
    """The account's guarded connector with a budget a web request can wait for (gunicorn kills at 30 s)."""
    budget_s = float(settings.MANUAL_ORDER_TIMEOUT_S)
    call_s = max(1.0, budget_s / 3)
    policy = RetryPolicy(attempts=2, budget_s=call_s * 2, lookup_window_s=min(lookup_window_s(), budget_s / 2),
                         order_budget_s=budget_s)
    return GuardedConnector(raw_connector_for(account, timeout_s=call_s), account_id=account.pk, policy=policy,
                            timeout_s=call_s)


def place_manual_order(account: ExchangeAccount, *, symbol: str, side: str, amount: Decimal, price: Decimal,
                       actor: str) -> Order:
    """Place a limit order on ``account`` (rounded to the market); the Order as the venue left it.

    ValidationError for a pair the venue does not list; the venue's errors are raised as they are
    (the order row then says rejected or unknown, and reconciliation settles an unknown one).
    """
    connector = _connector(account)
    request = {"symbol": symbol, "side": side, "amount": str(amount), "price": str(price)}
    try:
        markets = connector.load_markets()
        market = markets.get(symbol)
        if market is None:
            raise ValidationError({"pair": NOT_LISTED.format(symbol=symbol)})
        if not getattr(market, "active", True):
            raise ValidationError({"pair": NOT_TRADING.format(symbol=symbol)})
        record_event(actor=actor, action="order.manual.request", client_id=account.client_id, target=str(account),
                     changes=request)
        try:
            order = place_order(connector, account=account, symbol=symbol, side=side, kind=Order.Kind.LIMIT,
                                amount=amount, price=price, market=market, note=f"manual by {actor}"[:100])
        except ExchangeError as exc:
            record_event(actor=actor, action="order.manual.failed", client_id=account.client_id,
                         target=str(account), changes={**request, "error": exc.code})
            raise
    finally:
        connector.close()
    record_event(actor=actor, action="order.manual", client_id=account.client_id, target=str(account),
                 changes={**request, "order_id": order.pk, "client_order_id": order.client_order_id,
                          "status": order.status})
    return order
