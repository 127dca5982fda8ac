"""The guard is the boundary: whatever a connector lets out, callers see only domain errors."""

import logging
from decimal import Decimal, InvalidOperation

import pytest

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.ccxt import CcxtConnector
from exchanges.errors import ExchangeError, ExchangeUnavailable, OrderStateUnknown
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges.throttle import Throttle
from tests.exchanges.test_guard import FlakyVenue, Recorder
from tests.fakes.bitmart import FakeBitmart

D = Decimal
VENUE_TEXT = "venue said: key=bm-key-7f3a9c2e"
ORDER = OrderRequest("SHARP/USDT", "buy", "limit", D("10"), "bot1-0001", D("1"))
CRED = Credentials(api_key="bm-key-7f3a9c2e", secret="bm-secret-5d8e1b4a", memo="bm-memo-3c6f")


class OddVenue(FlakyVenue):
    """Answers reads with a shape the connector does not expect; takes orders, then trips over the answer."""

    def __init__(self, error: Exception):
        super().__init__()
        self.raw_error = error

    def fetch_balance(self):
        self.calls["fetch_balance"] = self.calls.get("fetch_balance", 0) + 1
        raise self.raw_error

    def create_order(self, request):
        self.calls["create_order"] = self.calls.get("create_order", 0) + 1
        self._book(request)
        raise self.raw_error


def guarded(inner, recorder, **policy):
    return GuardedConnector(
        inner, account_id=7, throttle=Throttle(sleep=recorder.sleep, clock=recorder.clock),
        policy=RetryPolicy(**policy), sleep=recorder.sleep, clock=recorder.clock,
    )


RAW_ERRORS = [
    AttributeError(VENUE_TEXT),
    KeyError(VENUE_TEXT),
    TypeError(VENUE_TEXT),
    ValueError(VENUE_TEXT),
    InvalidOperation(VENUE_TEXT),
    IndexError(VENUE_TEXT),
]


@pytest.mark.parametrize("raw", RAW_ERRORS, ids=lambda e: type(e).__name__)
def test_unexpected_exception_from_a_read_becomes_exchange_unavailable_naming_only_its_type(raw):
    recorder, venue = Recorder(), OddVenue(raw)

    with pytest.raises(ExchangeUnavailable) as caught:
        guarded(venue, recorder, attempts=1).fetch_balance()

    assert str(caught.value) == f"flaky: unexpected answer from flaky ({type(raw).__name__})"
    assert caught.value.exchange == "flaky"
    # The venue's words stay out of the error, its cause and its context.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unexpected_exception_is_logged_with_its_traceback(caplog):
    recorder, venue = Recorder(), OddVenue(KeyError("bid"))
    logger = logging.getLogger("exchanges")
    logger.addHandler(caplog.handler)
    try:
        with pytest.raises(ExchangeUnavailable):
            guarded(venue, recorder, attempts=1).fetch_balance()
    finally:
        logger.removeHandler(caplog.handler)

    [record] = [r for r in caplog.records if r.name == "exchanges.guard" and r.exc_info]
    assert record.exc_info[0] is KeyError
    assert (record.exchange, record.account_id, record.call) == ("flaky", 7, "fetch_balance")


def test_unexpected_exception_from_a_read_is_retried_like_any_unavailable_answer():
    recorder, venue = Recorder(), OddVenue(TypeError("'NoneType' object is not subscriptable"))

    with pytest.raises(ExchangeUnavailable):
        guarded(venue, recorder, attempts=3).fetch_balance()

    assert venue.calls["fetch_balance"] == 3


def test_unexpected_exception_after_create_order_looks_the_order_up_instead_of_placing_twice():
    recorder, venue = Recorder(), OddVenue(InvalidOperation([InvalidOperation]))

    order = guarded(venue, recorder).create_order(ORDER)

    assert order.client_order_id == "bot1-0001" and order.status == "open"
    assert venue.calls["create_order"] == 1 and venue.calls["fetch_order"] == 1
    assert len(venue.orders) == 1


def test_create_order_without_a_client_order_id_reports_an_unexpected_answer_as_state_unknown():
    recorder, venue = Recorder(), OddVenue(AttributeError(VENUE_TEXT))

    with pytest.raises(OrderStateUnknown) as caught:
        guarded(venue, recorder).create_order(OrderRequest("SHARP/USDT", "buy", "market", D("10"), ""))

    assert VENUE_TEXT not in str(caught.value)
    assert venue.calls["create_order"] == 1


def test_interrupts_are_not_swallowed():
    recorder, venue = Recorder(), OddVenue(KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        guarded(venue, recorder).fetch_balance()


def test_bitmart_balance_beyond_the_exact_range_is_a_domain_error_through_the_guard():
    with FakeBitmart(CRED.api_key, CRED.secret, CRED.memo,
                     balances={"SHIB": ("1" + "0" * 30, "0"), "USDT": ("1", "0")}) as fake:
        inner = CcxtConnector("bitmart", CRED, api_url=fake.url, timeout_s=5)
        with pytest.raises(ExchangeError) as caught:
            guarded(inner, Recorder(), attempts=1).fetch_balance()

    assert isinstance(caught.value, ExchangeUnavailable)


def test_bitmart_balances_of_thirty_digits_arrive_exact():
    with FakeBitmart(CRED.api_key, CRED.secret, CRED.memo,
                     balances={"PEPE": ("123456789012.123456789012345678", "0.000000000000000001"),
                               "SHIB": ("1" + "0" * 28, "0"), "USDT": ("1", "0")}) as fake:
        inner = CcxtConnector("bitmart", CRED, api_url=fake.url, timeout_s=5)
        rows = {row.asset: row for row in guarded(inner, Recorder()).fetch_balance()}

    assert rows["PEPE"].available == D("123456789012.123456789012345678")
    assert rows["PEPE"].locked == D("0.000000000000000001")
    assert rows["SHIB"].available == D("1" + "0" * 28)
