"""Safety limits, per bot (its fields) over the platform's defaults (settings.BOT_SAFETY_DEFAULTS).

Order limits refuse single intents (size, position, balances kept, price band, orders per
minute); loss limits (daily loss, drawdown from the P&L peak) stop the bot and cancel its orders.
Every trigger is recorded with its reason in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from django.conf import settings

from bots.strategies.types import BUY, OrderIntent

LIMIT_NAMES = ("max_order_usd", "max_position", "min_base_kept", "min_quote_kept", "max_daily_loss_usd",
               "max_drawdown_usd", "price_band_pct", "max_orders_per_minute")
TOO_BIG = "order value {value} is above max_order_usd {limit}"
POSITION = "the position would reach {position}, beyond max_position {limit}"
BASE_KEPT = "selling would leave less than min_base_kept {limit}"
QUOTE_KEPT = "buying would leave less than min_quote_kept {limit}"
OUT_OF_BAND = "price {price} is more than {limit}% from the reference {reference}"
TOO_MANY = "max_orders_per_minute {limit} reached"
DAILY_LOSS = "Safety stop: the day's P&L {pnl} is below -{limit} (max_daily_loss_usd)."
DRAWDOWN = "Safety stop: P&L {pnl} is {drop} below its peak {peak}, beyond max_drawdown_usd {limit}."


@dataclass(frozen=True)
class Limits:
    max_order_usd: Decimal | None = None
    max_position: Decimal | None = None
    min_base_kept: Decimal | None = None
    min_quote_kept: Decimal | None = None
    max_daily_loss_usd: Decimal | None = None
    max_drawdown_usd: Decimal | None = None
    price_band_pct: Decimal | None = None
    max_orders_per_minute: int | None = None


def limits_for(bot) -> Limits:
    defaults = getattr(settings, "BOT_SAFETY_DEFAULTS", {}) or {}
    values = {}
    for field in fields(Limits):
        value = getattr(bot, field.name)
        if value is None and defaults.get(field.name) not in (None, ""):
            value = defaults[field.name]
            value = int(value) if field.name == "max_orders_per_minute" else Decimal(str(value))
        values[field.name] = value
    return Limits(**values)


def stop_reason(limits: Limits, raw: dict, *, pnl: Decimal, day_pnl: Decimal) -> str | None:
    """Why the bot must stop now (its loss limits), or None; keeps the P&L peak in ``raw``."""
    peak = max(Decimal(raw.get("pnl_peak") or pnl), pnl)
    raw["pnl_peak"] = str(peak)
    if limits.max_daily_loss_usd is not None and day_pnl < -limits.max_daily_loss_usd:
        return DAILY_LOSS.format(pnl=day_pnl, limit=limits.max_daily_loss_usd)
    if limits.max_drawdown_usd is not None and peak - pnl > limits.max_drawdown_usd:
        return DRAWDOWN.format(pnl=pnl, drop=peak - pnl, peak=peak, limit=limits.max_drawdown_usd)
    return None


def refusal(limits: Limits, intent: OrderIntent, *, amount: Decimal, price: Decimal, reference: Decimal | None,
            position: Decimal, base_available: Decimal | None, quote_available: Decimal | None,
            placed_last_minute: int) -> str | None:
    """Why this intent must not be placed, or None."""
    value = amount * price
    if limits.max_orders_per_minute is not None and placed_last_minute >= limits.max_orders_per_minute:
        return TOO_MANY.format(limit=limits.max_orders_per_minute)
    if limits.max_order_usd is not None and value > limits.max_order_usd:
        return TOO_BIG.format(value=value, limit=limits.max_order_usd)
    after = position + amount if intent.side == BUY else position - amount
    if limits.max_position is not None and abs(after) > limits.max_position and abs(after) > abs(position):
        return POSITION.format(position=after, limit=limits.max_position)
    if intent.side == BUY and limits.min_quote_kept is not None and quote_available is not None \
            and quote_available - value < limits.min_quote_kept:
        return QUOTE_KEPT.format(limit=limits.min_quote_kept)
    if intent.side != BUY and limits.min_base_kept is not None and base_available is not None \
            and base_available - amount < limits.min_base_kept:
        return BASE_KEPT.format(limit=limits.min_base_kept)
    if limits.price_band_pct is not None and reference:
        if abs(price - reference) / reference * 100 > limits.price_band_pct:
            return OUT_OF_BAND.format(price=price, limit=limits.price_band_pct, reference=reference)
    return None
