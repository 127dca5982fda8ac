"""CcxtConnector: one account at any ccxt exchange (BitMart first) behind the Connector interface.

Markets are loaded once per exchange and API URL and shared by every connector in the process
for ``MARKETS_TTL_S`` (BitMart's load costs three calls). Every ccxt failure leaves as an
``exchanges.errors`` error carrying the exchange's code and message, credentials masked.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal

import ccxt
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from exchanges import errors
from exchanges.connectors.base import (
    AssetBalance,
    Connector,
    Credentials,
    Market,
    OrderBook,
    OrderInfo,
    OrderRequest,
    Ticker,
    TradeFill,
)
from exchanges.connectors.ccxt import wire
from exchanges.connectors.ccxt.quantize import quantize_order
from exchanges.connectors.ccxt.wire import at_ms, dec, plain
from pipelabs.logging import register_secret

logger = logging.getLogger(__name__)

MARKETS_TTL_S = 600
TRADES_PAGE = 200  # BitMart's largest page of own trades
TRADES_WINDOW_MIN_MS = 3_600_000  # the first window read forward from a cursor: 1 hour
TRADES_WINDOW_MAX_MS = 30 * 86_400_000  # empty windows double up to 30 days
TRADES_WINDOW_AIM = 150  # trades a window should hold: room below the page of 200
TRADES_MAX_REQUESTS = 200  # per call; the caller's next call goes on from the newest fill returned
STUCK_PAGE = "{count} trades share one millisecond; cannot page past it."
NO_TRADE_ID = "{exchange} sent a fill without a trade id"
NO_TRADE_TIME = "{exchange} sent fill {trade_id} without a time"
ORDER_ID_NEEDED = "Give an exchange order id or a client order id."

ALREADY_CLOSED_CODES = {"bitmart": {"50030", "50031"}}  # cancel of a canceled / completed order
STATUSES = {"open": "open", "closed": "filled", "canceled": "canceled", "expired": "canceled", "rejected": "rejected"}
_UNEXPECTED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

# (exchange id, api url) -> (loaded at, the ccxt instance holding the markets, our markets)
_markets: dict[tuple[str, str], tuple[float, object, dict[str, Market]]] = {}
_markets_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def _markets_lock(key: tuple[str, str]) -> threading.Lock:
    with _locks_lock:
        return _markets_locks.setdefault(key, threading.Lock())


def _fill_key(trade: dict) -> tuple:
    # Both sides of a self-trade carry one trade id: keyed by id alone, one side would be lost.
    return trade.get("id"), trade.get("side")


class CcxtConnector(Connector):
    """One account at one ccxt exchange; calls are synchronous and bounded by ``timeout_s``."""

    def __init__(self, exchange_id: str, credentials: Credentials, *, api_url: str | None = None, timeout_s: float = 10.0):
        self.exchange_id = exchange_id
        self.api_url = api_url or ""
        self._trades_span_ms = TRADES_WINDOW_MIN_MS  # BitMart's trade window width, learnt as it reads
        self._secrets = tuple(
            v for v in (credentials.api_key, credentials.secret, credentials.memo, credentials.passphrase) if v
        )
        for value in self._secrets:
            register_secret(value)
        self._exchange = wire.exchange_class(exchange_id)(
            {
                "apiKey": credentials.api_key,
                "secret": credentials.secret,
                "uid": credentials.memo,  # BitMart's memo
                "password": credentials.passphrase,
                "timeout": int(timeout_s * 1000),
                "enableRateLimit": False,  # our guard throttles
            }
        )
        self._exchange.logger = wire.SILENT
        if api_url:
            self._exchange.urls["api"] = wire.aimed(self._exchange.urls["api"], api_url.rstrip("/"))

    def __repr__(self):
        return f"CcxtConnector({self.exchange_id!r}, api_url={self.api_url!r})"

    @property
    def timeout_s(self) -> float:
        return self._exchange.timeout / 1000

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        # The guard sets a budget per call kind (markets 10 s, balances 15 s, ...) before each call.
        self._exchange.timeout = int(value * 1000)

    # --- markets ------------------------------------------------------------------------------
    def load_markets(self) -> dict[str, Market]:
        key = (self.exchange_id, self.api_url)
        entry = _markets.get(key)
        if entry is None or time.monotonic() - entry[0] > MARKETS_TTL_S:
            with _markets_lock(key):
                entry = _markets.get(key)
                if entry is None or time.monotonic() - entry[0] > MARKETS_TTL_S:
                    self._call(self._exchange.load_markets, True)
                    loaded = self._parse(self._markets_from, self._exchange.markets)
                    entry = (time.monotonic(), self._exchange, loaded)
                    _markets[key] = entry
                    logger.info("Loaded %d %s markets", len(loaded), self.exchange_id)
        source = entry[1]
        if source is not self._exchange and self._exchange.markets is not source.markets:
            self._exchange.set_markets_from_exchange(source)
        return entry[2]

    def _markets_from(self, ccxt_markets: dict) -> dict[str, Market]:
        return {m["symbol"]: self._market_from(m) for m in ccxt_markets.values() if m.get("spot")}

    def _market_from(self, market: dict) -> Market:
        info, limits = market.get("info") or {}, market.get("limits") or {}
        if self.exchange_id == "bitmart":
            price_step = Decimal(1).scaleb(-int(info["price_max_precision"]))
            amount_step = dec(info.get("quote_increment")) or dec(info.get("base_min_size"))
            min_amount = dec(info.get("base_min_size"), Decimal(0))
            min_notional = max(dec(info.get("min_buy_amount"), Decimal(0)), dec(info.get("min_sell_amount"), Decimal(0)))
            # ccxt would truncate amounts to base_min_size; keep its rounding on the step we quantize to.
            market["precision"]["amount"] = str(amount_step)
        else:
            price_step = self._step(market["precision"].get("price"))
            amount_step = self._step(market["precision"].get("amount"))
            min_amount = dec((limits.get("amount") or {}).get("min"), Decimal(0))
            min_notional = dec((limits.get("cost") or {}).get("min"), Decimal(0))
        return Market(
            symbol=market["symbol"],
            base=market["base"],
            quote=market["quote"],
            exchange_symbol=market["id"],
            price_step=plain(price_step),
            amount_step=plain(amount_step),
            min_amount=min_amount,
            min_notional=min_notional,
            active=market.get("active") is not False,
        )

    def _step(self, precision) -> Decimal:
        if precision is None:
            return Decimal(0)
        if self._exchange.precisionMode == TICK_SIZE:
            return dec(precision)
        if self._exchange.precisionMode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(Decimal(str(precision))))
        return Decimal(0)  # significant digits: no fixed step

    # --- reads --------------------------------------------------------------------------------
    def fetch_balance(self) -> list[AssetBalance]:
        self.load_markets()
        raw = self._call(self._exchange.fetch_balance)
        skip = {"info", "free", "used", "total", "debt", "timestamp", "datetime"}
        return self._parse(lambda: [
            AssetBalance(asset=asset, available=dec(row.get("free"), Decimal(0)), locked=dec(row.get("used"), Decimal(0)))
            for asset, row in sorted(raw.items()) if asset not in skip and isinstance(row, dict)
        ])

    def fetch_ticker(self, symbol: str) -> Ticker:
        self.market(symbol)
        raw = self._call(self._exchange.fetch_ticker, symbol)
        return self._parse(lambda: Ticker(
            symbol=symbol,
            bid=dec(raw.get("bid")),
            ask=dec(raw.get("ask")),
            last=dec(raw.get("last")),
            at=at_ms(raw.get("timestamp")) or datetime.now(timezone.utc),
        ))

    def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        self.market(symbol)
        raw = self._call(self._exchange.fetch_order_book, symbol, depth)

        def levels(rows, highest_first: bool):
            parsed = [(dec(row[0]), dec(row[1])) for row in rows]
            return sorted(parsed, key=lambda level: level[0], reverse=highest_first)[:depth]

        return self._parse(lambda: OrderBook(
            symbol=symbol,
            bids=levels(raw.get("bids") or [], True),
            asks=levels(raw.get("asks") or [], False),
            at=at_ms(raw.get("timestamp")) or datetime.now(timezone.utc),
        ))

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        self.market(symbol)
        raw = self._call(self._exchange.fetch_open_orders, symbol)
        return self._parse(lambda: [self._order_from(order, symbol) for order in raw])

    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo:
        self.market(symbol)
        if exchange_order_id:
            raw = self._call(self._exchange.fetch_order, exchange_order_id, symbol)
        elif client_order_id:
            raw = self._call(self._exchange.fetch_order, "", symbol, {"clientOrderId": client_order_id})
        else:
            raise errors.InvalidOrder(ORDER_ID_NEEDED, exchange=self.exchange_id)
        if not raw.get("id"):
            # An empty answer is how some venues say "no such order".
            raise errors.OrderNotFound(exchange=self.exchange_id, order_id=exchange_order_id or client_order_id)
        return self._parse(self._order_from, raw, symbol, client_order_id)

    def fetch_my_trades(self, symbol: str, since: datetime | None = None, limit: int = 500) -> list[TradeFill]:
        """Own fills at or after ``since`` (inclusive: callers dedupe by trade id and side), oldest
        first, the first ``limit`` of them; without ``since``, the latest page.

        BitMart answers newest first, at most 200 rows, within ``startTime``..``endTime``: with a
        cursor it is read forward in time windows (see ``_bitmart_forward``), so a backlog of any
        size drains ``limit`` fills at a time.
        """
        self.market(symbol)
        if self.exchange_id == "bitmart" and since is not None:
            trades = self._bitmart_forward(symbol, wire.to_ms(since), limit)
        else:
            page = self._call(self._exchange.fetch_my_trades, symbol, None if since is None else wire.to_ms(since),
                              limit, {})
            trades = list({_fill_key(trade): trade for trade in page}.values())
        fills = self._parse(lambda: [self._fill_from(trade, symbol) for trade in trades])
        fills = [fill for fill in fills if since is None or fill.traded_at >= since]
        fills.sort(key=lambda fill: (fill.traded_at, fill.exchange_trade_id, fill.side))
        return fills[:limit]

    def _bitmart_forward(self, symbol: str, since_ms: int, limit: int) -> list[dict]:
        """Every trade from ``since_ms`` on, read in windows [start, end] moving forward, until
        ``limit`` are held or the windows reach the present.

        Windows aim at ~150 trades: one that comes back full (200, only the newest of it) is
        narrowed to the density it showed and read again; an empty one doubles (1 hour, up to 30
        days); the width carries over to the next call on this connector. The next window starts
        at the previous one's ``endTime``, so the boundary millisecond is read by both whether
        BitMart's ``endTime`` is inclusive or not (undocumented), and trades dedupe on (id, side).
        Only complete windows are kept, so what is returned is every trade from ``since_ms`` up
        to its newest. More than 200 trades in one millisecond cannot be read: too_many_trades.
        """
        now_ms = wire.to_ms(datetime.now(timezone.utc))
        seen: dict[tuple, dict] = {}
        start, span = since_ms, self._trades_span_ms
        for _ in range(TRADES_MAX_REQUESTS):
            end = start + span
            page = self._call(self._exchange.fetch_my_trades, symbol, start, TRADES_PAGE, {"until": end})
            if len(page) >= TRADES_PAGE:
                if span <= 1:
                    raise errors.ExchangeError(STUCK_PAGE.format(count=len(page)), exchange=self.exchange_id,
                                               code="too_many_trades")
                # Only the newest 200 came: narrow to the density they show, at least by half.
                oldest = self._parse(lambda: min(int(trade["timestamp"]) for trade in page))
                span = max(1, min(span // 2, (end - oldest) * TRADES_WINDOW_AIM // TRADES_PAGE))
                continue
            seen.update((_fill_key(trade), trade) for trade in page)
            if not page:  # quiet: double, and after a dense stretch back to an hour at once
                span = max(span * 2, TRADES_WINDOW_MIN_MS)
            else:
                span = max(1, min(span * 2, span * TRADES_WINDOW_AIM // len(page)))
            span = min(span, TRADES_WINDOW_MAX_MS)
            self._trades_span_ms = span
            if end >= now_ms or len(seen) >= limit:
                break
            start = end
        return list(seen.values())

    # --- orders -------------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> OrderInfo:
        market = self.market(request.symbol)
        reference = request.price
        if request.kind == "market" and reference is None:
            ticker = self.fetch_ticker(request.symbol)
            reference = ticker.ask if request.side == "buy" else ticker.bid
        order = quantize_order(market, request, reference_price=reference)
        params = {"clientOrderId": order.client_order_id} if order.client_order_id else {}
        # A market buy is sized in quote on some venues (BitMart): ccxt derives it from this price.
        price = order.price if order.kind == "limit" else (reference if order.side == "buy" else None)
        raw = self._call(self._exchange.create_order, order.symbol, order.kind, order.side, order.amount, price, params)
        return OrderInfo(
            exchange_order_id=str(raw.get("id") or ""),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            kind=order.kind,
            amount=order.amount,
            price=order.price,
            filled=self._parse(dec, raw.get("filled"), Decimal(0)),
            status=STATUSES.get(raw.get("status"), "open"),
            created_at=at_ms(raw.get("timestamp")) or datetime.now(timezone.utc),
        )

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        """The order's state after the cancel (filled part included), or None if that read failed.

        An order the venue reports as already canceled or completed is not an error: its state is
        returned like any other. An unknown order raises OrderNotFound.
        """
        self.market(symbol)
        try:
            self._call(self._exchange.cancel_order, exchange_order_id, symbol)
        except errors.OrderNotFound as exc:
            if exc.exchange_code not in ALREADY_CLOSED_CODES.get(self.exchange_id, ()):
                raise
        try:
            return self.fetch_order(symbol, exchange_order_id=exchange_order_id)
        except errors.ExchangeError as exc:
            logger.warning("Canceled %s order %s but could not read it back: %s", self.exchange_id, exchange_order_id, exc)
            return None

    def close(self) -> None:
        self._exchange.close()

    # --- parsing and errors -------------------------------------------------------------------
    def _order_from(self, raw: dict, symbol: str, client_order_id: str = "") -> OrderInfo:
        kind = raw.get("type") or "limit"
        return OrderInfo(
            exchange_order_id=str(raw.get("id")),
            client_order_id=str(raw.get("clientOrderId") or client_order_id),
            symbol=raw.get("symbol") or symbol,
            side=raw.get("side") or "",
            kind="market" if kind == "market" else "limit",
            amount=dec(raw.get("amount"), Decimal(0)),
            price=dec(raw.get("price")) if kind != "market" else None,
            filled=dec(raw.get("filled"), Decimal(0)),
            status=STATUSES.get(raw.get("status"), "open"),
            created_at=at_ms(raw.get("timestamp")),
        )

    def _fill_from(self, raw: dict, symbol: str) -> TradeFill:
        # A made-up id ("None") would merge different fills on de-duplication; a made-up time misplaces one.
        trade_id = raw.get("id")
        if trade_id is None or str(trade_id).strip() == "":
            raise errors.ExchangeUnavailable(NO_TRADE_ID.format(exchange=self.exchange_id), exchange=self.exchange_id)
        traded_at = at_ms(raw.get("timestamp")) if raw.get("timestamp") else None  # 0 is no time either
        if traded_at is None:
            raise errors.ExchangeUnavailable(
                NO_TRADE_TIME.format(exchange=self.exchange_id, trade_id=trade_id), exchange=self.exchange_id
            )
        amount, price = dec(raw.get("amount"), Decimal(0)), dec(raw.get("price"), Decimal(0))
        fee = raw.get("fee") or {}
        return TradeFill(
            exchange_trade_id=str(trade_id),
            order_id=str(raw.get("order") or ""),
            symbol=raw.get("symbol") or symbol,
            side=raw.get("side") or "",
            amount=amount,
            price=price,
            cost=dec(raw.get("cost")) or amount * price,
            fee=dec(fee.get("cost"), Decimal(0)),
            fee_currency=fee.get("currency") or "",
            traded_at=traded_at,
        )

    def _call(self, method, *args):
        """Runs one ccxt call; every failure leaves as a domain error without credentials."""
        self._exchange.answer = self._exchange.http_status = None  # ccxt may fail before any request
        try:
            return method(*args)
        except ccxt.BaseError as exc:
            raise wire.domain_error(exc, self._exchange, self._secrets) from None
        except _UNEXPECTED as exc:  # ccxt tripped over an answer shape it did not expect
            text = wire.masked(f"Unexpected answer ({type(exc).__name__}: {exc})", self._secrets)
            raise errors.ExchangeUnavailable(text, exchange=self.exchange_id) from None

    def _parse(self, build, *args):
        try:
            return build(*args)
        except errors.ExchangeError:
            raise
        except _UNEXPECTED as exc:
            text = wire.masked(f"Unreadable answer ({type(exc).__name__}: {exc})", self._secrets)
            raise errors.ExchangeUnavailable(text, exchange=self.exchange_id) from None
