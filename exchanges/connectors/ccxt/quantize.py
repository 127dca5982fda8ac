"""Order rounding to a market's steps and minimums; pure, shared by every connector."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchanges import errors
from exchanges.connectors.base import Market, OrderRequest

BELOW_MIN_AMOUNT = "Order amount {amount} is below the market minimum {minimum} {base}."
BELOW_MIN_NOTIONAL = "Order value {notional} {quote} is below the market minimum {minimum} {quote}."
MARKET_INACTIVE = "Market {symbol} is not trading."
NO_PRICE = "A limit order needs a price."


def quantize_order(market: Market, request: OrderRequest, *, reference_price: Decimal | None = None) -> OrderRequest:
    """The request with its amount rounded down to the amount step and a limit price on the price step.

    Buy prices round down and sell prices up, so rounding never makes an order more aggressive than
    asked. Raises InvalidOrder (``fields["reason"]``: below_min_amount, below_min_notional,
    market_inactive, price_missing) before anything is sent. A market order's notional is checked
    against ``reference_price`` when one is given.
    """

    def reject(message: str, reason: str) -> errors.InvalidOrder:
        return errors.InvalidOrder(message, code=reason, symbol=market.symbol, reason=reason)

    if not market.active:
        raise reject(MARKET_INACTIVE.format(symbol=market.symbol), "market_inactive")
    amount = on_step(request.amount, market.amount_step, ROUND_FLOOR)
    if amount <= 0 or amount < market.min_amount:
        message = BELOW_MIN_AMOUNT.format(amount=amount, minimum=market.min_amount, base=market.base)
        raise reject(message, "below_min_amount")
    price = None
    if request.kind == "limit":
        if request.price is None or request.price <= 0:
            raise reject(NO_PRICE, "price_missing")
        price = on_step(request.price, market.price_step, ROUND_FLOOR if request.side == "buy" else ROUND_CEILING)
    check_price = price if price is not None else reference_price
    if check_price is not None and amount * check_price < market.min_notional:
        message = BELOW_MIN_NOTIONAL.format(notional=amount * check_price, minimum=market.min_notional, quote=market.quote)
        raise reject(message, "below_min_notional")
    return dataclasses.replace(request, amount=amount, price=price)


def on_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to a whole number of ``step`` (any step, not only powers of ten)."""
    if not step:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step
