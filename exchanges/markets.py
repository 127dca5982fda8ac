"""Order rounding to a market's steps and minimums; pure and venue-neutral, applied once before any connector.

Arithmetic runs in ``EXACT``, not Python's default 28-digit context, which silently rounds an
18-decimal amount above 10^10: any result that would need rounding raises instead.
"""

from __future__ import annotations

import dataclasses
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from exchanges import errors
from exchanges.connectors.base import Market, OrderRequest

BELOW_MIN_AMOUNT = "Order amount {amount} is below the market minimum {minimum} {base}."
BELOW_MIN_NOTIONAL = "Order value {notional} {quote} is below the market minimum {minimum} {quote}."
MARKET_INACTIVE = "Market {symbol} is not trading."
NO_PRICE = "A limit order needs a price."
OUT_OF_RANGE = "{what} {value} is not below {limit}, the largest magnitude computed exactly."

# 100 digits hold every value below MAX_MAGNITUDE with 18 decimals (48 digits) and the product of
# two of them (96); Inexact is trapped, so nothing is ever rounded silently.
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
MAX_MAGNITUDE = Decimal(10) ** 30
# Stand-ins for the fraction of a quotient, one per side of one half, for rounding exactly.
_FRACTIONS = {-1: Decimal("0.25"), 0: Decimal("0.5"), 1: Decimal("0.75")}


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
    if check_price is not None:
        notional = product(amount, check_price)
        if notional < market.min_notional:
            message = BELOW_MIN_NOTIONAL.format(notional=notional, minimum=market.min_notional, quote=market.quote)
            raise reject(message, "below_min_notional")
    return dataclasses.replace(request, amount=amount, price=price)


def on_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to a whole number of ``step`` (any step, not only powers of ten), exactly.

    The quotient is never rounded before ``rounding`` is applied: its whole part and remainder
    are exact, and the remainder only decides which side of one half the fraction lies on.
    InvalidOrder (code ``out_of_range``) when ``value`` reaches MAX_MAGNITUDE.
    """
    if not step:
        return value
    within_range(value, "Value")
    try:
        with localcontext(EXACT):
            whole, remainder = divmod(value, step)  # whole part truncated toward zero
            if remainder:
                sign = 1 if (remainder > 0) == (step > 0) else -1  # the quotient's sign
                side = (abs(remainder) * 2).compare(abs(step))
                whole = (whole + sign * _FRACTIONS[int(side)]).to_integral_value(rounding=rounding)
            return whole * step
    except DecimalException:
        raise out_of_range("Value", value) from None


def product(left: Decimal, right: Decimal) -> Decimal:
    """``left * right`` without rounding (InvalidOrder if it needs more than EXACT's digits)."""
    try:
        with localcontext(EXACT):
            return left * right
    except DecimalException:
        raise out_of_range("Product", left) from None


def within_range(value: Decimal, what: str) -> Decimal:
    """``value`` itself when finite and below MAX_MAGNITUDE; InvalidOrder otherwise."""
    if not value.is_finite() or value.copy_abs() >= MAX_MAGNITUDE:
        raise out_of_range(what, value)
    return value


def out_of_range(what: str, value: Decimal) -> errors.InvalidOrder:
    text = OUT_OF_RANGE.format(what=what, value=str(value)[:40], limit=f"{MAX_MAGNITUDE:.0E}")
    return errors.InvalidOrder(text, code="out_of_range", reason="out_of_range")
