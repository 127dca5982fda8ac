"""The few domain errors every connector maps its venue's failures to.

Each keeps the exchange's own code and message for the operator; ``code`` is our stable name.
Messages never contain credentials (connectors build them from the exchange's answer only).
"""


class ExchangeError(Exception):
    code = "exchange_error"
    http_status = 502
    retryable = False

    def __init__(self, message: str = "", *, exchange: str = "", exchange_code: str | None = None,
                 code: str | None = None, **fields):
        if code:
            self.code = code  # a finer reason than the class's, e.g. "below_min_notional"
        self.message = message or self.__class__.__doc__ or self.code
        self.exchange = exchange
        self.exchange_code = None if exchange_code is None else str(exchange_code)
        self.fields = fields
        super().__init__(self.message)

    def __str__(self):
        where = f"{self.exchange}: " if self.exchange else ""
        code = f" [{self.exchange_code}]" if self.exchange_code else ""
        return f"{where}{self.message}{code}"


class AuthenticationFailed(ExchangeError):
    """The exchange rejected the API key or signature."""

    code = "exchange_auth_failed"
    http_status = 400


class PermissionDenied(ExchangeError):
    """The key lacks a permission, or this server's IP is not whitelisted for it."""

    code = "exchange_permission_denied"
    http_status = 400


class InsufficientFunds(ExchangeError):
    """Not enough balance for the order."""

    code = "insufficient_funds"
    http_status = 400


class InvalidOrder(ExchangeError):
    """The order breaks the market's rules (precision, minimum amount or notional)."""

    code = "invalid_order"
    http_status = 400


class OrderNotFound(ExchangeError):
    """The exchange does not know this order."""

    code = "order_not_found"
    http_status = 404


class RateLimited(ExchangeError):
    """The exchange asked us to slow down."""

    code = "exchange_rate_limited"
    http_status = 429
    retryable = True


class ExchangeUnavailable(ExchangeError):
    """The exchange answered with a server error, garbage, or not at all."""

    code = "exchange_unavailable"
    http_status = 503
    retryable = True


class ExchangeTimeout(ExchangeUnavailable):
    """The exchange did not answer within the call's time budget."""

    code = "exchange_timeout"


class DuplicateOrder(InvalidOrder):
    """The exchange already holds an order with this client order id."""

    code = "duplicate_order"
    http_status = 409


class OrderStateUnknown(ExchangeError):
    """The order may or may not rest on the exchange: it was sent, and the exchange could not be
    made to say whether it holds it. Not a failure: reconcile by ``client_order_id`` before any
    new order for the same intent."""

    code = "order_state_unknown"
    http_status = 503

    def __init__(self, message: str = "", *, client_order_id: str = "", **fields):
        super().__init__(message, client_order_id=client_order_id, **fields)
        self.client_order_id = client_order_id
