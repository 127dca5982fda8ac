"""A local BitMart REST server for tests: the real wire shapes ccxt 4.5.70's ``bitmart`` reads.

It verifies ``X-BM-KEY`` and ``X-BM-SIGN`` (hex HMAC-SHA256 of ``"{timestamp}#{memo}#{payload}"``,
payload = query string for GET, raw JSON body for POST), keeps balances and orders in memory, and
records every request so a test can assert what reached the "exchange". Faults are injected per
path: a fixed answer delay, a hang, HTTP 500, HTTP 429, garbage JSON, an error without a
message, IP-not-whitelisted (30010), a connection cut without an answer, and a late answer (the request is carried out at once, its
answer sent ``delay_s`` later). ``visible_after_s`` makes a placed order invisible to the query
endpoints for that long (a venue whose read side lags its matching engine); a repeated
``client_order_id`` is refused with 50042 at once, as BitMart does.

    with FakeBitmart("key", "secret", "memo") as fake:
        connector = CcxtConnector("bitmart", creds, api_url=fake.url)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import LocalServer, send

OK = 1000

# Answers copied in shape from BitMart's documentation and ccxt's recorded fixtures.
AUTH_ERRORS = {
    "key_missing": (401, 30001, "Header X-BM-KEY is empty"),
    "key_unknown": (401, 30002, "Header X-BM-KEY not found"),
    "sign_missing": (401, 30004, "Header X-BM-SIGN is empty"),
    "sign_wrong": (401, 30005, "Header X-BM-SIGN is wrong"),
    "timestamp_range": (401, 30007, "Header X-BM-TIMESTAMP range. Within a minute"),
}
IP_FORBIDDEN = (
    403,
    30010,
    "IP is forbidden. We recommend enabling IP whitelist for API trading. After that reauth your account",
)
TOO_MANY = (429, 30013, "Request too many requests")

PUBLIC_PATHS = {
    "/system/time",
    "/account/v1/currencies",
    "/spot/v1/symbols/details",
    "/contract/public/details",
    "/spot/quotation/v3/ticker",
    "/spot/quotation/v3/books",
}

DEFAULT_SYMBOLS = [
    {
        "symbol": "SHARP_USDT",
        "symbol_id": 1024,
        "base_currency": "SHARP",
        "quote_currency": "USDT",
        "quote_increment": "0.1",
        "base_min_size": "1.000000000000000000000000000000",
        "base_max_size": "100000000.000000000000000000000000000000",
        "price_min_precision": 1,
        "price_max_precision": 6,
        "expiration": "NA",
        "min_buy_amount": "5.000000000000000000000000000000",
        "min_sell_amount": "5.000000000000000000000000000000",
        "trade_status": "trading",
    },
    {
        "symbol": "BTC_USDT",
        "symbol_id": 53,
        "base_currency": "BTC",
        "quote_currency": "USDT",
        "quote_increment": "0.00001",
        "base_min_size": "0.000010000000000000000000000000",
        "base_max_size": "100000000.000000000000000000000000000000",
        "price_min_precision": -1,
        "price_max_precision": 2,
        "expiration": "NA",
        "min_buy_amount": "5.000000000000000000000000000000",
        "min_sell_amount": "5.000000000000000000000000000000",
        "trade_status": "trading",
    },
]
DEFAULT_BALANCES = {"USDT": ("1000", "0"), "SHARP": ("50000", "0"), "BTC": ("0.5", "0")}


@dataclass
class Fault:
    kind: str  # hang | drop | http500 | http429 | garbage | no_message | ip_forbidden | reject | late
    path: str | None = None
    times: int | None = 1  # None: until cleared
    code: int = 0
    message: str | None = None
    http_status: int = 400
    delay_s: float = 0.0  # late: how long after carrying the request out the answer is sent


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: dict | None
    headers: dict = field(repr=False)


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeBitmart(LocalServer):
    """The fake exchange; use as a context manager (``url`` is valid inside)."""

    def __init__(self, api_key: str, secret: str, memo: str, *, symbols=None, balances=None, delay_s: float = 0.0):
        self.api_key, self.secret, self.memo = api_key, secret, memo
        self.symbols = {s["symbol"]: dict(s) for s in (symbols or DEFAULT_SYMBOLS)}
        self.balances = {a: [Decimal(av), Decimal(fr)] for a, (av, fr) in (balances or DEFAULT_BALANCES).items()}
        self.tickers: dict[str, dict] = {}
        self.books: dict[str, dict] = {}
        self.orders: dict[str, dict] = {}
        self.trades: list[dict] = []
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.delay_s = delay_s  # every answer waits this long (latency benchmarks)
        self.visible_after_s = 0.0  # a placed order shows in queries only this long after placement
        # BitMart does not document whether endTime is inclusive: tests run both ways.
        self.end_time_inclusive = True
        self._ids = itertools.count(209626977087068257)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._connections: set[socket.socket] = set()
        for symbol in self.symbols:
            self.set_ticker(symbol, bid="0.012340", ask="0.012360", last="0.012350")
            self.set_book(symbol, bids=[("0.012340", "1000")], asks=[("0.012360", "1000")])

    # --- lifecycle --------------------------------------------------------------------------
    def make_handler(self):
        return _handler_for(self)

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        super().stop()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:  # ends keep-alive handler threads now, not when clients leave
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


    # --- test controls ----------------------------------------------------------------------
    def inject(self, kind: str, *, path: str | None = None, times: int | None = 1, **fields) -> Fault:
        """Make the next ``times`` requests to ``path`` (any path when None; forever when times is
        None) fail as ``kind``: hang (no answer until the fake stops), drop (the connection closed
        without an answer), http500 (HTML body), http429
        (BitMart's 30013), garbage (truncated JSON with HTTP 200), ip_forbidden (30010, HTTP 403) or
        no_message (error ``code=`` with a null message; ``message="absent"`` drops the key) or
        late (carried out at once, answered ``delay_s=`` later).
        Signature checks still run first for http429, ip_forbidden and no_message."""
        fault = Fault(kind, path=path, times=times, **fields)
        with self._lock:
            self.faults.append(fault)
        return fault

    def reject(self, path: str, code: int, message: str, *, http_status: int = 400, times: int | None = 1) -> Fault:
        """Answer ``path`` with BitMart's error shape ``{"code": code, "message": message}``;
        ``{api_key}`` in the message becomes the request's X-BM-KEY (a venue echoing the request)."""
        return self.inject("reject", path=path, times=times, code=code, message=message, http_status=http_status)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def set_ticker(self, symbol: str, *, bid: str, ask: str, last: str) -> None:
        self.tickers[symbol] = {"bid_px": bid, "ask_px": ask, "last": last}

    def set_book(self, symbol: str, *, bids, asks) -> None:
        """Levels in any order; served best first, as BitMart does."""
        self.books[symbol] = {
            "bids": sorted((list(b) for b in bids), key=lambda level: Decimal(level[0]), reverse=True),
            "asks": sorted((list(a) for a in asks), key=lambda level: Decimal(level[0])),
        }

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        available, frozen = self.balances.get(asset, [Decimal(0), Decimal(0)])
        return available, frozen

    def fill(self, order_id: str, amount: str | None = None, *, price: str | None = None, fee: str = "0",
             fee_coin: str | None = None, at_ms: int | None = None, role: str = "maker") -> dict:
        """Match (part of) an open order as if a counterparty traded against it."""
        with self._lock:
            order = self.orders[order_id]
            base, quote = self._assets(order["symbol"])
            size = Decimal(amount) if amount else order["_size"] - order["_filled"]
            px = Decimal(price) if price else order["_price"]
            fee_d, fee_coin = Decimal(fee), fee_coin or quote
            if order["side"] == "buy":
                self._move(quote, frozen=-size * order["_price"], available=size * (order["_price"] - px))
                self._move(base, available=size)
            else:
                self._move(base, frozen=-size)
                self._move(quote, available=size * px)
            self._move(fee_coin, available=-fee_d)
            order["_filled"] += size
            order["_notional"] += size * px
            order["state"] = "filled" if order["_filled"] >= order["_size"] else "partially_filled"
            order["updateTime"] = str(at_ms or _now_ms())
            trade = {
                "tradeId": str(next(self._ids)),
                "orderId": order_id,
                "clientOrderId": order["clientOrderId"],
                "symbol": order["symbol"],
                "side": order["side"],
                "orderMode": "spot",
                "type": order["type"],
                "price": str(px),
                "size": str(size),
                "notional": str(size * px),
                "fee": str(fee_d),
                "feeCoinName": fee_coin,
                "tradeRole": role,
                "createTime": at_ms or _now_ms(),
                "updateTime": at_ms or _now_ms(),
            }
            self.trades.append(trade)
            return trade

    def record_trade(self, symbol: str, side: str, size: str, price: str, *, at_ms: int, trade_id: str | None = None,
                     order_id: str | None = None, fee: str = "0", fee_coin: str | None = None) -> dict:
        """One own fill as the account's trade list shows it, without an order book behind it
        (history for sync tests). Two calls with one ``trade_id`` are the two sides of a self-trade."""
        with self._lock:
            order_id = order_id or str(next(self._ids))
            trade = {
                "tradeId": trade_id or str(next(self._ids)), "orderId": order_id, "clientOrderId": order_id,
                "symbol": symbol, "side": side, "orderMode": "spot", "type": "limit", "price": price, "size": size,
                "notional": str(Decimal(size) * Decimal(price)), "fee": fee,
                "feeCoinName": fee_coin or self._assets(symbol)[1], "tradeRole": "maker",
                "createTime": at_ms, "updateTime": at_ms,
            }
            self.trades.append(trade)
            return trade

    # --- internals --------------------------------------------------------------------------
    def _assets(self, symbol: str) -> tuple[str, str]:
        info = self.symbols[symbol]
        return info["base_currency"], info["quote_currency"]

    def _move(self, asset: str, *, available: Decimal = Decimal(0), frozen: Decimal = Decimal(0)) -> None:
        row = self.balances.setdefault(asset, [Decimal(0), Decimal(0)])
        row[0] += available
        row[1] += frozen

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in (None, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _check_auth(self, headers, payload: str):
        key = headers.get("X-BM-KEY")
        sign = headers.get("X-BM-SIGN")
        stamp = headers.get("X-BM-TIMESTAMP", "")
        if not key:
            return AUTH_ERRORS["key_missing"]
        if not hmac.compare_digest(key, self.api_key):
            return AUTH_ERRORS["key_unknown"]
        if not sign:
            return AUTH_ERRORS["sign_missing"]
        if not stamp.isdigit() or abs(_now_ms() - int(stamp)) > 60_000:
            return AUTH_ERRORS["timestamp_range"]
        expected = hmac.new(self.secret.encode(), f"{stamp}#{self.memo}#{payload}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sign, expected):
            return AUTH_ERRORS["sign_wrong"]
        return None

    def route(self, method: str, path: str, query: dict, body: dict | None):
        """(http_status, answer) for one authenticated or public request."""
        body = body or {}
        with self._lock:
            if path == "/system/time":
                return _ok({"server_time": _now_ms()})
            if path == "/account/v1/currencies":
                return _ok({"currencies": [_currency(c) for c in sorted(self._currency_codes())]})
            if path == "/spot/v1/symbols/details":
                return _ok({"symbols": list(self.symbols.values())})
            if path == "/contract/public/details":
                return _ok({"symbols": []}, message="Ok")
            if path == "/spot/quotation/v3/ticker":
                return self._ticker(query.get("symbol", ""))
            if path == "/spot/quotation/v3/books":
                return self._book(query.get("symbol", ""), int(query.get("limit", 35)))
            if path == "/spot/v1/wallet":
                return _ok({"wallet": [
                    {"id": asset, "name": asset, "available": str(av), "frozen": str(fr), "total": str(av + fr)}
                    for asset, (av, fr) in self.balances.items()
                ]})
            if path == "/spot/v2/submit_order" and method == "POST":
                return self._submit(body)
            if path == "/spot/v3/cancel_order" and method == "POST":
                return self._cancel(body)
            if path == "/spot/v4/query/open-orders" and method == "POST":
                rows = [o for o in self._visible() if o["state"] in ("new", "partially_filled")
                        and (not body.get("symbol") or o["symbol"] == body["symbol"])]
                return _ok([_public_order(o) for o in rows], message="success")
            if path == "/spot/v4/query/order" and method == "POST":
                return self._order(next((o for o in self._visible() if o["orderId"] == str(body.get("orderId"))), None))
            if path == "/spot/v4/query/client-order" and method == "POST":
                match = [o for o in self._visible() if o["clientOrderId"] == body.get("clientOrderId")]
                return self._order(match[0] if match else None)
            if path == "/spot/v4/query/trades" and method == "POST":
                return self._my_trades(body)
        return 404, {"code": 30000, "message": "Not found", "trace": _trace(), "data": {}}

    def _visible(self) -> list[dict]:
        """The orders the query endpoints show: those placed at least ``visible_after_s`` ago."""
        shown_before = time.monotonic() - self.visible_after_s
        return [o for o in self.orders.values() if o.get("_placed_at", 0.0) <= shown_before]

    def _currency_codes(self) -> set[str]:
        codes = set(self.balances)
        for info in self.symbols.values():
            codes |= {info["base_currency"], info["quote_currency"]}
        return codes

    def _ticker(self, symbol: str):
        if symbol not in self.symbols:
            return _error(400, 50001, "Symbol not found")
        t = self.tickers[symbol]
        return _ok({
            "symbol": symbol, "last": t["last"], "v_24h": "1000", "qv_24h": "12.35", "open_24h": t["last"],
            "high_24h": t["last"], "low_24h": t["last"], "fluctuation": "0", "bid_px": t["bid_px"],
            "bid_sz": "10", "ask_px": t["ask_px"], "ask_sz": "10", "ts": str(_now_ms()),
        }, message="success")

    def _book(self, symbol: str, limit: int):
        if symbol not in self.symbols:
            return _error(400, 50001, "Symbol not found")
        book = self.books[symbol]
        return _ok({"ts": str(_now_ms()), "symbol": symbol, "bids": book["bids"][:limit], "asks": book["asks"][:limit]},
                   message="success")

    def _submit(self, body: dict):
        symbol = body.get("symbol")
        if symbol not in self.symbols:
            return _error(400, 50001, "Symbol not found")
        info = self.symbols[symbol]
        side, kind = body.get("side"), body.get("type")
        size = Decimal(body.get("size") or "0")
        price = Decimal(body.get("price") or "0")
        if kind == "market" and side == "buy":
            notional = Decimal(body.get("notional") or "0")
            price = self._ask(symbol)
            size = notional / price if price else Decimal(0)
        if size < Decimal(info["base_min_size"]):
            return _error(400, 50006, f"Minimum size is {info['base_min_size']}")
        if size % Decimal(info["quote_increment"]):
            return _error(400, 51009, "Parameter mismatch: limit order/market order quantity should be greater "
                          "than the minimum number of should buy/sell")
        if price and price % (Decimal(1).scaleb(-int(info["price_max_precision"]))):
            return _error(400, 50021, "Invalid price")
        if kind == "limit" and size * price < Decimal(info["min_buy_amount"]):
            return _error(400, 51011, "param not match : size * price >=5")
        client_id = body.get("client_order_id") or ""
        if client_id and any(o["clientOrderId"] == client_id for o in self.orders.values()):
            return _error(400, 50042, "clientOrderId is duplicate")
        base, quote = info["base_currency"], info["quote_currency"]
        if side == "buy":
            asset, need = quote, size * price
        else:
            asset, need = base, size
        if self.balance(asset)[0] < need:
            return _error(400, 50020, "Balance not enough")
        self._move(asset, available=-need, frozen=need)
        order_id = str(next(self._ids))
        now = _now_ms()
        self.orders[order_id] = {
            "orderId": order_id, "clientOrderId": client_id or order_id, "symbol": symbol, "side": side,
            "orderMode": "spot", "type": kind, "state": "new", "createTime": str(now), "updateTime": str(now),
            "_size": size, "_price": price, "_filled": Decimal(0), "_notional": Decimal(0),
            "_placed_at": time.monotonic(),
        }
        return _ok({"order_id": order_id})

    def _ask(self, symbol: str) -> Decimal:
        return Decimal(self.tickers[symbol]["ask_px"])

    def _cancel(self, body: dict):
        order = self.orders.get(str(body.get("order_id")))
        if body.get("client_order_id"):
            match = [o for o in self.orders.values() if o["clientOrderId"] == body["client_order_id"]]
            order = match[0] if match else None
        if order is None or order["symbol"] != body.get("symbol"):
            return _error(400, 50032, "Order does not exist")
        if order["state"] in ("canceled", "partially_canceled"):
            return _error(400, 50030, "Order is already canceled")
        if order["state"] == "filled":
            return _error(400, 50031, "Order is already completed")
        base, quote = self._assets(order["symbol"])
        rest = order["_size"] - order["_filled"]
        if order["side"] == "buy":
            self._move(quote, available=rest * order["_price"], frozen=-rest * order["_price"])
        else:
            self._move(base, available=rest, frozen=-rest)
        order["state"] = "partially_canceled" if order["_filled"] else "canceled"
        order["updateTime"] = str(_now_ms())
        return _ok({"result": True})

    def _order(self, order: dict | None):
        if order is None:
            return _error(400, 50005, "Order Id not found")
        return _ok(_public_order(order), message="success")

    def _my_trades(self, body: dict):
        """Account Trade List (v4): rows with startTime <= createTime <= endTime (endTime
        exclusive when ``end_time_inclusive`` is off), newest first, ``limit`` of them (1..200)."""
        start = int(body.get("startTime") or 0)
        end = int(body.get("endTime") or 2**62)
        if body.get("endTime") and not self.end_time_inclusive:
            end -= 1
        limit = int(body.get("limit") or 200)
        if not 1 <= limit <= 200:
            return _error(400, 50000, "Bad Request [limit is invalid]")
        if start > end:
            return _error(400, 50000, "Bad Request [startTime is bigger than endTime]")
        # A row whose createTime a test removed is served in every range (a venue's broken row).
        rows = [t for t in self.trades if (t.get("createTime") is None or start <= int(t["createTime"]) <= end)
                and (not body.get("symbol") or t["symbol"] == body["symbol"])]
        rows.sort(key=lambda t: (int(t.get("createTime") or 0), int(t.get("tradeId") or 0)), reverse=True)  # newest first
        return _ok([{**t, **{name: int(t[name]) for name in ("createTime", "updateTime") if t.get(name) is not None}}
                    for t in rows[:limit]], message="success")


def _trace() -> str:
    return uuid.uuid4().hex


def _ok(data, *, message: str = "OK"):
    return 200, {"code": OK, "trace": _trace(), "message": message, "data": data}


def _error(http_status: int, code: int, message: str | None):
    return http_status, {"code": code, "trace": _trace(), "message": message, "data": {}}


def _currency(code: str) -> dict:
    return {
        "currency": code, "name": code, "contract_address": None, "network": code, "withdraw_enabled": True,
        "deposit_enabled": True, "withdraw_minsize": "1", "withdraw_minfee": "0.1", "withdraw_fee_estimate": "0.1",
        "withdraw_fee": "0.1",
    }


def _public_order(order: dict) -> dict:
    filled, notional = order["_filled"], order["_notional"]
    return {
        **{k: v for k, v in order.items() if not k.startswith("_")},
        "price": str(order["_price"]),
        "priceAvg": str(notional / filled) if filled else "0.00",
        "size": str(order["_size"]),
        "filledSize": str(filled),
        "notional": str(order["_size"] * order["_price"]),
        "filledNotional": str(notional),
    }


def _handler_for(fake: FakeBitmart):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One segment per answer and no Nagle: otherwise delayed ACKs add ~40 ms to every call.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *args):  # keep test output clean
            pass

        def setup(self):
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self):
            with fake._lock:
                fake._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def _serve(self, method: str):
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            query = dict(parse_qsl(split.query))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            with fake._lock:
                fake.requests.append(Recorded(method, split.path, query, body, dict(self.headers.items())))
            if fake.delay_s:
                time.sleep(fake.delay_s)
            fault = fake._take_fault(split.path)
            if fault and fault.kind == "hang":
                fake._stop.wait(60)
                self.close_connection = True
                return
            if fault and fault.kind == "drop":  # the connection is cut before any answer
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault and fault.kind == "http500":
                return self._send(500, "<html><body>500 Internal Server Error</body></html>", "text/html")
            if fault and fault.kind == "garbage":
                return self._send(200, '{"code":1000,"message":"OK","data":{"wallet":[{"id":', "application/json")
            if split.path not in PUBLIC_PATHS:
                denied = fake._check_auth(self.headers, raw if method == "POST" else split.query)
                if denied:
                    return self._answer(*_error(*denied))
            if fault and fault.kind == "http429":
                return self._answer(*_error(*TOO_MANY))
            if fault and fault.kind == "ip_forbidden":
                return self._answer(*_error(*IP_FORBIDDEN))
            if fault and fault.kind == "no_message":
                answer = {"code": fault.code or 50020, "trace": _trace(), "message": None, "data": {}}
                if fault.message == "absent":
                    answer.pop("message")
                return self._answer(fault.http_status, answer)
            if fault and fault.kind == "reject":
                # "{api_key}" in the message echoes the request's key back, as some venues do.
                message = fault.message
                if message and "{api_key}" in message:
                    message = message.replace("{api_key}", self.headers.get("X-BM-KEY", ""))
                return self._answer(*_error(fault.http_status, fault.code, message))
            answer = fake.route(method, split.path, query, body)
            if fault and fault.kind == "late":  # carried out already; the answer takes its time
                fake._stop.wait(fault.delay_s)
            self._answer(*answer)

        def _answer(self, status: int, answer: dict):
            self._send(status, json.dumps(answer), "application/json")

        def _send(self, status: int, text: str, content_type: str):
            send(self, status, text.encode(), content_type)

    return Handler
