"""HTTP to Coinstore: signing, timeouts and mapping every failure to a domain error.

Every Coinstore answer is ``{"code": ..., "message"|"msg": ..., "data": ...}``; ``code`` 0 (int or
string) is success. Numbers are parsed with ``parse_float=Decimal`` so no value ever passes
through a float. Messages are built from the venue's answer only, with the credentials scrubbed
out in case the venue ever echoes them; headers are never logged.

Each request calls the connector's ``before_request`` hook first (the guard's throttle) and is
bounded in total by the timeout: the body is streamed and every socket read may take only the
time left, so a venue trickling its answer cannot hold a call past it. The residual: connecting
and reading the status line and headers are bounded per socket read only (requests offers no
total bound there); headers are a few hundred bytes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlencode

import requests

from exchanges.connectors.base import Credentials
from exchanges.connectors.coinstore.signing import signature
from exchanges.connectors.http import read_within
from exchanges.errors import (
    AuthenticationFailed,
    DuplicateOrder,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
)

logger = logging.getLogger(__name__)

EXCHANGE = "coinstore"

# Messages tests check.
IP_NOT_BOUND = (
    "Coinstore refused the API key (1401): either the key is wrong, or this server's egress IP is "
    "not bound to it. Bind the IP shown at /egress-ip to the key in Coinstore's API management "
    "(a key takes up to 5 IPs), or check the key"
)
SIGNATURE_FAILED = "Coinstore rejected the request signature; check the API secret and the server clock"
AMOUNT_PRECISION = "Coinstore rejected the order amount's precision"
QUANTITY_PRECISION = "Coinstore rejected the order quantity's precision"
RATE_LIMITED = "Coinstore asked us to slow down"
TIMED_OUT = "Coinstore did not answer in time"
UNREACHABLE = "Coinstore could not be reached"
GARBAGE = "Coinstore answered with something that is not its JSON envelope"
SERVER_ERROR = "Coinstore answered with a server error"
GATEWAY_FORBIDDEN = "Coinstore's gateway refused this server; check that its egress IP (/egress-ip) is allowed"
BAD_STATUS = "Coinstore refused the request; check the configured base URL"
BAD_REQUEST = "Coinstore refused the request's format"
DUPLICATE_CLIENT_ID = "Coinstore already holds an order with this clOrdId"
UNKNOWN_CODE = "Coinstore refused the request with a code it does not document"

# Coinstore's own codes (the documented ones, plus those seen in production).
CODE_UNAUTHORIZED = "1401"
CODE_SIGNATURE_FAILED = "401"
CODE_QUANTITY_PRECISION = "3104"
CODE_AMOUNT_PRECISION = "3106"
CODE_INSUFFICIENT_FUNDS = "1101"
CODE_BAD_REQUEST = "400"  # the documented HTTP-style codes also come as the envelope's code
CODE_SERVICE_NOT_FOUND = "404"
CODE_RATE_LIMITED = "429"
PLACE_PATH = "/trade/order/place"
CANCEL_PATH = "/trade/order/cancel"


def with_code(error: ExchangeError, code: str) -> ExchangeError:
    """Give one error instance a more precise stable ``code`` than its class default."""
    error.code = code
    return error


class CoinstoreHttp:
    """A requests Session that signs and sends one Coinstore call at a time."""

    before_request: Callable[[], None] | None = None  # set through Connector.before_request

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str,
        timeout_s: float,
        clock_ms: Callable[[], int] | None = None,
    ):
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.timeout = (timeout_s, timeout_s)  # (connect, read)
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.session = requests.Session()

    def __repr__(self):
        return f"CoinstoreHttp(base_url={self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: list[tuple[str, str]] | None = None, *, signed: bool = True):
        """GET ``path``; the query string built here is the exact text signed and sent."""
        query = urlencode(params or [])
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        headers = self._headers(query.encode()) if signed else {"exch-language": "en_US"}
        return self._send("GET", path, url, headers, None)

    def post(self, path: str, body: dict | None = None, *, signed: bool = True):
        """POST ``body`` as compact JSON; the bytes signed are the bytes sent ("{}" when empty)."""
        raw = json.dumps(body or {}, separators=(",", ":")).encode()
        headers = self._headers(raw) if signed else {"exch-language": "en_US", "Content-Type": "application/json"}
        return self._send("POST", path, f"{self.base_url}{path}", headers, raw)

    def _headers(self, payload: bytes) -> dict[str, str]:
        if not self._credentials.api_key or not self._credentials.secret:
            raise AuthenticationFailed("No Coinstore API key or secret is configured", exchange=EXCHANGE)
        expires = self._clock_ms()
        return {
            "X-CS-APIKEY": self._credentials.api_key,
            "X-CS-SIGN": signature(self._credentials.secret, expires, payload),
            "X-CS-EXPIRES": str(expires),
            "exch-language": "en_US",
            "Content-Type": "application/json",
        }

    def _send(self, method: str, path: str, url: str, headers: dict, body: bytes | None):
        if self.before_request is not None:
            self.before_request()
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, headers=headers, data=body, timeout=self.timeout, stream=True
            )
            content = read_within(response, started + self.timeout[1])
        except requests.Timeout:
            logger.warning("coinstore %s %s timed out after %.2fs", method, path, time.monotonic() - started)
            raise ExchangeTimeout(TIMED_OUT, exchange=EXCHANGE, path=path) from None
        except requests.RequestException as exc:
            logger.warning("coinstore %s %s failed: %s", method, path, type(exc).__name__)
            raise ExchangeUnavailable(f"{UNREACHABLE} ({type(exc).__name__})", exchange=EXCHANGE, path=path) from None
        logger.debug(
            "coinstore %s %s -> HTTP %s in %.3fs", method, path, response.status_code, time.monotonic() - started
        )
        return self._data(path, response.status_code, content)

    def _data(self, path: str, status: int, content: bytes):
        answer = _envelope(content)
        if status == 429:
            raise RateLimited(RATE_LIMITED, exchange=EXCHANGE, exchange_code="429", path=path)
        if status >= 500:
            raise ExchangeUnavailable(f"{SERVER_ERROR} (HTTP {status})", exchange=EXCHANGE, path=path)
        if answer is None:
            if status == 401:
                raise AuthenticationFailed(SIGNATURE_FAILED, exchange=EXCHANGE, exchange_code="401", path=path)
            if status == 403:
                raise PermissionDenied(GATEWAY_FORBIDDEN, exchange=EXCHANGE, exchange_code="403", path=path)
            if status >= 400:
                # Not worth retrying: usually a wrong base URL.
                raise ExchangeError(f"{BAD_STATUS} (HTTP {status})", exchange=EXCHANGE, path=path)
            raise ExchangeUnavailable(f"{GARBAGE} (HTTP {status})", exchange=EXCHANGE, path=path)
        code = str(answer.get("code", "")).strip()
        if status == 200 and code in ("0", ""):
            if code == "" and "data" not in answer:
                raise ExchangeUnavailable(f"{GARBAGE} (no code)", exchange=EXCHANGE, path=path)
            return answer.get("data")
        raise self._error(path, code or str(status), self._scrub(answer.get("message") or answer.get("msg") or ""))

    def _scrub(self, message) -> str:
        """The venue's message without anything that looks like our credentials."""
        text = str(message)
        for secret in (self._credentials.api_key, self._credentials.secret):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    @staticmethod
    def _error(path: str, code: str, message: str) -> ExchangeError:
        """The domain error for a refusal, decided by Coinstore's code, never by its words alone.

        A code Coinstore does not document is ExchangeUnavailable (retryable, and for an order
        "state unknown" to the guard), never OrderNotFound: "404 service not found", "3000 symbol
        not found" and "1002 api key not exist" must not read as "this order was never placed".
        Two refusals have no documented code, so they are recognised on one path only, where a
        misreading cannot place an order twice: a repeated clOrdId on placement (documented as
        unique) and an order the venue no longer holds on cancel.
        """
        said = f" (Coinstore said: {message})" if message else ""
        lowered = message.lower()
        fields = {"exchange": EXCHANGE, "exchange_code": code, "path": path}
        if code == CODE_UNAUTHORIZED:
            return PermissionDenied(IP_NOT_BOUND + said, **fields)
        if code == CODE_SIGNATURE_FAILED:
            return AuthenticationFailed(SIGNATURE_FAILED + said, **fields)
        if code == CODE_AMOUNT_PRECISION:
            return with_code(InvalidOrder(AMOUNT_PRECISION + said, **fields), "amount_precision")
        if code == CODE_QUANTITY_PRECISION:
            return with_code(InvalidOrder(QUANTITY_PRECISION + said, **fields), "quantity_precision")
        if code == CODE_INSUFFICIENT_FUNDS:
            return InsufficientFunds("Coinstore: insufficient balance" + said, **fields)
        if code == CODE_RATE_LIMITED:
            return RateLimited(RATE_LIMITED + said, **fields)
        if code.startswith("5") and len(code) == 3:
            return ExchangeUnavailable(SERVER_ERROR + said, **fields)
        if code == CODE_BAD_REQUEST:
            return with_code(ExchangeError(BAD_REQUEST + said, **fields), "bad_request")
        if code == CODE_SERVICE_NOT_FOUND:
            return ExchangeError(f"{BAD_STATUS} ({code}){said}", **fields)
        if path == PLACE_PATH and "clordid" in lowered.replace(" ", "") and any(
            word in lowered for word in ("duplicate", "exist", "repeat", "used")
        ):
            return DuplicateOrder(DUPLICATE_CLIENT_ID + said, **fields)
        if path == CANCEL_PATH and "order" in lowered and any(
            words in lowered for words in ("not found", "not exist", "finished")
        ):
            return OrderNotFound("Coinstore does not hold this order" + said, **fields)
        return ExchangeUnavailable(UNKNOWN_CODE + said, **fields)


def _envelope(raw: bytes) -> dict | None:
    """The decoded JSON object, or None when the body is not one."""
    try:
        answer = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None
