"""Spread (market making): bid and ask ladders around a reference price, kept while within tolerance."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from bots.config import SpreadConfig
from bots.strategies.common import BPS, circuit_broken, clamp, uniform
from bots.strategies.types import BUY, GTC, LIMIT, SELL, BotState, Decision, MarketSnapshot, OrderIntent

VOLATILITY_WINDOW = 10  # mids needed before volatility can widen the spread


def reference_price(market: MarketSnapshot, config: SpreadConfig) -> Decimal | None:
    if config.price_source == "last":
        return market.last
    if config.price_source == "reference":
        return market.reference_mid
    return market.mid


def widening(state: BotState, price: Decimal, config: SpreadConfig) -> Decimal:
    """The earlier system's rule: when the mean tick-to-tick move exceeds half the spread, widen, up to the factor."""
    mids = (*state.recent_mids, price)
    if len(mids) < VOLATILITY_WINDOW:
        return Decimal(1)
    moves = [abs(b - a) / a for a, b in zip(mids, mids[1:]) if a > 0]
    half = (config.bid_distance + config.ask_distance) / 2
    if not moves or half <= 0:
        return Decimal(1)
    mean = sum(moves) / len(moves)
    return clamp(mean / half, Decimal(1), config.volatility_widen_factor)


def inventory_shift(market: MarketSnapshot, price: Decimal, config: SpreadConfig) -> Decimal:
    """Fraction to move both ladders by: down when holding more base than the target share, up when less."""
    if config.inventory_skew_bps <= 0:
        return Decimal(0)
    base = market.base_total if market.base_total is not None else market.base_available
    quote = market.quote_total if market.quote_total is not None else market.quote_available
    if base is None or quote is None:
        return Decimal(0)
    value = base * price + quote
    if value <= 0:
        return Decimal(0)
    target = config.inventory_target_pct / 100
    room = max(target, 1 - target)
    deviation = clamp((base * price / value - target) / room, Decimal(-1), Decimal(1))
    return -deviation * config.inventory_skew_bps / BPS


def ladder(market: MarketSnapshot, state: BotState, config: SpreadConfig, rng, price: Decimal) -> list[OrderIntent]:
    """The orders the bot wants resting, best first per side, before tolerance and crossing checks."""
    widen = widening(state, price, config)
    centre = price * (1 + inventory_shift(market, price, config))
    spacing = config.level_spacing_bps / BPS
    wanted = []
    for level in range(config.levels):
        for side, distance in ((BUY, config.bid_distance), (SELL, config.ask_distance)):
            offset = distance * widen + spacing * level
            level_price = centre * (1 - offset) if side == BUY else centre * (1 + offset)
            if level_price <= 0:
                continue
            if side == SELL and config.price_floor is not None and level_price < config.price_floor:
                continue  # never sell below the floor
            if side == BUY and config.price_ceiling is not None and level_price > config.price_ceiling:
                continue  # never buy above the ceiling
            if config.order_amount is not None:
                amount = config.order_amount
            elif config.order_size_usd is not None:
                amount = config.order_size_usd / level_price
            else:
                amount = uniform(rng, config.order_size_min_usd, config.order_size_max_usd) / level_price
            wanted.append(OrderIntent(side=side, kind=LIMIT, amount=amount, price=level_price, time_in_force=GTC,
                                      note=f"{'bid' if side == BUY else 'ask'} {level + 1}"))
    return wanted


def _fresh(order, config: SpreadConfig, now: datetime) -> bool:
    if config.max_order_age_seconds is None or order.placed_at is None:
        return True
    return (now - order.placed_at).total_seconds() < config.max_order_age_seconds


def decide(market: MarketSnapshot, state: BotState, config: SpreadConfig, rng: random.Random,
           now: datetime) -> Decision:
    """Cancel own orders off target (beyond tolerance, too old, crossing), place the missing levels.

    No intent crosses any order of the account resting now (other bots' and this bot's, including
    those being cancelled, since cancels may land after placements), nor the other side's best
    price: the ladder only ever rests.
    """
    own = [order for order in market.account_orders if order.bot_id == state.bot_id]
    price = reference_price(market, config)
    if price is None or price <= 0:
        return Decision.skip(f"no {config.price_source} price", cancel=tuple(o.order_id for o in own))
    if circuit_broken(price, state, config.circuit_breaker_pct):
        return Decision.skip(f"circuit breaker: price more than {config.circuit_breaker_pct}% below the session start",
                             cancel=tuple(o.order_id for o in own))
    wanted = ladder(market, state, config, rng, price)
    others = [order for order in market.account_orders if order.bot_id != state.bot_id]
    others_low_ask = min((o.price for o in others if o.side == SELL), default=None)
    others_high_bid = max((o.price for o in others if o.side == BUY), default=None)

    # Pair own orders with wanted levels closest first, so an order exactly on its level is never
    # taken by a neighbour within tolerance (which would re-place that level on every tick).
    usable = [] if state.config_changed else [order for order in own if _fresh(order, config, now) and not (
        (order.side == BUY and others_low_ask is not None and order.price >= others_low_ask)
        or (order.side == SELL and others_high_bid is not None and order.price <= others_high_bid))]
    pairs = sorted(
        (abs(order.price - want.price), o, w)
        for o, order in enumerate(usable) for w, want in enumerate(wanted)
        if order.side == want.side and abs(order.price - want.price) <= config.tolerance * want.price)
    matched_orders, matched_wants = set(), set()
    for _, o, w in pairs:
        if o not in matched_orders and w not in matched_wants:
            matched_orders.add(o)
            matched_wants.add(w)
    kept = [usable[o] for o in sorted(matched_orders)]
    kept_ids = {order.order_id for order in kept}
    cancel = [order.order_id for order in own if order.order_id not in kept_ids]
    unmatched = [want for w, want in enumerate(wanted) if w not in matched_wants]

    # Resting now, whatever is being cancelled: a cancel may land after the placements.
    low_ask = min([o.price for o in market.account_orders if o.side == SELL]
                  + ([market.best_ask] if market.best_ask is not None else []), default=None)
    high_bid = max([o.price for o in market.account_orders if o.side == BUY]
                   + ([market.best_bid] if market.best_bid is not None else []), default=None)
    place, crossing = [], 0
    for intent in unmatched:
        if intent.side == BUY and low_ask is not None and intent.price >= low_ask:
            crossing += 1
        elif intent.side == SELL and high_bid is not None and intent.price <= high_bid:
            crossing += 1
        else:
            place.append(intent)
    # The ladder's own sides: bids all below asks, including the ones it keeps.
    new_low_ask = min([i.price for i in place if i.side == SELL] + [o.price for o in kept if o.side == SELL],
                      default=None)
    if new_low_ask is not None:
        before = len(place)
        place = [i for i in place if i.side == SELL or i.price < new_low_ask]
        crossing += before - len(place)

    if place or cancel:
        return Decision(place=tuple(place), cancel=tuple(cancel))
    if crossing:
        return Decision.skip(f"{crossing} level(s) would cross the account's own orders or the book")
    if not wanted:
        return Decision.skip("every level is outside the price floor and ceiling")
    return Decision.skip(f"{len(kept)} order(s) within tolerance")
