"""How the Coinstore connector fails: venue codes and transport faults to domain errors, fast, and
without ever showing the credentials."""

import logging
import time
from decimal import Decimal

import pytest

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.coinstore.transport import IP_NOT_BOUND
from exchanges.errors import (
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
)
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

API_KEY = "CSKEY-test-0123456789abcdef"
SECRET = "CSSECRET-test-fedcba9876543210"


@pytest.fixture
def fake():
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        yield venue


def connect(fake, *, api_key=API_KEY, secret=SECRET, timeout_s=5.0):
    return CoinstoreConnector(Credentials(api_key=api_key, secret=secret), base_url=fake.url, timeout_s=timeout_s)


def test_ip_not_bound_to_the_key_maps_to_permission_denied_with_the_binding_hint(fake):
    fake.allowed_ips = {"203.0.113.7"}  # the key is bound to another server
    with pytest.raises(PermissionDenied) as caught:
        connect(fake).fetch_balance()
    assert caught.value.exchange_code == "1401"
    assert caught.value.message.startswith(IP_NOT_BOUND)
    assert "/egress-ip" in str(caught.value)


def test_unknown_key_maps_to_permission_denied_1401(fake):
    with pytest.raises(PermissionDenied) as caught:
        connect(fake, api_key="CSKEY-someone-else").fetch_balance()
    assert caught.value.exchange_code == "1401"


def test_quantity_precision_3104_maps_to_invalid_order_and_reloads_the_rules(fake):
    connector = connect(fake)
    connector.load_markets()
    fake.symbols["SHARPUSDT"]["lotSz"] = 0  # Coinstore tightened the rule after we cached it
    order = OrderRequest(
        symbol="SHARP/USDT", side="buy", kind="limit", amount=Decimal("10.5"), price=Decimal("0.012"), client_order_id="q"
    )
    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(order)
    assert (caught.value.code, caught.value.exchange_code) == ("quantity_precision", "3104")
    assert connector.market("SHARP/USDT").amount_step == Decimal("1")
    connector.create_order(order)  # now sent as "10" and accepted
    assert fake.requests_to("/api/trade/order/place")[-1].json()["ordQty"] == "10"


def test_amount_precision_3106_maps_to_invalid_order(fake):
    connector = connect(fake)
    connector.load_markets()
    fake.symbols["SHARPUSDT"]["tickSz"] = 2
    order = OrderRequest(symbol="SHARP/USDT", side="buy", kind="market", amount=Decimal("1000.129"), client_order_id="a")
    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(order)
    assert (caught.value.code, caught.value.exchange_code) == ("amount_precision", "3106")


def test_http_429_maps_to_rate_limited(fake):
    fake.fault = "429"
    with pytest.raises(RateLimited) as caught:
        connect(fake).fetch_balance()
    assert caught.value.retryable is True


@pytest.mark.parametrize("fault", ["500", "garbage"])
def test_server_error_or_garbage_maps_to_exchange_unavailable(fake, fault):
    fake.fault = fault
    with pytest.raises(ExchangeUnavailable) as caught:
        connect(fake).fetch_balance()
    assert not isinstance(caught.value, ExchangeTimeout)


def test_wrong_base_url_is_an_error_not_worth_retrying(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url + "/v9")
    with pytest.raises(ExchangeError) as caught:
        connector.fetch_balance()
    assert caught.value.retryable is False
    assert caught.value.exchange_code == "404"


def test_refused_connection_maps_to_exchange_unavailable():
    with FakeCoinstore(API_KEY, SECRET) as gone:
        url = gone.url
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=url, timeout_s=2)
    with pytest.raises(ExchangeUnavailable):
        connector.fetch_balance()


def test_hang_raises_exchange_timeout_within_the_budget(fake):
    fake.fault = "hang"
    started = time.monotonic()
    with pytest.raises(ExchangeTimeout):
        connect(fake, timeout_s=1).fetch_balance()
    assert time.monotonic() - started < 2


def test_fixed_delay_is_added_to_every_answer(fake):
    connector = connect(fake)
    connector.fetch_balance()  # warm the connection
    fake.delay_s = 0.2
    started = time.monotonic()
    connector.fetch_balance()
    assert 0.2 <= time.monotonic() - started < 1


def test_credentials_never_appear_in_errors_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    failures = []

    def attempt(connector, **faults):
        for name, value in faults.items():
            setattr(fake, name, value)
        try:
            connector.fetch_balance()
        except ExchangeError as exc:
            failures.append(exc)

    good = connect(fake, timeout_s=1)
    attempt(connect(fake, secret="CSSECRET-wrong-0000"))
    attempt(good, fault="tamper")
    attempt(good, fault="429")
    attempt(good, fault="500")
    attempt(good, fault="garbage")
    attempt(good, fault="hang")
    attempt(good, fault=None, allowed_ips={"203.0.113.7"})
    signatures = [r.headers.get("X-CS-SIGN") for r in fake.received if r.headers.get("X-CS-SIGN")]

    assert len(failures) == 7
    assert signatures
    shown = caplog.text + repr(good) + "".join(f"{exc!s}{exc!r}{exc.fields!r}" for exc in failures)
    for secret in [API_KEY, SECRET, "CSSECRET-wrong-0000", *signatures]:
        assert secret not in shown


def test_a_venue_message_echoing_the_key_is_scrubbed(fake):
    fake.allowed_ips = set()
    fake._authenticate = lambda request, ip: {"code": 1401, "message": f"key {API_KEY} unknown", "data": None}
    with pytest.raises(PermissionDenied) as caught:
        connect(fake).fetch_balance()
    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_missing_timeout_falls_back_to_the_default_instead_of_waiting_forever(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url, timeout_s=None)
    assert connector._http.timeout == (10.0, 10.0)


# --- codes, not words ------------------------------------------------------------------------
def answer_every_call_with(fake, code, message):
    fake._route = lambda method, path, request: {"code": code, "message": message, "data": None}


@pytest.mark.parametrize(
    ("code", "message"),
    [(404, "service not found"), (3000, "symbol not found"), (1002, "api key not exist"), (3999, "order not exist")],
)
def test_a_not_found_message_is_never_read_as_order_not_found(fake, code, message):
    # Before: any message with "not found" / "not exist" became OrderNotFound, which the guard
    # reads as "never placed, send it again".
    answer_every_call_with(fake, code, message)

    with pytest.raises(ExchangeError) as caught:
        connect(fake).fetch_order("SHARP/USDT", client_order_id="c1")

    assert not isinstance(caught.value, OrderNotFound)
    assert caught.value.exchange_code == str(code)


@pytest.mark.parametrize(("code", "message"), [(3000, "symbol not found"), (1002, "api key not exist"), (7777, "")])
def test_an_unknown_code_is_exchange_unavailable(fake, code, message):
    answer_every_call_with(fake, code, message)

    with pytest.raises(ExchangeUnavailable) as caught:
        connect(fake).fetch_balance()

    assert caught.value.retryable and caught.value.exchange_code == str(code)


def test_service_not_found_404_is_a_configuration_error_not_worth_retrying(fake):
    answer_every_call_with(fake, 404, "service not found")

    with pytest.raises(ExchangeError) as caught:
        connect(fake).fetch_balance()

    assert not caught.value.retryable and not isinstance(caught.value, OrderNotFound)


def test_cancel_of_an_order_coinstore_no_longer_holds_is_order_not_found(fake):
    connector = connect(fake)
    placed = connector.create_order(OrderRequest("SHARP/USDT", "buy", "limit", Decimal("100"), "c9", Decimal("0.012")))
    connector.cancel_order("SHARP/USDT", placed.exchange_order_id)

    with pytest.raises(OrderNotFound):
        connector.cancel_order("SHARP/USDT", placed.exchange_order_id)


@pytest.mark.parametrize(("status", "ours"), [("EXPIRED", "canceled"), ("STOPPED", "canceled"),
                                              ("SUBMITTING", "open"), ("PARTIAL_CANCELED", "canceled")])
def test_every_documented_order_status_has_a_defined_meaning(status, ours):
    from exchanges.connectors.coinstore.parsing import parse_order

    row = {"ordId": 1, "clOrdId": "c", "side": "BUY", "ordType": "LIMIT", "ordQty": "1", "ordPrice": "1",
           "cumQty": "0", "ordStatus": status, "timestamp": 1_700_000_000_000}
    assert parse_order(row, "SHARP/USDT").status == ours


def test_an_order_status_nobody_documented_is_an_unexpected_answer_not_open():
    from exchanges.connectors.coinstore.parsing import parse_order

    row = {"ordId": 1, "side": "BUY", "ordType": "LIMIT", "ordQty": "1", "ordPrice": "1", "ordStatus": "HALTED"}
    with pytest.raises(ExchangeUnavailable):
        parse_order(row, "SHARP/USDT")
