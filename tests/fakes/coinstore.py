"""A local fake of Coinstore's spot REST API, speaking its wire format.

Every answer is HTTP 200 ``{"code": ..., "message": ..., "data": ...}`` (code 0 is success), except
the injected HTTP faults. Private calls are verified the way Coinstore does: the key must be
known and the caller's IP bound to it (else 1401), and ``X-CS-SIGN`` is recomputed from the raw
query string / raw body bytes with the 30-second bucket of ``X-CS-EXPIRES`` (else 401
"signature-failed"). Orders are checked against the symbol's precision (3104 quantity, 3106
amount) and minimums, funds are locked and released, and fills are recorded for accountMatches.

    with FakeCoinstore("key", "secret") as fake:
        fake.add_symbol("SHARPUSDT", "SHARP", "USDT", tick_decimals=5, lot_decimals=2)
        connector = CoinstoreConnector(creds, base_url=fake.url)

Faults: ``fake.delay_s`` (fixed latency per request), ``fake.fault`` = "hang" | "500" | "429" |
"garbage" | "tamper" (a proxy altering the body after it was signed) | "echo" (an error answer,
code 500, to signed calls, whose message quotes the request's API key back, as a venue echoing a
request would). ``place_answer_delay_s`` carries an order placement out at once and answers it
that much later (a venue slower than our timeout); ``visible_after_s`` hides a placed order from
orderInfo and the active orders for that long (a read side lagging the matching engine). A
repeated ``clOrdId`` is refused: Coinstore documents it as unique. Codes marked "fake's choice"
are not documented by Coinstore; the connector does not rely on them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.server import LocalServer

CODE_OK = 0
CODE_SIGNATURE_FAILED = 401
CODE_UNAUTHORIZED = 1401
CODE_INSUFFICIENT = 1101
CODE_QUANTITY_PRECISION = 3104
CODE_AMOUNT_PRECISION = 3106
CODE_PRICE_PRECISION = 3105  # fake's choice
CODE_BELOW_MINIMUM = 3103  # fake's choice
CODE_BAD_REQUEST = 400  # fake's choice
CODE_ORDER_NOT_FOUND = 3115  # fake's choice; the message says "order not found"
CODE_DUPLICATE_CLIENT_ID = 3116  # fake's choice: clOrdId is documented unique, its refusal code is not

PRIVATE_PREFIXES = ("/spot/", "/trade/", "/v2/trade/")
_RAW_NUMBER = re.compile(r'"__num__([-0-9.Ee+]+)__"')


def raw_number(value) -> str:
    """Marks a value to be written as a bare JSON number (as Coinstore does for fills)."""
    return f"__num__{value}__"


def _json(payload) -> bytes:
    return _RAW_NUMBER.sub(r"\1", json.dumps(payload, default=str)).encode()


def _decimals(text) -> int:
    exponent = Decimal(str(text)).as_tuple().exponent
    return max(0, -exponent)


def _text(value: Decimal) -> str:
    return format(value, "f")


@dataclass
class Received:
    """One request as it arrived: raw query and body, headers."""

    method: str
    path: str
    query: str
    body: bytes
    headers: dict

    def json(self) -> dict:
        return json.loads(self.body or b"{}")


@dataclass
class Funds:
    available: Decimal = Decimal(0)
    frozen: Decimal = Decimal(0)


@dataclass
class Book:
    bids: list = field(default_factory=list)  # [(price, qty)], best first
    asks: list = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout tests) leaves a broken pipe behind: not an error here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeCoinstore(LocalServer):
    """The fake venue; state is plain attributes so tests can arrange and inspect it."""

    def __init__(self, api_key: str, secret: str, *, allowed_ips=("127.0.0.1",), fee_rate: str = "0.002"):
        self.api_key = api_key
        self.secret = secret
        self.allowed_ips = set(allowed_ips)
        self.fee_rate = Decimal(fee_rate)
        self.symbols: dict[str, dict] = {}
        self.funds: dict[str, Funds] = {}
        self.extra_balance_rows: list[dict] = []  # served after the generated rows
        self.books: dict[str, Book] = {}
        self.last_price: dict[str, Decimal] = {}
        self.orders: dict[str, dict] = {}
        self.matches: list[dict] = []  # oldest first; served newest first
        self.received: list[Received] = []
        self.delay_s = 0.0
        self.place_answer_delay_s = 0.0
        self.visible_after_s = 0.0
        self.fault: str | None = None
        self.hang_s = 30.0
        self.max_skew_ms = 60_000
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._order_seq = 1722183748419690
        self._match_seq = 3984987

    # --- lifecycle -----------------------------------------------------------------------------
    server_class = _Server
    url_path = "/api"

    def make_handler(self):
        fake = self

        class Handler(_Handler):
            venue = fake

        return Handler

    def stop(self) -> None:
        self._release.set()  # free hanging handlers
        super().stop()

    # --- arranging -----------------------------------------------------------------------------
    def add_symbol(
        self,
        code: str,
        base: str,
        quote: str,
        *,
        tick_decimals: int,
        lot_decimals: int,
        min_price: str = "0",
        min_amount: str = "0",
        min_market_value: str = "0",
        min_market_amount: str = "0",
        currency_ids: tuple[int, int] = (44, 30),
    ) -> None:
        self.symbols[code] = {
            "symbolId": len(self.symbols) + 1,
            "symbolCode": code,
            "tradeCurrencyCode": base.lower(),
            "quoteCurrencyCode": quote.lower(),
            "openTrade": True,
            "onLineTime": 1609813531019,
            "tickSz": tick_decimals,
            "lotSz": lot_decimals,
            "minLmtPr": min_price,
            "minLmtSz": min_amount,
            "minMktVa": min_market_value,
            "minMktSz": min_market_amount,
            "makerFee": "0.002",
            "takerFee": "0.002",
            # not in the config answer; the fake's currency ids for accountMatches
            "_currency_ids": currency_ids,
        }
        self.books.setdefault(code, Book())

    def set_funds(self, currency: str, available: str, frozen: str = "0") -> None:
        self.funds[currency.upper()] = Funds(Decimal(available), Decimal(frozen))

    def set_book(self, code: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self.books[code] = Book(
            bids=[(Decimal(p), Decimal(q)) for p, q in bids], asks=[(Decimal(p), Decimal(q)) for p, q in asks]
        )

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def fill(self, order_id: str, qty: str, *, match_time_s: int | None = None) -> dict:
        """Fill ``qty`` of an open order at its price, as if someone took it; returns the match row."""
        with self._lock:
            order = self.orders[str(order_id)]
            return self._fill(order, Decimal(qty), order["_price"], role=-1, match_time_s=match_time_s)

    # --- the venue -----------------------------------------------------------------------------
    def handle(self, request: Received, client_ip: str) -> tuple[int, bytes]:
        """(HTTP status, body) for one request; runs the faults, then auth, then the route."""
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fault == "hang":
            self._release.wait(self.hang_s)
            return 200, b""
        if self.fault == "500":
            return 500, b"<html><body>502 Bad Gateway</body></html>"
        if self.fault == "429":
            return 429, _json({"code": 429, "message": "too many visits", "data": None})
        if self.fault == "garbage":
            return 200, b'{"code": 0, "data": [tru'
        key = {k.lower(): v for k, v in request.headers.items()}.get("x-cs-apikey")
        if self.fault == "echo" and key:  # signed calls only: public ones carry no key to echo
            return 200, _json(_error(500, f"system busy, retry later (request {request.path} by {key})"))
        if self.fault == "tamper" and request.body:
            # a proxy re-serialising the JSON (spaced separators, trailing newline) after signing
            request.body = json.dumps(json.loads(request.body)).encode() + b"\n"
        path = request.path.removeprefix("/api")
        if path.startswith(PRIVATE_PREFIXES):
            refusal = self._authenticate(request, client_ip)
            if refusal:
                return 200, _json(refusal)
        with self._lock:
            answer = self._route(request.method, path, request)
        if path == "/trade/order/place" and self.place_answer_delay_s:
            self._release.wait(self.place_answer_delay_s)  # placed already; the answer takes its time
        return 200, _json(answer)

    def _authenticate(self, request: Received, client_ip: str) -> dict | None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("x-cs-apikey") != self.api_key or client_ip not in self.allowed_ips:
            return {"code": CODE_UNAUTHORIZED, "message": "Unauthorized", "data": None}
        try:
            expires = int(headers.get("x-cs-expires", ""))
        except ValueError:
            return {"code": CODE_SIGNATURE_FAILED, "message": "signature-failed", "data": None}
        if abs(time.time() * 1000 - expires) > self.max_skew_ms:
            return {"code": CODE_SIGNATURE_FAILED, "message": "signature-failed", "data": None}
        payload = request.query.encode() + request.body
        key = hmac.new(self.secret.encode(), str(expires // 30000).encode(), hashlib.sha256).hexdigest()
        expected = hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-cs-sign", "")):
            return {"code": CODE_SIGNATURE_FAILED, "message": "signature-failed", "data": None}
        return None

    def _route(self, method: str, path: str, request: Received) -> dict:
        query = dict(parse_qsl(request.query))
        if method == "POST":
            try:
                body = json.loads(request.body or b"{}", parse_float=Decimal)
            except ValueError:
                return _error(CODE_BAD_REQUEST, "request body is not JSON")
        routes = {
            ("POST", "/v2/public/config/spot/symbols"): lambda: self._symbols(body),
            ("GET", "/v1/market/tickers"): self._tickers,
            ("POST", "/spot/accountList"): self._balances,
            ("POST", "/trade/order/place"): lambda: self._place(body),
            ("POST", "/trade/order/cancel"): lambda: self._cancel(body),
            ("GET", "/trade/order/active"): lambda: self._active(None),
            ("GET", "/v2/trade/order/active"): lambda: self._active(query.get("symbol")),
            ("GET", "/trade/order/orderInfo"): lambda: self._order_info(query, v2=False),
            ("GET", "/v2/trade/order/orderInfo"): lambda: self._order_info(query, v2=True),
            ("GET", "/trade/match/accountMatches"): lambda: self._matches(query),
        }
        if method == "GET" and path.startswith("/v1/market/depth/"):
            return self._depth(path.rsplit("/", 1)[-1], int(query.get("depth", 20)))
        route = routes.get((method, path))
        if route is None:
            return _error(404, "service not found")
        return route()

    def _symbols(self, body: dict) -> dict:
        codes = {c.upper() for c in body.get("symbolCodes") or []}
        rows = [
            {k: v for k, v in row.items() if not k.startswith("_")}
            for code, row in self.symbols.items()
            if not codes or code in codes
        ]
        return {"code": "0", "message": "Success", "data": rows}

    def _tickers(self) -> dict:
        rows = []
        for code, row in self.symbols.items():
            book = self.books.get(code, Book())
            rows.append(
                {
                    "channel": "ticker",
                    "instrumentId": row["symbolId"],
                    "symbol": code,
                    "bid": _text(book.bids[0][0]) if book.bids else "0",
                    "ask": _text(book.asks[0][0]) if book.asks else "0",
                    "bidSize": _text(book.bids[0][1]) if book.bids else "0",
                    "askSize": _text(book.asks[0][1]) if book.asks else "0",
                    "close": _text(self.last_price.get(code, Decimal(0))),
                    "open": "0",
                    "high": "0",
                    "low": "0",
                    "volume": "0",
                    "amount": "0",
                    "count": 0,
                }
            )
        return {"code": 0, "data": rows}

    def _depth(self, code: str, depth: int) -> dict:
        if code not in self.symbols:
            return _error(CODE_BAD_REQUEST, "symbol not found")
        book = self.books.get(code, Book())
        return {
            "code": 0,
            "data": {
                "channel": f"{self.symbols[code]['symbolId']}@depth@{depth}",
                "level": depth,
                "a": [[_text(p), _text(q), -1] for p, q in book.asks[:depth]],
                "b": [[_text(p), _text(q), 1] for p, q in book.bids[:depth]],
                "symbol": code,
                "instrumentId": self.symbols[code]["symbolId"],
            },
        }

    def _balances(self) -> dict:
        rows = []
        for currency, funds in sorted(self.funds.items()):
            for kind, name, amount in ((4, "FROZEN", funds.frozen), (1, "AVAILABLE", funds.available)):
                rows.append(
                    {
                        "uid": 315,
                        "accountId": 1134971,
                        "currency": currency,
                        "balance": _text(amount),
                        "type": kind,
                        "typeName": name,
                    }
                )
        return {"code": 0, "data": rows + self.extra_balance_rows}

    def _place(self, body: dict) -> dict:
        code = str(body.get("symbol", "")).upper()
        rules = self.symbols.get(code)
        if rules is None:
            return _error(CODE_BAD_REQUEST, "symbol not found")
        side, kind = body.get("side"), body.get("ordType")
        if side not in ("BUY", "SELL") or kind not in ("LIMIT", "MARKET", "POST_ONLY") or "timestamp" not in body:
            return _error(CODE_BAD_REQUEST, "request field missing")
        qty_text, amt_text, price_text = body.get("ordQty"), body.get("ordAmt"), body.get("ordPrice")
        if qty_text is not None and _decimals(qty_text) > rules["lotSz"]:
            return _error(CODE_QUANTITY_PRECISION, "ordQty precision error")
        if amt_text is not None and _decimals(amt_text) > rules["tickSz"]:
            return _error(CODE_AMOUNT_PRECISION, "ordAmt precision error")
        if price_text is not None and _decimals(price_text) > rules["tickSz"]:
            return _error(CODE_PRICE_PRECISION, "ordPrice precision error")
        base, quote = rules["tradeCurrencyCode"].upper(), rules["quoteCurrencyCode"].upper()
        book = self.books.get(code, Book())
        if kind == "MARKET":
            top = (book.asks if side == "BUY" else book.bids)[:1]
            if not top:
                return _error(CODE_BAD_REQUEST, "no liquidity")
            price = top[0][0]
            if side == "BUY":
                if amt_text is None or Decimal(str(amt_text)) < Decimal(rules["minMktVa"]):
                    return _error(CODE_BELOW_MINIMUM, "ordAmt below minimum")
                qty = (Decimal(str(amt_text)) / price).quantize(Decimal(1).scaleb(-rules["lotSz"]), ROUND_DOWN)
            else:
                if qty_text is None or Decimal(str(qty_text)) < Decimal(rules["minMktSz"]):
                    return _error(CODE_BELOW_MINIMUM, "ordQty below minimum")
                qty = Decimal(str(qty_text))
        else:
            if qty_text is None or price_text is None:
                return _error(CODE_BAD_REQUEST, "request field missing")
            qty, price = Decimal(str(qty_text)), Decimal(str(price_text))
            if qty < Decimal(rules["minLmtSz"]) or price < Decimal(rules["minLmtPr"]) or qty <= 0:
                return _error(CODE_BELOW_MINIMUM, "ordQty or ordPrice below minimum")
        client_id = body.get("clOrdId")
        if client_id and any(o["clOrdId"] == client_id for o in self.orders.values()):
            return _error(CODE_DUPLICATE_CLIENT_ID, "clOrdId already exists")
        lock_currency, lock_amount = (quote, qty * price) if side == "BUY" else (base, qty)
        funds = self.funds.setdefault(lock_currency, Funds())
        if funds.available < lock_amount:
            return _error(CODE_INSUFFICIENT, "Insufficient balance")
        funds.available -= lock_amount
        funds.frozen += lock_amount
        self._order_seq += 1
        order = {
            "ordId": self._order_seq,
            "clOrdId": body.get("clOrdId") or uuid.uuid4().hex,
            "symbol": code,
            "baseCurrency": base,
            "quoteCurrency": quote,
            "side": side,
            "ordType": kind,
            "ordPrice": _text(price) if kind != "MARKET" else "0",
            "ordQty": _text(qty) if amt_text is None else "0",
            "ordAmt": _text(Decimal(str(amt_text))) if amt_text is not None else _text(qty * price),
            "cumQty": "0",
            "cumAmt": "0",
            "leavesQty": _text(qty),
            "avgPrice": "0",
            "ordStatus": "SUBMITTED",
            "timeInForce": body.get("timeInForce", "GTC"),
            "accountId": 1134971,
            "timestamp": int(time.time() * 1000),
            "_price": price,
            "_qty": qty,
            "_filled": Decimal(0),
            "_locked": lock_amount,
            "_placed_at": time.monotonic(),
        }
        self.orders[str(order["ordId"])] = order
        if kind == "MARKET":
            self._fill(order, qty, price, role=1)
        return {"code": "0", "data": {"ordId": order["ordId"], "clOrdId": order["clOrdId"]}}

    def _fill(self, order: dict, qty: Decimal, price: Decimal, *, role: int, match_time_s=None) -> dict:
        rules = self.symbols[order["symbol"]]
        base, quote = order["baseCurrency"], order["quoteCurrency"]
        base_id, quote_id = rules["_currency_ids"]
        cost = qty * price
        if order["side"] == "BUY":
            fee, fee_currency_id = qty * self.fee_rate, base_id
            self.funds[quote].frozen -= cost
            self.funds.setdefault(base, Funds()).available += qty - fee
            order["_locked"] -= cost
        else:
            fee, fee_currency_id = cost * self.fee_rate, quote_id
            self.funds[base].frozen -= qty
            self.funds.setdefault(quote, Funds()).available += cost - fee
            order["_locked"] -= qty
        order["_filled"] += qty
        order["cumQty"] = _text(order["_filled"])
        order["cumAmt"] = _text(Decimal(order["cumAmt"]) + cost)
        order["leavesQty"] = _text(order["_qty"] - order["_filled"])
        order["ordStatus"] = "FILLED" if order["_filled"] >= order["_qty"] else "PARTIAL_FILLED"
        if order["ordStatus"] == "FILLED" and order["_locked"]:
            # what a market buy locked beyond its cost goes back
            lock_currency = quote if order["side"] == "BUY" else base
            self.funds[lock_currency].frozen -= order["_locked"]
            self.funds[lock_currency].available += order["_locked"]
            order["_locked"] = Decimal(0)
        self.last_price[order["symbol"]] = price
        self._match_seq += 1
        match = {
            "id": self._match_seq,
            "remainingQty": raw_number(_text(order["_qty"] - order["_filled"])),
            "matchRole": role,
            "feeCurrencyId": fee_currency_id,
            "acturalFeeRate": raw_number(_text(self.fee_rate)),
            "role": role,
            "accountId": 1134971,
            "instrumentId": rules["symbolId"],
            "baseCurrencyId": base_id,
            "quoteCurrencyId": quote_id,
            "execQty": raw_number(_text(qty)),
            "orderState": 50,
            "matchId": 258338866 + self._match_seq,
            "orderId": order["ordId"],
            "side": 1 if order["side"] == "BUY" else -1,
            "execAmt": raw_number(_text(cost)),
            "selfDealingQty": raw_number("0E-18"),
            "tradeId": 11523732 + self._match_seq,
            "fee": raw_number(_text(fee)),
            "matchTime": int(time.time()) if match_time_s is None else match_time_s,
            "seq": None,
            "_symbol": order["symbol"],
        }
        self.matches.append(match)
        return match

    def _cancel(self, body: dict) -> dict:
        order = self.orders.get(str(body.get("ordId")))
        if order is None or order["symbol"] != str(body.get("symbol", "")).upper():
            return _error(CODE_ORDER_NOT_FOUND, "order not found")
        if order["ordStatus"] not in ("SUBMITTED", "PARTIAL_FILLED"):
            return _error(CODE_ORDER_NOT_FOUND, "order not found or already finished")
        lock_currency = order["quoteCurrency"] if order["side"] == "BUY" else order["baseCurrency"]
        self.funds[lock_currency].frozen -= order["_locked"]
        self.funds[lock_currency].available += order["_locked"]
        order["_locked"] = Decimal(0)
        order["ordStatus"] = "CANCELED"
        return {"code": 0, "data": {"clientOrderId": order["clOrdId"], "state": "CANCELED", "ordId": order["ordId"]}}

    @staticmethod
    def _public(order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def _visible(self) -> list[dict]:
        """The orders orderInfo and active orders show: those placed at least ``visible_after_s`` ago."""
        shown_before = time.monotonic() - self.visible_after_s
        return [o for o in self.orders.values() if o.get("_placed_at", 0.0) <= shown_before]

    def _active(self, code: str | None) -> dict:
        rows = [
            self._public(o)
            for o in self._visible()
            if o["ordStatus"] in ("SUBMITTED", "PARTIAL_FILLED") and (code is None or o["symbol"] == code.upper())
        ]
        return {"code": 0, "data": rows}

    def _order_info(self, query: dict, *, v2: bool) -> dict:
        order = None
        visible = self._visible()
        if query.get("ordId"):
            order = next((o for o in visible if str(o["ordId"]) == query["ordId"]), None)
        elif query.get("clOrdId") and v2:
            order = next((o for o in visible if o["clOrdId"] == query["clOrdId"]), None)
        if v2:
            return {"code": 0, "data": [self._public(order)] if order else []}
        if order is None:
            return _error(CODE_ORDER_NOT_FOUND, "order not found")
        row = self._public(order)
        row["ordState"] = row.pop("ordStatus")
        return {"code": 0, "data": row}

    def _matches(self, query: dict) -> dict:
        code = str(query.get("symbol", "")).upper()
        if not code:
            return _error(CODE_BAD_REQUEST, "symbol required")
        page, size = int(query.get("pageNum", 1)), int(query.get("pageSize", 20))
        rows = [m for m in reversed(self.matches) if m["_symbol"] == code]
        if query.get("ordId"):
            rows = [m for m in rows if str(m["orderId"]) == query["ordId"]]
        chunk = rows[(page - 1) * size : page * size]
        return {"code": 0, "data": [{k: v for k, v in m.items() if not k.startswith("_")} for m in chunk]}


def _error(code: int, message: str) -> dict:
    return {"code": code, "message": message, "data": None}


class _Handler(BaseHTTPRequestHandler):
    venue: FakeCoinstore
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    timeout = 10  # idle keep-alive connections close, so shutdown never waits on them

    def _serve(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Received(self.command, parts.path, parts.query, body, dict(self.headers.items()))
        self.venue.received.append(request)
        status, payload = self.venue.handle(request, self.client_address[0])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, *args):  # keep test output quiet
        pass


def arrange_sharp_market(fake: FakeCoinstore) -> None:
    """The market most tests use: SHARPUSDT with 5 price decimals and 2 amount decimals."""
    fake.add_symbol(
        "SHARPUSDT",
        "SHARP",
        "USDT",
        tick_decimals=5,
        lot_decimals=2,
        min_price="0.00001",
        min_amount="10",
        min_market_value="5",
        min_market_amount="10",
    )
    fake.set_funds("USDT", "1000")
    fake.set_funds("SHARP", "50000")
    fake.set_book(
        "SHARPUSDT",
        bids=[("0.01230", "5000"), ("0.01229", "8000")],
        asks=[("0.01240", "4000"), ("0.01241", "9000")],
    )
