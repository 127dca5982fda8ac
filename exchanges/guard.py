"""GuardedConnector: what every connector the registry hands out is wrapped in.

- a shared throttle (per account, and per exchange for this server's IP) before every HTTP
  request: the guard hands the connector a ``before_request`` hook that its HTTP layer calls
  (a call can send many requests); a connector without HTTP parts is throttled once per call;
- idempotent reads retry on RateLimited / ExchangeUnavailable (timeouts included) with
  exponential backoff and full jitter, within a bounded number of attempts and a time budget;
- create_order never places twice and never calls an order failed that may rest on the book.
  After a failure that does not prove the order was refused (a timeout, a server error, an
  accepted answer without an order id, a refusal of the client order id as a duplicate) it asks
  for the client order id again and again, with backoff, for ``lookup_window_s`` (longer than a
  venue takes to show a new order; ``EXCHANGE_ORDER_LOOKUP_WINDOW_S``), and returns the order as
  soon as the venue shows it. Only when the answer at the window's end is "no such order" does it
  send once more. A duplicate refusal means "it exists": it is looked up until the call's budget
  ends, never sent again. When the state cannot be established in the budget (``order_budget_s``)
  the answer is OrderStateUnknown (carrying the client order id), never a failure;
- a timeout per call kind is handed to the wrapped connector through its ``timeout_s``;
- every failure is logged with exchange, account id and our error code, never credentials;
- the guard is the boundary: any other exception a connector lets out (an answer of a shape it
  did not expect) becomes ExchangeUnavailable naming only the exchange and the exception's type;
  the traceback goes to the log (whose filter scrubs secrets), never into the error's message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from exchanges.connectors.base import Connector, OrderInfo, OrderRequest
from exchanges.errors import (
    DuplicateOrder,
    ExchangeError,
    ExchangeUnavailable,
    OrderNotFound,
    OrderStateUnknown,
    RateLimited,
)
from exchanges.throttle import Throttle

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUTS_S = {
    "load_markets": 10.0,
    "fetch_balance": 15.0,
    "fetch_ticker": 5.0,
    "fetch_order_book": 5.0,
    "create_order": 10.0,
    "cancel_order": 10.0,
    "fetch_open_orders": 10.0,
    "fetch_order": 10.0,
    "fetch_my_trades": 15.0,
}
ORDER_STATE_UNKNOWN = (
    "The order may or may not rest on the exchange: it was sent and the exchange could not be made "
    "to say; reconcile by its client order id before placing it again."
)
UNEXPECTED_ANSWER = "unexpected answer from {exchange} ({kind})"
# A request late in a long call (a swap awaiting confirmation outlives the retry budget) may
# still wait this long for the next throttle window.
MIN_REQUEST_WAIT_S = 1.0
# No request is given less time than this, however little of the call's budget is left.
MIN_CALL_TIMEOUT_S = 0.5
# A second send needs at least this much of the budget left; else the state is reported unknown.
MIN_RESEND_S = 1.0
DEFAULT_LOOKUP_WINDOW_S = 8.0


def timeouts_s() -> dict[str, float]:
    return {**DEFAULT_TIMEOUTS_S, **getattr(settings, "EXCHANGE_TIMEOUTS_S", {})}


def lookup_window_s() -> float:
    return float(getattr(settings, "EXCHANGE_ORDER_LOOKUP_WINDOW_S", DEFAULT_LOOKUP_WINDOW_S))


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    budget_s: float = 20.0  # all attempts and waits of one read
    # create_order: how long the order is looked up before a second send (longer than a venue
    # takes to show an order it took), and the whole call's budget (two sends and the look-ups).
    lookup_window_s: float = DEFAULT_LOOKUP_WINDOW_S
    order_budget_s: float = 30.0

    def delay_s(self, attempt: int, error: ExchangeError | None = None) -> float:
        """Full jitter over an exponential cap; a venue's own retry-after wins when longer."""
        capped = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        delay = random.uniform(capped / 2, capped)
        retry_after = error.fields.get("retry_after_s") if error is not None else None
        return max(delay, retry_after) if isinstance(retry_after, (int, float)) else delay


class GuardedConnector(Connector):
    """Throttles, retries and times out calls to ``inner``; same interface, same errors."""

    def __init__(
        self,
        inner: Connector,
        *,
        account_id,
        throttle: Throttle | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.inner = inner
        self.exchange_id = inner.exchange_id
        self.account_id = account_id
        self.throttle = throttle or Throttle()
        self.policy = policy or RetryPolicy(lookup_window_s=lookup_window_s())
        self.timeout_cap_s = timeout_s
        self.sleep = sleep
        self.clock = clock
        self._requests_sent = 0  # requests the throttle let out since the last _prepare

    def __repr__(self):
        return f"<GuardedConnector {self.exchange_id} account={self.account_id}>"

    # --- plumbing -----------------------------------------------------------------------------
    def _prepare(self, kind: str, deadline: float) -> None:
        """Throttle (per request through the hook, else once here) and set the call's timeout,
        never longer than what is left of the call's budget."""
        self._requests_sent = 0
        if self.inner.request_senders():
            self.inner.before_request = self._request_gate(deadline)
        else:
            self.throttle.acquire(self.exchange_id, self.account_id, max_wait_s=max(0.0, deadline - self.clock()))
        timeout = timeouts_s().get(kind, 10.0)
        if self.timeout_cap_s is not None:
            timeout = min(timeout, self.timeout_cap_s)
        timeout = min(timeout, max(MIN_CALL_TIMEOUT_S, deadline - self.clock()))
        if hasattr(self.inner, "timeout_s"):
            self.inner.timeout_s = timeout

    def _request_gate(self, deadline: float) -> Callable[[], None]:
        def before_request() -> None:
            wait_s = max(MIN_REQUEST_WAIT_S, deadline - self.clock())
            self.throttle.acquire(self.exchange_id, self.account_id, max_wait_s=wait_s)
            self._requests_sent += 1

        return before_request

    def _unexpected(self, kind: str, exc: Exception) -> ExchangeUnavailable:
        """The domain error for a non-domain exception; its text (venue words) stays in the log."""
        logger.error(
            "%s %s for account %s raised %s",
            self.exchange_id,
            kind,
            self.account_id,
            type(exc).__name__,
            exc_info=exc,
            extra={"exchange": self.exchange_id, "account_id": self.account_id, "call": kind,
                   "error_code": ExchangeUnavailable.code},
        )
        return ExchangeUnavailable(
            UNEXPECTED_ANSWER.format(exchange=self.exchange_id, kind=type(exc).__name__), exchange=self.exchange_id
        )

    def _log(self, kind: str, error: ExchangeError, attempt: int) -> None:
        logger.warning(
            "%s %s failed for account %s: %s (attempt %d)",
            self.exchange_id,
            kind,
            self.account_id,
            error.code,
            attempt,
            extra={
                "exchange": self.exchange_id,
                "account_id": self.account_id,
                "call": kind,
                "error_code": error.code,
                "exchange_code": error.exchange_code,
                "attempt": attempt,
            },
        )

    def _read(self, kind: str, call: Callable, *args, **kwargs):
        deadline = self.clock() + self.policy.budget_s
        attempt = 0
        while True:
            attempt += 1
            try:
                self._prepare(kind, deadline)
                try:
                    return call(*args, **kwargs)
                except ExchangeError:
                    raise
                except Exception as unexpected:
                    raise self._unexpected(kind, unexpected) from None
            except ExchangeError as exc:
                self._log(kind, exc, attempt)
                if not exc.retryable or attempt >= self.policy.attempts:
                    raise
                delay = self.policy.delay_s(attempt - 1, exc)
                if self.clock() + delay >= deadline:
                    raise
                self.sleep(delay)

    # --- reads (retried) ----------------------------------------------------------------------
    def load_markets(self):
        return self._read("load_markets", self.inner.load_markets)

    def fetch_balance(self):
        return self._read("fetch_balance", self.inner.fetch_balance)

    def fetch_ticker(self, symbol):
        return self._read("fetch_ticker", self.inner.fetch_ticker, symbol)

    def fetch_order_book(self, symbol, depth=20):
        return self._read("fetch_order_book", self.inner.fetch_order_book, symbol, depth)

    def fetch_open_orders(self, symbol):
        return self._read("fetch_open_orders", self.inner.fetch_open_orders, symbol)

    def fetch_order(self, symbol, exchange_order_id="", client_order_id=""):
        return self._read("fetch_order", self.inner.fetch_order, symbol, exchange_order_id, client_order_id)

    def fetch_my_trades(self, symbol, since: datetime | None = None, limit=500):
        return self._read("fetch_my_trades", self.inner.fetch_my_trades, symbol, since, limit)

    # --- writes (never blindly retried) ---------------------------------------------------------
    def cancel_order(self, symbol, exchange_order_id):
        """Cancelling twice is harmless (the second finds the order closed), so it retries like a read."""
        return self._read("cancel_order", self.inner.cancel_order, symbol, exchange_order_id)

    def create_order(self, request: OrderRequest) -> OrderInfo:
        """The order as the exchange holds it; OrderStateUnknown when that cannot be established.

        A refusal that proves nothing was placed (invalid order, insufficient funds, credentials,
        a local throttle refusal before any request went out) is raised as it is. Anything else
        ends in the order or in OrderStateUnknown: never in a failure while the order may rest.
        """
        deadline = self.clock() + self.policy.order_budget_s
        try:
            return self._send(request, deadline)
        except ExchangeError as exc:
            self._log("create_order", exc, 1)
            if self._refused(exc) or (isinstance(exc, RateLimited) and exc.fields.get("local")
                                      and not self._requests_sent):
                raise
            first = exc
        if not request.client_order_id:
            raise self._unknown(request, first) from first
        if isinstance(first, DuplicateOrder):
            order, _ = self._find(request, deadline)  # it exists: ask until the budget ends
            if order is not None:
                return order
            raise self._unknown(request, first) from first
        order, absent = self._find(request, min(deadline, self.clock() + self.policy.lookup_window_s))
        if order is not None:
            return order
        if not absent or deadline - self.clock() < MIN_RESEND_S:
            raise self._unknown(request, first) from first
        # At the window's end the venue still said "no such order": it never reached the book.
        try:
            return self._send(request, deadline)
        except ExchangeError as exc:
            self._log("create_order", exc, 2)
            second = exc
        # The first send's fate is only "very likely lost": a refusal now is no proof either.
        window_end = min(deadline, self.clock() + self.policy.lookup_window_s)
        order, _ = self._find(request, deadline if isinstance(second, DuplicateOrder) else window_end)
        if order is not None:
            return order
        raise self._unknown(request, second) from second

    @staticmethod
    def _refused(error: ExchangeError) -> bool:
        """The venue said no to this very order: nothing was placed."""
        return not error.retryable and not isinstance(error, (DuplicateOrder, OrderStateUnknown))

    def _send(self, request: OrderRequest, deadline: float) -> OrderInfo:
        # A local throttle refusal here (a connector without HTTP parts) comes before anything is
        # sent, so it goes straight up.
        self._prepare("create_order", deadline)
        try:
            return self.inner.create_order(request)
        except ExchangeError:
            raise
        except Exception as unexpected:  # the order may have been sent: looked up by the caller
            raise self._unexpected("create_order", unexpected) from None

    def _find(self, request: OrderRequest, until: float) -> tuple[OrderInfo | None, bool]:
        """Ask for the order by client order id, with backoff, until found or ``until`` passes.

        Returns (the order, False) once the venue shows it, else (None, absent) where ``absent``
        says the last answer was "no such order" (an error answer proves nothing either way).
        """
        attempt, absent = 0, False
        while True:
            attempt += 1
            try:
                self._prepare("fetch_order", until)
                try:
                    return self.inner.fetch_order(request.symbol, "", request.client_order_id), False
                except ExchangeError:
                    raise
                except Exception as unexpected:
                    raise self._unexpected("fetch_order", unexpected) from None
            except OrderNotFound:
                absent = True
            except ExchangeError as exc:
                self._log("fetch_order", exc, attempt)
                absent = False
            left = until - self.clock()
            if left <= 0:
                return None, absent
            self.sleep(min(self.policy.delay_s(attempt - 1), left))

    def _unknown(self, request: OrderRequest, error: ExchangeError) -> OrderStateUnknown:
        logger.error(
            "%s create_order for account %s: state unknown for client order id %r",
            self.exchange_id, self.account_id, request.client_order_id,
            extra={"exchange": self.exchange_id, "account_id": self.account_id, "call": "create_order",
                   "error_code": OrderStateUnknown.code, "exchange_code": error.exchange_code},
        )
        return OrderStateUnknown(
            ORDER_STATE_UNKNOWN, exchange=self.exchange_id, exchange_code=error.exchange_code,
            client_order_id=request.client_order_id, after=error.code,
        )

    def close(self):
        self.inner.close()
