"""DEX (Solana/Jupiter): swaps toward a daily volume, or buy/sell an amount in slices (TWAP), keeping SOL for fees."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from bots.config import DexConfig
from bots.strategies.common import BPS, choose_side, uniform
from bots.strategies.types import BUY, MARKET, SELL, BotState, Decision, MarketSnapshot, OrderIntent

SOL = frozenset({"SOL", "WSOL"})


def _sol_spent(market: MarketSnapshot, side: str, base: Decimal, quote: Decimal) -> Decimal:
    """SOL the swap itself takes from the wallet (fees come on top, which is what min_sol_kept is for)."""
    if side == BUY and market.quote in SOL:
        return quote
    if side == SELL and market.base in SOL:
        return base
    return Decimal(0)


def decide(market: MarketSnapshot, state: BotState, config: DexConfig, rng: random.Random,
           now: datetime) -> Decision:
    """At most one swap, sized so the wallet keeps `min_sol_kept` SOL after it."""
    if state.next_trade_at is not None and now < state.next_trade_at:
        return Decision.skip(f"next trade due at {state.next_trade_at.isoformat()}", next_trade_at=state.next_trade_at)
    price = market.mid if market.mid is not None else market.last
    if price is None or price <= 0:
        return Decision.skip("no price for the pair")
    if market.sol_available is None:
        return Decision.skip("the wallet's SOL balance is unknown")
    sol_free = market.sol_available - config.min_sol_kept
    if sol_free <= 0:
        return Decision.skip(f"SOL balance {market.sol_available} is at or below the {config.min_sol_kept} kept for fees")
    if config.daily_loss_cap_usd is not None and state.day_pnl_quote <= -config.daily_loss_cap_usd:
        return Decision.skip("daily loss cap reached")

    if config.mode == "volume":
        if state.day_volume_quote >= config.daily_volume_usd:
            return Decision.skip("daily volume target reached")
        side, why = choose_side(rng, state, config.buy_ratio, config.max_consecutive_same_side)
        quote = uniform(rng, config.min_trade_usd, config.max_trade_usd)
        quote = min(quote, max(config.daily_volume_usd - state.day_volume_quote, config.min_trade_usd))
        floor = config.min_trade_usd
    else:
        side, why = (BUY if config.mode == "buy" else SELL), "twap"
        left = config.twap_amount - state.twap_done_base
        if left <= 0:
            return Decision.skip("TWAP target reached")
        quote = min(config.twap_slice, left) * price
        floor = Decimal(0)
    if side == BUY and config.daily_budget_usd is not None:
        quote = min(quote, config.daily_budget_usd - state.day_bought_quote)
        if quote <= 0 or quote < floor:
            return Decision.skip("daily budget spent")
    if side == BUY and config.max_buy_price is not None and price > config.max_buy_price:
        return Decision.skip(f"price {price} is above max_buy_price {config.max_buy_price}")
    if side == SELL and config.min_sell_price is not None and price < config.min_sell_price:
        return Decision.skip(f"price {price} is below min_sell_price {config.min_sell_price}")

    base = quote / price
    spent = _sol_spent(market, side, base, quote)
    if spent > sol_free:
        # Shrink the swap to exactly what leaves min_sol_kept (set, not scaled: a 28-digit
        # quotient can round a hair above it); too small to be worth a trade is a skip.
        if side == BUY:
            quote, base = sol_free, sol_free / price
        else:
            base, quote = sol_free, sol_free * price
        if quote < floor or quote <= 0:
            return Decision.skip(f"the swap would leave less than {config.min_sol_kept} SOL for fees")
    if side == BUY and market.quote_available is not None and market.quote_available < quote:
        return Decision.skip(f"not enough {market.quote} to buy (no switching sides)")
    if side == SELL and market.base_available is not None and market.base_available < base:
        return Decision.skip(f"not enough {market.base} to sell (no switching sides)")

    impact = config.max_price_impact_bps / BPS
    if side == BUY:
        worst = price * (1 + impact)
        if config.max_buy_price is not None:
            worst = min(worst, config.max_buy_price)
        intent = OrderIntent(side=BUY, kind=MARKET, amount=None, quote_amount=quote, price=worst,
                             slippage_bps=config.slippage_bps, max_price_impact_bps=config.max_price_impact_bps,
                             note=why)
    else:
        worst = price * (1 - impact)
        if config.min_sell_price is not None:
            worst = max(worst, config.min_sell_price)
        intent = OrderIntent(side=SELL, kind=MARKET, amount=base, price=worst, slippage_bps=config.slippage_bps,
                             max_price_impact_bps=config.max_price_impact_bps, note=why)
    wait_s = rng.randint(config.interval_min_seconds, config.interval_max_seconds)
    return Decision(place=(intent,), next_trade_at=now + timedelta(seconds=wait_s))
