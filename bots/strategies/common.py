"""Arithmetic the strategies share: random Decimals, side choice, taking the book without self-matching."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bots.strategies.types import BUY, SELL, BotState, MarketSnapshot, opposite

BPS = Decimal(10000)
STEPS = 1_000_000  # resolution of a random draw between two Decimals


def uniform(rng, low: Decimal, high: Decimal) -> Decimal:
    """A Decimal in [low, high] from `rng` (random.Random), without passing through a float."""
    if high <= low:
        return low
    return low + (high - low) * Decimal(rng.randrange(STEPS + 1)) / STEPS


def chance(rng, probability: Decimal) -> bool:
    return Decimal(rng.randrange(STEPS)) / STEPS < probability


def clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))


def choose_side(rng, state: BotState, buy_ratio: Decimal, max_same_side: int,
                max_imbalance: Decimal | None = None) -> tuple[str, str]:
    """The next taker side and why: the same-side cap first, then the imbalance limit, else a draw pulled toward the ratio."""
    if state.last_side in (BUY, SELL) and state.same_side_count >= max_same_side:
        return opposite(state.last_side), f"{state.same_side_count} {state.last_side}s in a row"
    total = state.day_volume_quote
    share = state.day_bought_quote / total if total > 0 else buy_ratio
    if max_imbalance is not None and total > 0 and abs(share - buy_ratio) > max_imbalance:
        return (BUY if share < buy_ratio else SELL), "imbalance"
    # Pull the draw toward the target: behind on buys, buy more often, so the day's ratio converges.
    probability = clamp(buy_ratio + (buy_ratio - share), Decimal(0), Decimal(1))
    return (BUY if chance(rng, probability) else SELL), "random"


def circuit_broken(price: Decimal, state: BotState, breaker_pct: Decimal) -> bool:
    start = state.session_start_price
    return breaker_pct > 0 and start is not None and start > 0 and price < start * (1 - breaker_pct / 100)


def own_edge(market: MarketSnapshot, side: str) -> Decimal | None:
    """The price a `side` taker must stay strictly inside of, not to meet the account's own orders.

    A buy must stay below the account's lowest ask, a sell above its highest bid, whichever bot owns it.
    """
    if side == BUY:
        asks = [order.price for order in market.account_orders if order.side == SELL]
        return min(asks) if asks else None
    bids = [order.price for order in market.account_orders if order.side == BUY]
    return max(bids) if bids else None


@dataclass(frozen=True)
class Take:
    amount: Decimal  # base
    cost: Decimal  # quote at the levels' prices
    worst_price: Decimal | None
    slippage_cost: Decimal  # quote given up against the mid
    stopped_by: str  # why it did not take more: "", "own order", "price impact", "depth"


def take(market: MarketSnapshot, side: str, quote_size: Decimal, max_impact_bps: Decimal) -> Take:
    """Walk the other side of the book for up to `quote_size`, within the impact limit, never reaching own orders."""
    mid = market.mid
    levels = market.asks if side == BUY else market.bids
    edge = own_edge(market, side)
    limit = mid * (1 + max_impact_bps / BPS) if side == BUY else mid * (1 - max_impact_bps / BPS)
    amount = cost = slippage = Decimal(0)
    worst, stopped_by = None, "depth"
    for price, size in levels:
        if edge is not None and (price >= edge if side == BUY else price <= edge):
            stopped_by = "own order"
            break
        if price > limit if side == BUY else price < limit:
            stopped_by = "price impact"
            break
        left = quote_size - cost
        if left <= 0:
            stopped_by = ""
            break
        part = min(size, left / price)
        if part <= 0:
            continue
        amount, cost, worst = amount + part, cost + part * price, price
        slippage += part * abs(price - mid)
    if cost >= quote_size:
        stopped_by = ""
    return Take(amount, cost, worst, slippage, stopped_by)
