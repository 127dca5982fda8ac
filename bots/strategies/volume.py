"""Volume: trade against the book toward a daily volume, random sizes and intervals, never with the account itself."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bots.config import VolumeConfig
from bots.strategies.common import BPS, choose_side, circuit_broken, take, uniform
from bots.strategies.types import BUY, IOC, LIMIT, BotState, Decision, MarketSnapshot, OrderIntent

STOPPED_BY = {
    "own order": "the best {side} price is the account's own order",
    "price impact": "not enough depth within the maximum price impact",
    "depth": "not enough depth on the book",
}


def decide(market: MarketSnapshot, state: BotState, config: VolumeConfig, rng: random.Random,
           now: datetime) -> Decision:
    """At most one taking trade; a marketable IOC limit priced short of every resting order of the account."""
    if state.next_trade_at is not None and now < state.next_trade_at:
        return Decision.skip(f"next trade due at {state.next_trade_at.isoformat()}", next_trade_at=state.next_trade_at)
    mid = market.mid
    if mid is None or mid <= 0:
        return Decision.skip("the order book has no bid or no ask")
    spread_bps = (market.best_ask - market.best_bid) / mid * BPS
    if spread_bps > config.max_spread_bps:
        return Decision.skip(f"book spread {spread_bps:.1f} bps is wider than {config.max_spread_bps} bps")
    if circuit_broken(mid, state, config.circuit_breaker_pct):
        return Decision.skip(f"circuit breaker: price more than {config.circuit_breaker_pct}% below the session start")
    if state.day_volume_quote >= config.daily_volume_usd:
        return Decision.skip("daily volume target reached")
    loss_left = None
    if config.daily_loss_cap_usd is not None:
        loss_left = config.daily_loss_cap_usd + state.day_pnl_quote
        if loss_left <= 0:
            return Decision.skip("daily loss cap reached")
    side, why = choose_side(rng, state, config.buy_ratio, config.max_consecutive_same_side,
                            config.max_position_imbalance)
    size = uniform(rng, config.min_trade_usd, config.max_trade_usd)
    size = min(size, max(config.daily_volume_usd - state.day_volume_quote, config.min_trade_usd))
    if side == BUY and config.daily_budget_usd is not None:
        budget_left = config.daily_budget_usd - state.day_bought_quote
        if budget_left < config.min_trade_usd:
            return Decision.skip(f"daily budget spent (buy chosen: {why})")
        size = min(size, budget_left)
    taken = take(market, side, size, config.max_price_impact_bps)
    if taken.cost < config.min_trade_usd or taken.amount <= 0:
        reason = STOPPED_BY.get(taken.stopped_by, STOPPED_BY["depth"]).format(side=side)
        return Decision.skip(f"{reason} for a {side} of at least {config.min_trade_usd}")
    if loss_left is not None and taken.slippage_cost >= loss_left:
        return Decision.skip("the trade's cost against the mid could breach the daily loss cap")
    if side == BUY and market.quote_available is not None and market.quote_available < taken.cost:
        return Decision.skip(f"not enough {market.quote} to buy (no switching sides)")
    if side != BUY and market.base_available is not None and market.base_available < taken.amount:
        return Decision.skip(f"not enough {market.base} to sell (no switching sides)")
    intent = OrderIntent(side=side, kind=LIMIT, amount=taken.amount, price=taken.worst_price, time_in_force=IOC,
                         max_price_impact_bps=config.max_price_impact_bps, note=why)
    wait_s = rng.randint(config.interval_min_seconds, config.interval_max_seconds)
    return Decision(place=(intent,), next_trade_at=now + timedelta(seconds=wait_s))
