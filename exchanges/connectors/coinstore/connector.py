"""The native Coinstore spot connector (Coinstore is not in ccxt).

Endpoints follow Coinstore's documentation (https://coinstore-openapi.github.io/en/):
symbol rules ``POST /v2/public/config/spot/symbols``, tickers ``GET /v1/market/tickers``, depth
``GET /v1/market/depth/{SYMBOL}``, balances ``POST /spot/accountList``, orders
``POST /trade/order/place`` / ``POST /trade/order/cancel``, ``GET /v2/trade/order/active``,
``GET /v2/trade/order/orderInfo`` (by ordId or clOrdId) and own fills
``GET /trade/match/accountMatches``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

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
from exchanges.connectors.coinstore import parsing
from exchanges.connectors.coinstore.parsing import SymbolRules, dec, unexpected
from exchanges.connectors.coinstore.transport import EXCHANGE, CoinstoreHttp, with_code
from exchanges.errors import ExchangeError, ExchangeUnavailable, InvalidOrder, OrderNotFound

DEFAULT_BASE_URL = "https://api.coinstore.com/api"
DEFAULT_TIMEOUT_S = 10.0
MARKETS_TTL_S = 3600
DEPTH_LEVELS = (5, 10, 20, 50, 100)
TRADES_PAGE_SIZE = 100
# Bounds one fetch_my_trades walking back to ``since``: 10,000 fills, a busy bot's day and more.
TRADES_MAX_PAGES = 100
TOO_MANY_TRADES = "More than {count} Coinstore fills since {since}; cannot read back that far"

# Rejection messages; callers branch on the error's ``code``, not on these.
BELOW_MIN_AMOUNT = "Order amount {amount} is below the market minimum {minimum} after rounding to {step}"
BELOW_MIN_PRICE = "Order price {price} is below the market minimum {minimum}"
BELOW_MIN_VALUE = "Market buy value {value} is below the market minimum {minimum}"
NO_ORDER_ID = "Coinstore accepted the order without saying its order id"


def wire_text(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 1.2300 -> "1.23", 1E+2 -> "100"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def rejected(code: str, message: str, **fields) -> InvalidOrder:
    return with_code(InvalidOrder(message, exchange=EXCHANGE, **fields), code)


def rows_of(data) -> list[dict]:
    """``data`` as the list of objects an answer promised (empty when absent)."""
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise unexpected(f"{type(data).__name__} where a list of rows belongs")
    return data


def object_of(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise unexpected(f"{type(data).__name__} where an object belongs")
    return data


class CoinstoreConnector(Connector):
    """One Coinstore account. Amounts and prices are rounded to the symbol's rules before sending."""

    exchange_id = EXCHANGE

    def __init__(self, credentials: Credentials, *, base_url: str, timeout_s: float | None = DEFAULT_TIMEOUT_S):
        # None would mean "wait forever" to requests: never allow it.
        timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        self._http = CoinstoreHttp(credentials, base_url=base_url, timeout_s=timeout_s)
        self._rules_by_symbol: dict[str, SymbolRules] = {}
        self._symbol_by_code: dict[str, str] = {}
        self._markets_loaded_at: float | None = None

    def __repr__(self):
        return f"CoinstoreConnector(base_url={self._http.base_url!r})"

    @property
    def timeout_s(self) -> float:
        return self._http.timeout[1]

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        # The guard sets a budget per call kind (markets 10 s, balances 15 s, ...) before each call.
        self._http.timeout = (value, value)

    def close(self) -> None:
        self._http.close()

    # --- markets -------------------------------------------------------------------------------
    def load_markets(self) -> dict[str, Market]:
        """Symbol rules, cached for an hour (and dropped when Coinstore rejects a precision)."""
        fresh = self._markets_loaded_at is not None and time.monotonic() - self._markets_loaded_at < MARKETS_TTL_S
        if not fresh:
            rows = rows_of(self._http.post("/v2/public/config/spot/symbols", {}, signed=False))
            try:
                rules = [parsing.parse_symbol(row) for row in rows]
            except KeyError as exc:
                raise unexpected(f"a symbol without {exc}") from None
            self._rules_by_symbol = {r.market.symbol: r for r in rules}
            self._symbol_by_code = {r.market.exchange_symbol: r.market.symbol for r in rules}
            self._markets_loaded_at = time.monotonic()
        return {symbol: r.market for symbol, r in self._rules_by_symbol.items()}

    def forget_markets(self) -> None:
        self._markets_loaded_at = None

    def _rules(self, symbol: str) -> SymbolRules:
        self.market(symbol)  # raises InvalidOrder for an unknown symbol
        return self._rules_by_symbol[symbol]

    def _unified(self, exchange_symbol: str, fallback: str) -> str:
        return self._symbol_by_code.get(str(exchange_symbol).upper(), fallback)

    # --- market data ---------------------------------------------------------------------------
    def fetch_ticker(self, symbol: str) -> Ticker:
        code = self.market(symbol).exchange_symbol
        rows = rows_of(self._http.get("/v1/market/tickers", signed=False))
        for row in rows:
            if str(row.get("symbol", "")).upper() == code:
                return Ticker(
                    symbol=symbol,
                    bid=dec(row.get("bid"), None) or None,  # "0" means no bid, not a bid at 0
                    ask=dec(row.get("ask"), None) or None,
                    last=dec(row.get("close"), None) or None,
                    at=datetime.now(UTC),
                )
        raise ExchangeError(f"Coinstore sent no ticker for {code}", exchange=EXCHANGE, symbol=symbol)

    def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        code = self.market(symbol).exchange_symbol
        levels = next((n for n in DEPTH_LEVELS if n >= depth), DEPTH_LEVELS[-1])
        data = object_of(self._http.get(f"/v1/market/depth/{code}", [("depth", str(levels))], signed=False))

        def side(rows):
            if rows is not None and not (
                isinstance(rows, list) and all(isinstance(row, list) and len(row) >= 2 for row in rows)
            ):
                raise unexpected("a depth side that is not a list of [price, amount] levels")
            return [(dec(row[0]), dec(row[1])) for row in (rows or [])][:depth]

        return OrderBook(symbol=symbol, bids=side(data.get("b")), asks=side(data.get("a")), at=datetime.now(UTC))

    # --- account -------------------------------------------------------------------------------
    def fetch_balance(self) -> list[AssetBalance]:
        return parsing.parse_balances(rows_of(self._http.post("/spot/accountList", {})))

    # --- orders --------------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> OrderInfo:
        """Round (amount down, price to the tick on the safe side), check minimums, then place.

        Rule violations raise InvalidOrder (codes ``below_min_amount``, ``below_min_price``,
        ``below_min_notional``, ``bad_order``) before any request is sent. After an
        ExchangeTimeout the order may exist: look it up with fetch_order(client_order_id=...).
        """
        rules = self._rules(request.symbol)
        market = rules.market
        side, kind = request.side.lower(), request.kind.lower()
        if side not in ("buy", "sell") or kind not in ("limit", "market"):
            raise rejected("bad_order", f"Unsupported order {side} {kind}", symbol=request.symbol)
        amount = request.amount.quantize(market.amount_step, rounding=ROUND_DOWN)
        body: dict = {"symbol": market.exchange_symbol, "side": side.upper(), "ordType": kind.upper()}
        price = None
        if kind == "limit":
            if request.price is None or request.price <= 0:
                raise rejected("bad_order", "A limit order needs a positive price", symbol=request.symbol)
            # Never round a price against the client: buys down, sells up.
            price = request.price.quantize(market.price_step, rounding=ROUND_DOWN if side == "buy" else ROUND_UP)
            if price <= 0 or price < rules.min_price:
                raise rejected(
                    "below_min_price",
                    BELOW_MIN_PRICE.format(price=wire_text(price), minimum=wire_text(rules.min_price)),
                    symbol=request.symbol,
                )
            self._check_amount(request, amount, market.min_amount, market)
            body["ordPrice"] = wire_text(price)
            body["ordQty"] = wire_text(amount)
        elif side == "sell":
            self._check_amount(request, amount, rules.min_market_amount, market)
            body["ordQty"] = wire_text(amount)
        else:
            body["ordAmt"] = wire_text(self._market_buy_value(request, rules))
        if request.client_order_id:
            body["clOrdId"] = request.client_order_id
        body["timestamp"] = time.time_ns() // 1_000_000
        try:
            data = self._http.post("/trade/order/place", body) or {}
        except InvalidOrder as exc:
            if exc.code in ("amount_precision", "quantity_precision"):
                self.forget_markets()  # the venue's rules changed under us: reload them next time
            raise
        data = data if isinstance(data, dict) else {}
        order_id = data.get("ordId") or data.get("order_id")  # the docs show both spellings
        if not order_id:
            # Accepted, so it may rest on the book: not a refusal. Retryable, so the guard looks it
            # up by client order id (or reports its state unknown) instead of calling it failed.
            raise with_code(
                ExchangeUnavailable(NO_ORDER_ID, exchange=EXCHANGE, client_order_id=request.client_order_id),
                "no_order_id",
            )
        return OrderInfo(
            exchange_order_id=str(order_id),
            client_order_id=str(data.get("clOrdId") or request.client_order_id),
            symbol=request.symbol,
            side=side,
            kind=kind,
            amount=amount,
            price=price,
            filled=Decimal(0),
            status="open",
            created_at=datetime.now(UTC),
        )

    @staticmethod
    def _check_amount(request: OrderRequest, amount: Decimal, minimum: Decimal, market: Market) -> None:
        if amount <= 0 or amount < minimum:
            raise rejected(
                "below_min_amount",
                BELOW_MIN_AMOUNT.format(
                    amount=wire_text(amount), minimum=wire_text(minimum), step=wire_text(market.amount_step)
                ),
                symbol=request.symbol,
            )

    def _market_buy_value(self, request: OrderRequest, rules: SymbolRules) -> Decimal:
        """Coinstore sizes market buys in quote (ordAmt): base amount x reference price (the
        request's price when the caller gives one, else the best ask), rounded down to the price
        precision as ccxt does (the documentation does not say; 3106 is the rejection)."""
        reference = request.price if request.price else self.fetch_ticker(request.symbol).ask
        if not reference:
            raise rejected("bad_order", "No ask price to size a market buy", symbol=request.symbol)
        value = (request.amount * reference).quantize(rules.market.price_step, rounding=ROUND_DOWN)
        if value <= 0 or value < rules.min_market_value:
            raise rejected(
                "below_min_notional",
                BELOW_MIN_VALUE.format(value=wire_text(value), minimum=wire_text(rules.min_market_value)),
                symbol=request.symbol,
            )
        return value

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        """Cancel; returns None because Coinstore's answer carries only the order id and state
        (call fetch_order for the rest). An order Coinstore no longer knows raises OrderNotFound."""
        code = self.market(symbol).exchange_symbol
        order_id = int(exchange_order_id) if str(exchange_order_id).isascii() and str(exchange_order_id).isdigit() else exchange_order_id
        self._http.post("/trade/order/cancel", {"symbol": code, "ordId": order_id})
        return None

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        code = self.market(symbol).exchange_symbol
        rows = rows_of(self._http.get("/v2/trade/order/active", [("symbol", code)]))
        return [parsing.parse_order(row, symbol) for row in rows if str(row.get("symbol", code)).upper() == code]

    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo:
        if exchange_order_id:
            params = [("ordId", str(exchange_order_id))]
        elif client_order_id:
            params = [("clOrdId", client_order_id)]
        else:
            raise rejected("bad_order", "fetch_order needs an exchange or a client order id", symbol=symbol)
        self.market(symbol)
        data = self._http.get("/v2/trade/order/orderInfo", params)
        rows = rows_of(data) if isinstance(data, list) else [object_of(data)] if data else []
        for row in rows:
            if str(row.get("ordStatus") or row.get("ordState") or "").upper() == "NOT_FOUND":
                continue
            return parsing.parse_order(row, self._unified(row.get("symbol", ""), symbol))
        raise OrderNotFound(
            "Coinstore does not know this order",
            exchange=EXCHANGE,
            exchange_order_id=exchange_order_id,
            client_order_id=client_order_id,
        )

    def fetch_my_trades(self, symbol: str, since: datetime | None = None, limit: int = 500) -> list[TradeFill]:
        """Every own fill at or after ``since``, oldest first, the first ``limit`` of them; without
        ``since``, the newest ``limit``.

        accountMatches pages newest first and has no time filter, so pages are read until one
        reaches before ``since``; when ``TRADES_MAX_PAGES`` pages do not, the deeper page that does
        is searched for by page number (``_oldest_since``). Its time is in whole seconds:
        fills in the cursor's own second come again, and callers dedupe on ``exchange_trade_id``.
        """
        rules = self._rules(symbol)
        code = rules.market.exchange_symbol
        # Walking back to ``since`` reads full pages whatever the limit: fewer requests.
        size = TRADES_PAGE_SIZE if since is not None else max(1, min(limit, TRADES_PAGE_SIZE))
        fills: dict[str, TradeFill] = {}
        for page in range(1, TRADES_MAX_PAGES + 1):
            params = [("symbol", code), ("pageNum", str(page)), ("pageSize", str(size))]
            rows = rows_of(self._http.get("/trade/match/accountMatches", params))
            page_fills = [parsing.parse_fill(row, rules) for row in rows]
            for fill in page_fills:
                if since is None or fill.traded_at >= since:
                    fills.setdefault(fill.exchange_trade_id, fill)
            reached_since = since is not None and any(f.traded_at < since for f in page_fills)
            enough = since is None and len(fills) >= limit
            if len(rows) < size or reached_since or enough:
                break
        else:
            if since is not None:
                return self._oldest_since(symbol, rules, since, limit)
        ordered = sorted(fills.values(), key=lambda f: (f.traded_at, f.exchange_trade_id))
        return ordered[:limit] if since is not None else ordered[-limit:]

    def _trades_page(self, rules: SymbolRules, page: int) -> list[TradeFill]:
        params = [("symbol", rules.market.exchange_symbol), ("pageNum", str(page)), ("pageSize", str(TRADES_PAGE_SIZE))]
        return [parsing.parse_fill(row, rules) for row in rows_of(self._http.get("/trade/match/accountMatches", params))]

    @staticmethod
    def _reaches(fills: list[TradeFill], since: datetime) -> bool:
        """The page holds the oldest fills at or after ``since``: it goes past it, or is the last."""
        return len(fills) < TRADES_PAGE_SIZE or any(f.traded_at < since for f in fills)

    def _oldest_since(self, symbol: str, rules: SymbolRules, since: datetime, limit: int) -> list[TradeFill]:
        """The oldest ``limit`` fills at or after ``since`` when they lie deeper than
        ``TRADES_MAX_PAGES`` pages: accountMatches has no time or id filter, only page numbers
        counted from the newest fill, so the page reaching ``since`` is found by doubling and
        halving the page number, then pages are read from it towards the newest.

        New fills push every row to later pages while this reads: the first page read is read
        again at the end, and if it moved the read starts over (three times at most); after that
        only what that one page held is returned (a page read in one request is consistent), so a
        bot trading all the while still drains, more slowly, and is never stuck.
        """
        only_first: list[TradeFill] = []
        for _ in range(3):
            first_page = self._page_reaching(rules, since)
            first = self._trades_page(rules, first_page)
            if not self._reaches(first, since):
                continue  # rows moved while searching
            fills = {f.exchange_trade_id: f for f in first if f.traded_at >= since}
            only_first = list(fills.values())
            page = first_page - 1
            while len(fills) < limit and page >= 1:
                for fill in self._trades_page(rules, page):
                    fills.setdefault(fill.exchange_trade_id, fill)
                page -= 1
            if [f.exchange_trade_id for f in self._trades_page(rules, first_page)] == [f.exchange_trade_id for f in first]:
                ordered = sorted(fills.values(), key=lambda f: (f.traded_at, f.exchange_trade_id))
                return ordered[:limit]
        if not only_first:
            raise ExchangeError(TOO_MANY_TRADES.format(count=0, since=since.isoformat()), exchange=EXCHANGE,
                                code="too_many_trades", symbol=symbol)
        return sorted(only_first, key=lambda f: (f.traded_at, f.exchange_trade_id))[:limit]

    def _page_reaching(self, rules: SymbolRules, since: datetime) -> int:
        """The first page number whose page reaches ``since`` (pages before it are all newer)."""
        low, high = TRADES_MAX_PAGES, TRADES_MAX_PAGES * 2  # page ``low`` is known full and newer
        while not self._reaches(self._trades_page(rules, high), since):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            if self._reaches(self._trades_page(rules, middle), since):
                high = middle
            else:
                low = middle
        return high
