"""What sits between the connector and ccxt: hardened exchange classes, exact numbers, errors.

ccxt runs with ``number = str`` so the amounts it parses stay the exchange's own strings; order
book levels keep their strings too, and ``dec`` reads them in an exact context (never rounded).
An unparseable 2xx body is a BadResponse (ccxt would hand it on as text and read it as "no
data"), and BitMart's error without a message (which crashes ccxt's own handler) is decided on
its code. Every request first calls the connector's ``before_request`` hook (the guard's
throttle).

Time bound: ccxt sends through requests with ``timeout`` per socket operation, so a venue that
trickles its answer a byte at a time can hold a call past ``timeout``; bounding that would mean
rewriting ccxt's fetch, which we do not. The Coinstore transport does bound each request in total.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal, DecimalException, localcontext

import ccxt

from exchanges import errors
from exchanges.markets import EXACT, MAX_MAGNITUDE
from pipelabs.logging import MASK, scrub

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
IP_NOT_WHITELISTED = (
    "{exchange} refused this server's IP address (code 30010): add the server's public IP to the API "
    "key's IP whitelist on {exchange}, then try again."
)
NO_MESSAGE = "{exchange} answered error code {code} without a message."
# ccxt words a timeout or a cut connection as just "<id> <method> <url>": say what happened.
NO_ANSWER = "no answer within the time limit ({request})"
CONNECTION_LOST = "the connection failed or was closed before an answer ({request})"
UNREADABLE_NUMBER = "Unreadable number {value!r} in the exchange's answer"
NUMBER_OUT_OF_RANGE = "Number {value!r} in the exchange's answer is beyond what the platform handles"

# ccxt error classes, most specific first, and the domain error each becomes.
ERROR_MAP = (
    (ccxt.DuplicateOrderId, errors.DuplicateOrder),
    (ccxt.OrderNotFound, errors.OrderNotFound),
    (ccxt.PermissionDenied, errors.PermissionDenied),
    (ccxt.AccountSuspended, errors.PermissionDenied),
    (ccxt.AuthenticationError, errors.AuthenticationFailed),
    (ccxt.InsufficientFunds, errors.InsufficientFunds),
    (ccxt.InvalidOrder, errors.InvalidOrder),
    (ccxt.BadRequest, errors.InvalidOrder),
    (ccxt.ArgumentsRequired, errors.InvalidOrder),
    (ccxt.RateLimitExceeded, errors.RateLimited),
    (ccxt.DDoSProtection, errors.RateLimited),
    (ccxt.RequestTimeout, errors.ExchangeTimeout),
    (ccxt.OperationFailed, errors.ExchangeUnavailable),  # network, unavailable, bad response
)
SUCCESS_CODES = {"bitmart": "1000"}
IP_NOT_WHITELISTED_CODES = {"bitmart": "30010"}
# A repeated client order id, where ccxt does not say DuplicateOrderId itself (ccxt 4.5.70 maps
# BitMart's 50042 to BadRequest). The guard reads DuplicateOrder as "the order exists".
DUPLICATE_ORDER_CODES = {"bitmart": {"50042"}}

# ccxt logs request headers (the API key, the signature) at debug level; its instances get a
# logger that no logging configuration can switch on.
SILENT = logging.Logger("exchanges.ccxt.silenced", logging.CRITICAL + 1)

_classes: dict[str, type] = {}
_classes_lock = threading.Lock()


class Hardened:
    """Mixed in before a ccxt exchange class; records the last error answer as ``answer``."""

    number = str
    answer: tuple[str | None, str | None] | None = None
    http_status: int | None = None
    before_request = None  # the connector's hook, set through Connector.before_request

    def on_rest_response(self, code, reason, url, method, response_headers, response_body, request_headers, request_body):
        self.http_status = code
        return super().on_rest_response(
            code, reason, url, method, response_headers, response_body, request_headers, request_body
        )

    def fetch(self, url, method="GET", headers=None, body=None):
        if self.before_request is not None:
            self.before_request()
        self.http_status, self.answer = None, None
        return super().fetch(url, method, headers, body)

    def parse_json(self, http_response):
        parsed = super().parse_json(http_response)
        if parsed is None and (self.http_status or 0) < 400:
            raise ccxt.BadResponse(f"{self.id} answered HTTP {self.http_status} with a body that is not JSON")
        return parsed

    def handle_errors(self, code, reason, url, method, headers, body, response, request_headers, request_body):
        try:
            return super().handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body)
        except ccxt.BaseError:
            self.answer = answer_of(response)
            raise
        except (AttributeError, TypeError):
            # The earlier system's crash: BitMart's error with a missing or null "message".
            self.answer = answer_of(response)
            answer_code = self.answer[0]
            if answer_code is not None and answer_code == SUCCESS_CODES.get(self.id):
                return None
            error_class = self.exceptions["exact"].get(answer_code, ccxt.ExchangeError)
            raise error_class(NO_MESSAGE.format(exchange=self.id, code=answer_code)) from None

    def parse_order_book_bid_ask(self, bidask, priceKey=0, amountKey=1, countOrIdKey=2):
        return [self.safe_string(bidask, priceKey), self.safe_string(bidask, amountKey)]


def answer_of(response) -> tuple[str | None, str | None]:
    """The exchange's own (code, message) from an error answer, when it is JSON."""
    if not isinstance(response, dict):
        return None, None
    code = next((str(response[k]) for k in ("code", "error_code", "errorCode") if response.get(k) is not None), None)
    message = next((str(response[k]) for k in ("message", "msg", "error") if response.get(k)), None)
    return code, message


def exchange_class(exchange_id: str) -> type:
    """ccxt's sync class for ``exchange_id`` with Hardened mixed in; ExchangeError if unknown."""
    with _classes_lock:
        if exchange_id not in _classes:
            base = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
            if base is None:
                raise errors.ExchangeError(f"ccxt does not know the exchange {exchange_id!r}", exchange=exchange_id)
            _classes[exchange_id] = type(f"Hardened{base.__name__}", (Hardened, base), {})
        return _classes[exchange_id]


def aimed(urls, base: str):
    """ccxt's ``urls['api']`` with every endpoint replaced by ``base`` (a local fake or a proxy)."""
    if isinstance(urls, dict):
        return {name: aimed(value, base) for name, value in urls.items()}
    return base if isinstance(urls, str) else urls


def domain_error(exc: ccxt.BaseError, exchange, secrets: tuple[str, ...]) -> errors.ExchangeError:
    """The domain error for a ccxt failure, with the exchange's own code and message, secrets masked."""
    code, message = getattr(exchange, "answer", None) or (None, None)
    status = getattr(exchange, "http_status", None)
    error_class = next((domain for source, domain in ERROR_MAP if isinstance(exc, source)), errors.ExchangeError)
    if code is not None and code == IP_NOT_WHITELISTED_CODES.get(exchange.id):
        error_class, message = errors.PermissionDenied, IP_NOT_WHITELISTED.format(exchange=exchange.id)
    if code is not None and code in DUPLICATE_ORDER_CODES.get(exchange.id, ()):
        error_class = errors.DuplicateOrder
    if code is None and status and status >= 400:
        code = str(status)
    if message is None and isinstance(exc, ccxt.NetworkError) and status is None:
        request = str(exc).removeprefix(f"{exchange.id} ")
        message = (NO_ANSWER if isinstance(exc, ccxt.RequestTimeout) else CONNECTION_LOST).format(request=request)
    return error_class(masked(message or str(exc), secrets)[:500], exchange=exchange.id, exchange_code=code)


def masked(text: str, secrets: tuple[str, ...]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return scrub(text)


def dec(value, default: Decimal | None = None) -> Decimal | None:
    """An exact Decimal from the exchange's string (or int); None or '' give ``default``.

    ExchangeUnavailable when the text is not a finite number or its magnitude reaches
    MAX_MAGNITUDE (10^30): nothing the platform computes with is ever rounded.
    """
    if value is None or value == "":
        return default
    text = str(value)[:40]
    try:
        number = Decimal(str(value))
    except DecimalException:
        raise errors.ExchangeUnavailable(UNREADABLE_NUMBER.format(value=text)) from None
    if not number.is_finite():
        raise errors.ExchangeUnavailable("Non-finite number in the exchange's answer")
    if number.copy_abs() >= MAX_MAGNITUDE:  # abs() would round to the context first
        raise errors.ExchangeUnavailable(NUMBER_OUT_OF_RANGE.format(value=text))
    try:
        return plain(number)
    except DecimalException:  # more significant digits than EXACT holds
        raise errors.ExchangeUnavailable(NUMBER_OUT_OF_RANGE.format(value=text)) from None


def plain(number: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent form for whole numbers (5E+1); exact.

    Raises decimal.Inexact rather than round a number with more digits than EXACT holds.
    """
    with localcontext(EXACT):
        number = number.normalize()
        return number.quantize(Decimal(1)) if number.as_tuple().exponent > 0 else number


def at_ms(ms) -> datetime | None:
    return None if ms is None else EPOCH + timedelta(milliseconds=int(ms))


def to_ms(moment: datetime) -> int:
    """Exact integer milliseconds (no float timestamp on the way)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)
