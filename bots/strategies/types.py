"""What a strategy sees and what it answers: plain frozen dataclasses with Decimal fields.

Prices are quote per base, amounts base, `_quote` sums quote currency. Nothing here is rounded:
the engine rounds intents to the market's steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

BUY, SELL = "buy", "sell"
LIMIT, MARKET = "limit", "market"
GTC, IOC = "gtc", "ioc"  # rests on the book / takes what it can now, the rest is cancelled
SKIPPED = "Trade skipped: {why}"


def opposite(side: str) -> str:
    return SELL if side == BUY else BUY


@dataclass(frozen=True)
class RestingOrder:
    """An order of the bot's exchange account resting on the book, whichever bot placed it."""

    order_id: str  # what a cancel names
    side: str
    price: Decimal
    remaining: Decimal  # base still open
    bot_id: int | None = None  # the platform bot that placed it; None when placed outside the platform
    placed_at: datetime | None = None


@dataclass(frozen=True)
class MarketSnapshot:
    """The market and the account as the engine read them just before the tick."""

    symbol: str  # BASE/QUOTE
    at: datetime
    bids: tuple[tuple[Decimal, Decimal], ...] = ()  # (price, amount), best first; the account's own orders included
    asks: tuple[tuple[Decimal, Decimal], ...] = ()
    last: Decimal | None = None
    reference_mid: Decimal | None = None  # another account's mid, when the config prices from it
    account_orders: tuple[RestingOrder, ...] = ()  # every resting order of the account on this symbol
    base_available: Decimal | None = None  # None: not known, not checked
    quote_available: Decimal | None = None
    base_total: Decimal | None = None  # available + locked, for inventory
    quote_total: Decimal | None = None
    sol_available: Decimal | None = None  # DEX: the wallet's SOL, which also pays fees

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0].upper()

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[-1].upper()

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2


@dataclass(frozen=True)
class BotState:
    """What the engine remembers of the bot between ticks; the day is the UTC day."""

    bot_id: int
    next_trade_at: datetime | None = None
    day_bought_quote: Decimal = Decimal(0)
    day_sold_quote: Decimal = Decimal(0)
    day_pnl_quote: Decimal = Decimal(0)  # realized P&L after fees since the day began; negative is a loss
    last_side: str | None = None
    same_side_count: int = 0  # trades in a row on last_side
    session_start_price: Decimal | None = None  # for the circuit breaker
    recent_mids: tuple[Decimal, ...] = ()  # oldest first, for volatility widening
    twap_done_base: Decimal = Decimal(0)
    # The operator changed the config since the last tick: orders placed under the old one are
    # replaced even when within tolerance (a tolerance that grows with the spread would keep them).
    config_changed: bool = False

    @property
    def day_volume_quote(self) -> Decimal:
        return self.day_bought_quote + self.day_sold_quote


@dataclass(frozen=True)
class OrderIntent:
    side: str
    kind: str  # limit or market
    amount: Decimal | None  # base; None for a DEX buy sized in quote
    price: Decimal | None = None  # limit price; for a taker, the worst price it accepts
    quote_amount: Decimal | None = None  # DEX buy: quote to spend
    time_in_force: str = GTC
    slippage_bps: Decimal | None = None
    max_price_impact_bps: Decimal | None = None
    note: str = ""  # e.g. "bid 2": which level or why, for logs


@dataclass(frozen=True)
class Decision:
    place: tuple[OrderIntent, ...] = ()
    cancel: tuple[str, ...] = ()  # order ids of the bot's own resting orders
    skipped: str = ""  # "Trade skipped: <why>" when nothing is placed
    next_trade_at: datetime | None = None  # when to act next; None: at the next tick

    @classmethod
    def skip(cls, why: str, **fields) -> Decision:
        return cls(skipped=SKIPPED.format(why=why), **fields)

    @property
    def is_idle(self) -> bool:
        return not self.place and not self.cancel
