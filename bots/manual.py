"""Manual orders an admin places for a client's account (limit, or market where the venue takes them
cleanly): recorded as an order of no bot, audited, sent through the guard within a short budget,
never inside a transaction."""

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
# Venues whose connector places a market order with a client order id and checks its notional
# against a live price (paper: its book; ccxt/BitMart and Coinstore: the ticker; Jupiter: a swap is
# one). Another ccxt venue may lack market orders or size them differently: limit orders only.
MARKET_VENUES = ("paper", "bitmart", "coinstore", "jupiter")
NO_MARKET_ORDERS = "Market orders are not offered for {exchange} here; place a limit order with a price."
# Jupiter swaps at the pool's price: there is no resting order to give a price to.
LIMIT_VENUES_EXCLUDED = ("jupiter",)
NO_LIMIT_ORDERS = "{exchange} only swaps at the market: send type \"market\" without a price."
MARKET_TAKES_NO_PRICE = "A market order takes no price; leave it out, or send type \"limit\"."
LIMIT_NEEDS_PRICE = "A limit order needs a price."


def check_order_kind(account: ExchangeAccount, kind: str, price: Decimal | None) -> None:
    """ValidationError (nothing recorded, nothing sent) for an order kind the venue does not take cleanly."""
    if kind == Order.Kind.MARKET:
        if price is not None:
            raise ValidationError({"price": MARKET_TAKES_NO_PRICE})
        if account.exchange not in MARKET_VENUES:
            raise ValidationError({"type": NO_MARKET_ORDERS.format(exchange=account.exchange)})
        return
    if price is None:
        raise ValidationError({"price": LIMIT_NEEDS_PRICE})
    if account.exchange in LIMIT_VENUES_EXCLUDED:
        raise ValidationError({"type": NO_LIMIT_ORDERS.format(exchange=account.exchange)})


def _connector(account: ExchangeAccount):
    """The account's guarded connector with a budget a web request can wait for (gunicorn kills at 30 s)."""
    budget_s = float(settings.MANUAL_ORDER_TIMEOUT_S)
    call_s = max(1.0, budget_s / 3)
    policy = RetryPolicy(attempts=2, budget_s=call_s * 2, lookup_window_s=min(lookup_window_s(), budget_s / 2),
                         order_budget_s=budget_s)
    return GuardedConnector(raw_connector_for(account, timeout_s=call_s), account_id=account.pk, policy=policy,
                            timeout_s=call_s)


def place_manual_order(account: ExchangeAccount, *, symbol: str, side: str, amount: Decimal,
                       price: Decimal | None, actor: str, kind: str = Order.Kind.LIMIT) -> Order:
    """Place a limit order (or a market order: ``price`` None) on ``account``, rounded to the market;
    the Order as the venue left it.

    ValidationError for a pair the venue does not list or an order kind it does not take; the
    venue's errors are raised as they are (the order row then says rejected or unknown, and
    reconciliation settles an unknown one).
    """
    check_order_kind(account, kind, price)
    connector = _connector(account)
    request = {"symbol": symbol, "side": side, "type": kind, "amount": str(amount),
               "price": None if price is None else str(price)}
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
            order = place_order(connector, account=account, symbol=symbol, side=side, kind=kind,
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
