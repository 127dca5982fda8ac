"""An order sent to a venue slower than our timeout is found, never doubled, and never reported failed
while it rests on the book: the guard answers with the order or with OrderStateUnknown.

Real ccxt BitMart client and the real Coinstore connector against the local fakes, made slower than
the guard's timeout: the placement is carried out at once but answered late, and the venue's read
side shows the order only some time after it was placed.
"""

import time
from decimal import Decimal

import pytest

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.ccxt import CcxtConnector
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.errors import DuplicateOrder, ExchangeTimeout, OrderStateUnknown
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges.throttle import Throttle
from tests.fakes.bitmart import FakeBitmart
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

D = Decimal
KEY, SECRET, MEMO = "bm-key-0a1b2c3d", "bm-secret-4e5f6a7b", "bm-memo-8c9d"
SUBMIT = "/spot/v2/submit_order"
PLACE = "/api/trade/order/place"
TIMEOUT_S = 0.5  # the guard's cap on every call: the venues below answer a placement later


def bitmart_order(client_order_id="bot7-0001"):
    return OrderRequest("SHARP/USDT", "buy", "limit", D("1000"), client_order_id, D("0.0123"))


def coinstore_order(client_order_id="bot7-0001"):
    return OrderRequest("SHARP/USDT", "buy", "limit", D("100"), client_order_id, D("0.01200"))


def guarded(inner, policy=None):
    return GuardedConnector(inner, account_id=7, throttle=Throttle(), policy=policy, timeout_s=TIMEOUT_S)


@pytest.fixture
def bitmart():
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        yield fake


@pytest.fixture
def coinstore():
    with FakeCoinstore(KEY, SECRET) as fake:
        arrange_sharp_market(fake)
        yield fake


def bitmart_connector(fake):
    inner = CcxtConnector("bitmart", Credentials(api_key=KEY, secret=SECRET, memo=MEMO), api_url=fake.url)
    inner.load_markets()
    return inner


def coinstore_connector(fake):
    inner = CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url)
    inner.load_markets()
    return inner


# --- BitMart through ccxt ------------------------------------------------------------------------
def test_bitmart_order_registered_after_our_timeout_is_found_and_not_sent_again(bitmart):
    # Before: one look-up at 0.5 s found nothing, the re-send was refused 50042 and the guard
    # raised InvalidOrder while the first order rested on the book.
    connector = guarded(bitmart_connector(bitmart))
    bitmart.inject("late", path=SUBMIT, delay_s=2.0)
    bitmart.visible_after_s = 1.0

    order = connector.create_order(bitmart_order())

    [resting] = bitmart.orders.values()
    assert (order.exchange_order_id, order.client_order_id) == (resting["orderId"], "bot7-0001")
    assert len(bitmart.requests_to(SUBMIT)) == 1


def test_bitmart_resend_refused_as_duplicate_returns_the_resting_order(bitmart):
    # A look-up window shorter than the venue's delay: the re-send goes out and is refused 50042.
    connector = guarded(bitmart_connector(bitmart), RetryPolicy(lookup_window_s=0.3, order_budget_s=6.0))
    bitmart.inject("late", path=SUBMIT, delay_s=2.0)
    bitmart.visible_after_s = 1.5

    order = connector.create_order(bitmart_order())

    [resting] = bitmart.orders.values()
    assert order.exchange_order_id == resting["orderId"]
    assert len(bitmart.requests_to(SUBMIT)) == 2  # the second one refused as a duplicate


def test_bitmart_order_the_venue_never_shows_is_state_unknown_within_the_budget(bitmart):
    connector = guarded(bitmart_connector(bitmart), RetryPolicy(lookup_window_s=0.3, order_budget_s=3.0))
    bitmart.inject("late", path=SUBMIT, delay_s=2.0)
    bitmart.visible_after_s = 60.0

    started = time.monotonic()
    with pytest.raises(OrderStateUnknown) as caught:
        connector.create_order(bitmart_order())

    assert time.monotonic() - started < 3.0 + TIMEOUT_S + 0.5
    assert caught.value.client_order_id == "bot7-0001"
    assert caught.value.code == "order_state_unknown" and not caught.value.retryable
    assert len(bitmart.orders) == 1


def test_bitmart_refuses_a_repeated_client_order_id_as_a_duplicate_order(bitmart):
    connector = bitmart_connector(bitmart)
    connector.create_order(bitmart_order())

    with pytest.raises(DuplicateOrder) as caught:
        connector.create_order(bitmart_order())

    assert caught.value.exchange_code == "50042"


def test_bitmart_duplicate_on_the_first_send_means_it_exists_and_returns_it(bitmart):
    placed = bitmart_connector(bitmart).create_order(bitmart_order())

    again = guarded(bitmart_connector(bitmart)).create_order(bitmart_order())

    assert again.exchange_order_id == placed.exchange_order_id
    assert len(bitmart.orders) == 1


# --- Coinstore --------------------------------------------------------------------------------------
def test_coinstore_refuses_a_repeated_client_order_id(coinstore):
    connector = coinstore_connector(coinstore)
    connector.create_order(coinstore_order())

    with pytest.raises(DuplicateOrder):
        connector.create_order(coinstore_order())

    assert len(coinstore.orders) == 1


def test_coinstore_order_registered_after_our_timeout_is_one_order(coinstore):
    # Before: with a fake accepting a repeated clOrdId the same request became two live orders.
    connector = guarded(coinstore_connector(coinstore))
    coinstore.place_answer_delay_s = 2.0
    coinstore.visible_after_s = 1.0

    order = connector.create_order(coinstore_order())

    [resting] = coinstore.orders.values()
    assert order.exchange_order_id == str(resting["ordId"])
    assert len(coinstore.requests_to(PLACE)) == 1


def test_coinstore_resend_refused_as_duplicate_returns_the_resting_order(coinstore):
    connector = guarded(coinstore_connector(coinstore), RetryPolicy(lookup_window_s=0.3, order_budget_s=6.0))
    coinstore.place_answer_delay_s = 2.0
    coinstore.visible_after_s = 1.5

    order = connector.create_order(coinstore_order())

    [resting] = coinstore.orders.values()
    assert order.exchange_order_id == str(resting["ordId"])
    assert len(coinstore.requests_to(PLACE)) == 2


def test_coinstore_look_up_answered_service_not_found_is_state_unknown_and_never_resent(coinstore):
    # Before: "404 service not found" became OrderNotFound, read as "never placed": sent again.
    connector = guarded(coinstore_connector(coinstore), RetryPolicy(lookup_window_s=0.5, order_budget_s=3.0))
    coinstore.place_answer_delay_s = 2.0
    route = coinstore._route

    def order_info_gone(method, path, request):
        if path == "/v2/trade/order/orderInfo":
            return {"code": 404, "message": "service not found", "data": None}
        return route(method, path, request)

    coinstore._route = order_info_gone

    with pytest.raises(OrderStateUnknown):
        connector.create_order(coinstore_order())

    assert len(coinstore.requests_to(PLACE)) == 1


def test_coinstore_success_without_an_order_id_is_looked_up_and_returned(coinstore):
    connector = guarded(coinstore_connector(coinstore))
    place = coinstore._place
    coinstore._place = lambda body: {**place(body), "data": {}}

    order = connector.create_order(coinstore_order())

    [resting] = coinstore.orders.values()
    assert order.exchange_order_id == str(resting["ordId"])
    assert len(coinstore.requests_to(PLACE)) == 1


def test_coinstore_timeout_without_a_client_order_id_is_state_unknown(coinstore):
    connector = guarded(coinstore_connector(coinstore))
    coinstore.place_answer_delay_s = 2.0

    with pytest.raises(OrderStateUnknown) as caught:
        connector.create_order(coinstore_order(client_order_id=""))

    assert isinstance(caught.value.__cause__, ExchangeTimeout)
    assert len(coinstore.requests_to(PLACE)) == 1


# --- paper ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_paper_refuses_a_repeated_client_order_id_as_a_duplicate_and_the_guard_returns_the_order():
    from exchanges.connectors.paper import PaperConnector
    from tests.factories import ExchangeAccountFactory

    account = ExchangeAccountFactory(exchange="paper")
    request = OrderRequest("SHARP/USDT", "buy", "limit", D("1000"), "demo-1", D("0.01000"))
    placed = PaperConnector(account).create_order(request)

    with pytest.raises(DuplicateOrder):
        PaperConnector(account).create_order(request)
    again = GuardedConnector(PaperConnector(account), account_id=account.pk).create_order(request)

    assert again.exchange_order_id == placed.exchange_order_id
    assert len(PaperConnector(account).fetch_open_orders("SHARP/USDT")) == 1
