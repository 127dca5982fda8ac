"""Every BitMart failure leaves CcxtConnector as a domain error, in time, without credentials."""

import logging
import time
from decimal import Decimal

import pytest

from exchanges import errors
from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.ccxt import CcxtConnector
from tests.fakes.bitmart import FakeBitmart

KEY, SECRET, MEMO = "bm-key-91c4e0aa", "bm-secret-2b7d55f1", "bm-memo-8e1f"
CREDENTIALS = Credentials(api_key=KEY, secret=SECRET, memo=MEMO)
WALLET = "/spot/v1/wallet"
SUBMIT = "/spot/v2/submit_order"


@pytest.fixture
def fake():
    with FakeBitmart(KEY, SECRET, MEMO) as server:
        yield server


def connect(server, credentials=CREDENTIALS, **kwargs) -> CcxtConnector:
    connector = CcxtConnector("bitmart", credentials, api_url=server.url, **kwargs)
    connector.load_markets()  # faults below aim at the call under test, not the market load
    return connector


def limit_buy(amount="1000", price="0.0123") -> OrderRequest:
    return OrderRequest(symbol="SHARP/USDT", side="buy", kind="limit", amount=Decimal(amount),
                        client_order_id="bot1x1", price=Decimal(price))


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        (Credentials(api_key=KEY, secret="bm-secret-wrong000", memo=MEMO), "30005"),
        (Credentials(api_key=KEY, secret=SECRET, memo="bm-memo-wrong"), "30005"),
        (Credentials(api_key="bm-key-unknown00", secret=SECRET, memo=MEMO), "30002"),
    ],
    ids=["wrong-secret", "wrong-memo", "unknown-key"],
)
def test_rejected_credentials_raise_authentication_failed(fake, credentials, code):
    with pytest.raises(errors.AuthenticationFailed) as caught:
        connect(fake, credentials).fetch_balance()
    assert caught.value.exchange_code == code
    assert caught.value.exchange == "bitmart"


def test_ip_not_whitelisted_tells_the_operator_to_whitelist_the_server(fake):
    fake.inject("ip_forbidden", path=WALLET)

    with pytest.raises(errors.PermissionDenied) as caught:
        connect(fake).fetch_balance()

    assert caught.value.exchange_code == "30010"
    assert "whitelist" in caught.value.message and "IP" in caught.value.message


def test_order_beyond_the_balance_raises_insufficient_funds(fake):
    with pytest.raises(errors.InsufficientFunds) as caught:
        connect(fake).create_order(limit_buy("100000", "0.05"))  # 5000 USDT, the fake holds 1000
    assert (caught.value.exchange_code, caught.value.message) == ("50020", "Balance not enough")


def test_order_the_exchange_refuses_raises_invalid_order(fake):
    fake.reject(SUBMIT, 51011, "param not match : size * price >=5")

    with pytest.raises(errors.InvalidOrder) as caught:
        connect(fake).create_order(limit_buy())

    assert caught.value.exchange_code == "51011"
    assert "size * price" in caught.value.message


@pytest.mark.parametrize("fault", ["http429", "rate_limit_code"])
def test_rate_limit_raises_rate_limited(fake, fault):
    if fault == "http429":
        fake.inject("http429", path=WALLET)
    else:  # BitMart's "your account is temporarily rejected" answer, HTTP 418
        fake.reject(WALLET, 30017, "Your account request is temporarily rejected", http_status=418)

    with pytest.raises(errors.RateLimited) as caught:
        connect(fake).fetch_balance()

    assert caught.value.retryable
    assert caught.value.exchange_code in ("30013", "30017")


def test_server_error_raises_exchange_unavailable(fake):
    fake.inject("http500", path=WALLET)

    with pytest.raises(errors.ExchangeUnavailable) as caught:
        connect(fake).fetch_balance()

    assert caught.value.exchange_code == "500"
    assert not isinstance(caught.value, errors.ExchangeTimeout)


def test_garbage_json_raises_exchange_unavailable_instead_of_an_empty_balance(fake):
    fake.inject("garbage", path=WALLET)

    with pytest.raises(errors.ExchangeUnavailable):
        connect(fake).fetch_balance()


@pytest.mark.parametrize("shape", ["null", "absent"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(50020, errors.InsufficientFunds), (30005, errors.AuthenticationFailed), (59999, errors.ExchangeError)],
)
def test_error_without_a_message_is_mapped_by_its_code(fake, shape, code, expected):
    # The earlier system crashed here with an AttributeError inside ccxt's error handler.
    fake.inject("no_message", path=SUBMIT, code=code, message=shape)

    with pytest.raises(expected) as caught:
        connect(fake).create_order(limit_buy())

    assert caught.value.exchange_code == str(code)
    assert str(code) in caught.value.message


def test_hanging_exchange_times_out_within_the_budget(fake):
    connector = connect(fake, timeout_s=1)
    fake.inject("hang", path=WALLET)

    started = time.monotonic()
    with pytest.raises(errors.ExchangeTimeout):
        connector.fetch_balance()

    assert time.monotonic() - started < 2


def test_unreachable_exchange_raises_exchange_unavailable():
    import socket

    # A port held bound but not listening refuses connections, and no other process can take it meanwhile.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        connector = CcxtConnector("bitmart", CREDENTIALS, api_url=f"http://127.0.0.1:{held.getsockname()[1]}",
                                  timeout_s=1)
        with pytest.raises(errors.ExchangeUnavailable):
            connector.load_markets()


def test_answer_latency_is_the_fakes_delay(fake):
    connector = connect(fake)
    fake.delay_s = 0.2

    started = time.monotonic()
    connector.fetch_ticker("SHARP/USDT")

    assert 0.2 <= time.monotonic() - started < 0.6


def test_credentials_never_reach_an_error_or_a_log_line(fake, caplog):
    caplog.set_level(logging.DEBUG)
    connector = connect(fake)
    raised = []
    # An exchange message that echoes the key and memo, a server error, garbage and a timeout.
    fake.reject(WALLET, 30005, f"Header X-BM-SIGN is wrong for key {KEY} memo {MEMO} secret={SECRET}", http_status=401)
    fake.inject("http500", path=WALLET)
    fake.inject("garbage", path=WALLET)
    for _ in range(3):
        with pytest.raises(errors.ExchangeError) as caught:
            connector.fetch_balance()
        raised.append(caught.value)
    fake.inject("no_message", path=SUBMIT, code=30005)
    with pytest.raises(errors.ExchangeError) as caught:
        connector.create_order(limit_buy())
    raised.append(caught.value)
    with pytest.raises(errors.AuthenticationFailed) as caught:
        connect(fake, Credentials(api_key=KEY, secret="bm-secret-other999", memo=MEMO)).fetch_balance()
    raised.append(caught.value)

    assert [type(e) for e in raised] == [errors.AuthenticationFailed, errors.ExchangeUnavailable,
                                         errors.ExchangeUnavailable, errors.AuthenticationFailed,
                                         errors.AuthenticationFailed]
    texts = [caplog.text, repr(connector)] + [f"{e} {e.message!r} {e.fields!r} {e.args!r}" for e in raised]
    for text in texts:
        for secret in (KEY, SECRET, MEMO, "bm-secret-other999"):
            assert secret not in text
    assert all(e.__cause__ is None and e.__suppress_context__ for e in raised)


def test_ccxt_never_logs_the_signed_requests(fake, caplog):
    # ccxt logs request headers (X-BM-KEY, X-BM-SIGN) at debug level; the connector turns that off
    # rather than relying on the log scrubber alone.
    caplog.set_level(logging.DEBUG)

    connect(fake).fetch_balance()

    assert [r for r in caplog.records if r.name.startswith("ccxt")] == []


def test_duplicate_client_order_id_50042_raises_duplicate_order_not_a_plain_invalid_order(fake):
    # ccxt 4.5.70 maps 50042 to BadRequest; the guard must read it as "the order exists".
    fake.reject(SUBMIT, 50042, "clientOrderId is duplicate")

    with pytest.raises(errors.DuplicateOrder) as caught:
        connect(fake).create_order(limit_buy())

    assert (caught.value.exchange_code, caught.value.code) == ("50042", "duplicate_order")


def test_ccxt_duplicate_order_id_class_maps_to_duplicate_order():
    import ccxt

    from exchanges.connectors.ccxt import wire

    exchange = wire.exchange_class("okx")({})
    assert isinstance(wire.domain_error(ccxt.DuplicateOrderId("51603 clOrdId exists"), exchange, ()),
                      errors.DuplicateOrder)
