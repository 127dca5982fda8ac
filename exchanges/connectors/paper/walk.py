"""The paper exchange's price: a seeded random walk over wall-time steps, and a book around it.

Every number here is a pure function of the market's seed and parameters, so any process
computes the same price for the same step, and the path can be replayed from any checkpoint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

PRICE_SCALE = Decimal("1e-12")
BPS = Decimal("0.0001")
# Pull towards the initial price per step, so a demo market does not drift to 0 or infinity.
REVERSION = Decimal("0.0005")
_TWO_64 = Decimal(2**64)
# One fixed arithmetic context, so no caller's decimal settings can change a price.
WALK_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class WalkSpec:
    seed: int
    initial_price: Decimal
    volatility_bps: Decimal
    origin_at: datetime
    step_ms: int

    def step_at(self, at: datetime) -> int:
        """The last step that has started at wall time ``at`` (0 before the origin)."""
        delta = at - self.origin_at
        elapsed_ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return max(0, elapsed_ms // self.step_ms)

    def time_of(self, step: int) -> datetime:
        return self.origin_at + timedelta(milliseconds=step * self.step_ms)


def unit_noise(seed: int, *parts: int) -> Decimal:
    """A deterministic number in [-1, 1) for (seed, parts)."""
    text = ":".join(str(p) for p in (seed, *parts)).encode()
    value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
    with localcontext(WALK_CONTEXT):
        return Decimal(value * 2) / _TWO_64 - 1


def walk(spec: WalkSpec, from_step: int, from_price: Decimal, to_step: int) -> list[Decimal]:
    """Prices for steps ``from_step + 1 .. to_step``, starting from the price at ``from_step``."""
    prices = []
    with localcontext(WALK_CONTEXT):
        volatility = spec.volatility_bps * BPS
        floor = (spec.initial_price / 1000).quantize(PRICE_SCALE) or PRICE_SCALE
        price = from_price
        for step in range(from_step + 1, to_step + 1):
            move = volatility * unit_noise(spec.seed, step) - REVERSION * (price / spec.initial_price - 1)
            price = max(floor, (price * (1 + move)).quantize(PRICE_SCALE))
            prices.append(price)
    return prices


def price_at(spec: WalkSpec, step: int, checkpoint: tuple[int, Decimal] | None = None) -> Decimal:
    """The reference price at ``step``; replays from the checkpoint when it is not later."""
    from_step, from_price = checkpoint if checkpoint and checkpoint[0] <= step else (0, spec.initial_price)
    if step <= from_step:
        return from_price
    return walk(spec, from_step, from_price, step)[-1]


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_CEILING) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return value % step == 0
    except InvalidOperation:  # more digits than the context holds: certainly not on the grid
        return False


def synth_book(
    *,
    seed: int,
    step: int,
    mid: Decimal,
    spread_bps: Decimal,
    depth_quote: Decimal,
    price_step: Decimal,
    amount_step: Decimal,
    levels: int,
) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """Bids and asks (best first) around ``mid``: levels a spread apart, deeper further out."""
    half = mid * spread_bps * BPS / 2
    gap = max(price_step, mid * spread_bps * BPS / 2)
    bids, asks = [], []
    for level in range(levels):
        size_factor = (1 + Decimal(level) / 2) * (1 + unit_noise(seed, step, level) / 4)
        bid = floor_to(mid - half - gap * level, price_step)
        ask = ceil_to(mid + half + gap * level, price_step)
        if bids and bid >= bids[-1][0]:
            bid = bids[-1][0] - price_step
        if asks and ask <= asks[-1][0]:
            ask = asks[-1][0] + price_step
        if bid > 0:
            amount = floor_to(depth_quote * size_factor / bid, amount_step)
            if amount > 0:
                bids.append((bid, amount))
        amount = floor_to(depth_quote * size_factor / ask, amount_step)
        if amount > 0:
            asks.append((ask, amount))
    return bids, asks
