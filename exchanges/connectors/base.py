"""The one small interface every venue implements.

Connectors return plain dataclasses with Decimal fields; nothing outside ``exchanges/`` imports
ccxt or solana. Every method is synchronous, bounded by a timeout, and raises only
``exchanges.errors.ExchangeError`` subclasses. Connectors never touch the database except the
paper exchange, whose state *is* database rows, and Jupiter's injected store of sent swaps;
callers must not hold a transaction or row lock around any call.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal


# Python's default context keeps 28 digits; 18-decimal amounts with large integer parts need more.
EXACT = Context(prec=100)


@dataclass(frozen=True)
class Credentials:
    """Decrypted credentials; lives only inside a connector. repr never shows a value."""

    api_key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    memo: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Market:
    symbol: str  # unified BASE/QUOTE
    base: str
    quote: str
    exchange_symbol: str  # the venue's own spelling, e.g. SHARPUSDT
    price_step: Decimal  # smallest price increment
    amount_step: Decimal  # smallest base amount increment
    min_amount: Decimal = Decimal(0)  # base
    min_notional: Decimal = Decimal(0)  # quote
    active: bool = True


@dataclass(frozen=True)
class AssetBalance:
    asset: str
    available: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return EXACT.add(self.available, self.locked)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    at: datetime

    @property
    def mid(self) -> Decimal | None:
        if self.bid is not None and self.ask is not None:
            return EXACT.divide(EXACT.add(self.bid, self.ask), 2)
        return None


@dataclass(frozen=True)
class OrderBook:
    symbol: str
    bids: list[tuple[Decimal, Decimal]]  # (price, amount), best first
    asks: list[tuple[Decimal, Decimal]]
    at: datetime


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str  # "buy" | "sell"
    kind: str  # "limit" | "market"
    amount: Decimal  # base
    client_order_id: str
    price: Decimal | None = None  # limit only


@dataclass(frozen=True)
class OrderInfo:
    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: str
    kind: str
    amount: Decimal
    price: Decimal | None
    filled: Decimal
    status: str  # "open" | "filled" | "canceled" | "rejected"
    created_at: datetime | None = None
    fee: Decimal | None = None  # in fee_currency, when the venue says it (a swap's network fee)
    fee_currency: str = ""


@dataclass(frozen=True)
class TradeFill:
    exchange_trade_id: str
    order_id: str
    symbol: str
    side: str
    amount: Decimal  # base
    price: Decimal
    cost: Decimal  # quote
    fee: Decimal
    fee_currency: str
    traded_at: datetime


class Connector(abc.ABC):
    """One exchange account's view of one venue."""

    exchange_id: str
    _before_request: Callable[[], None] | None = None

    @property
    def before_request(self) -> Callable[[], None] | None:
        """Called before every HTTP request the connector sends (the guard's throttle), or None."""
        return self._before_request

    @before_request.setter
    def before_request(self, hook: Callable[[], None] | None) -> None:
        self._before_request = hook
        for sender in self.request_senders():
            sender.before_request = hook

    def request_senders(self) -> list:
        """The parts that send this connector's HTTP requests and call ``before_request`` first.

        Found as the connector's attributes whose class declares ``before_request`` (the Coinstore
        transport, ccxt's hardened exchange, the Solana RPC and Jupiter API clients). A connector
        with none (the paper exchange) sends no requests; the guard then throttles per call.
        """
        return [
            part for part in vars(self).values()
            if not isinstance(part, Connector) and hasattr(type(part), "before_request")
        ]

    @abc.abstractmethod
    def load_markets(self) -> dict[str, Market]: ...

    @abc.abstractmethod
    def fetch_balance(self) -> list[AssetBalance]: ...

    @abc.abstractmethod
    def fetch_ticker(self, symbol: str) -> Ticker: ...

    @abc.abstractmethod
    def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook: ...

    @abc.abstractmethod
    def create_order(self, request: OrderRequest) -> OrderInfo: ...

    @abc.abstractmethod
    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None: ...

    @abc.abstractmethod
    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]: ...

    @abc.abstractmethod
    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo: ...

    @abc.abstractmethod
    def fetch_my_trades(self, symbol: str, since: datetime | None = None, limit: int = 500) -> list[TradeFill]:
        """Every fill at or after ``since``, oldest first, up to ``limit``, so a caller can page
        forward; or ExchangeError(code="too_many_trades") when the venue cannot reach back that
        far. Never a silent partial list: the ledger's cursor moves past whatever is returned."""

    def market(self, symbol: str) -> Market:
        from exchanges.errors import InvalidOrder

        markets = self.load_markets()
        if symbol not in markets:
            raise InvalidOrder(f"Unknown market {symbol}", exchange=self.exchange_id, symbol=symbol)
        return markets[symbol]

    def close(self) -> None:
        """Release sockets; the default holds none."""
