"""Plain-value builders for strategy tests."""
import random
from datetime import datetime, timezone
from decimal import Decimal as D

from bots.config import parse_config
from bots.strategies.types import BUY, SELL, BotState, MarketSnapshot, RestingOrder

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
BOT = 7
OTHER_BOT = 8


def book(mid="100", spread="0.2", depth=10, step="0.1", size="5"):
    mid, spread, step, size = D(mid), D(spread), D(step), D(size)
    bids = tuple((mid - spread / 2 - step * i, size) for i in range(depth))
    asks = tuple((mid + spread / 2 + step * i, size) for i in range(depth))
    return bids, asks


def market(symbol="SHARP/USDT", orders=(), mid="100", spread="0.2", depth=10, **fields):
    bids, asks = book(mid, spread, depth)
    values = {"symbol": symbol, "at": NOW, "bids": bids, "asks": asks, "last": D(mid), "account_orders": tuple(orders),
              "base_available": D(1000000), "quote_available": D(1000000), "sol_available": D(10)}
    values.update(fields)
    return MarketSnapshot(**values)


def order(order_id, side, price, remaining="1", bot_id=BOT, placed_at=None):
    return RestingOrder(order_id=order_id, side=side, price=D(price), remaining=D(remaining), bot_id=bot_id,
                        placed_at=placed_at)


def state(**fields):
    return BotState(bot_id=BOT, **fields)


def config(bot_type, **values):
    return parse_config(bot_type, values)


def rng(seed=1):
    return random.Random(seed)


__all__ = ["BUY", "SELL", "D", "NOW", "BOT", "OTHER_BOT", "market", "order", "state", "config", "rng", "book"]
