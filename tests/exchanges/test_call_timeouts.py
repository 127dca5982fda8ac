"""The guard's per-call-kind budget reaches the HTTP layer of every connector."""

import time

import pytest

from exchanges.connectors.base import Credentials
from exchanges.connectors.ccxt import CcxtConnector
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.errors import ExchangeTimeout
from tests.fakes.bitmart import FakeBitmart
from tests.fakes.coinstore import FakeCoinstore

KEY, SECRET, MEMO = "key-1234567890", "secret-1234567890", "memo-12345"


def test_ccxt_timeout_set_after_construction_bounds_the_next_call():
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        connector = CcxtConnector("bitmart", Credentials(api_key=KEY, secret=SECRET, memo=MEMO), api_url=fake.url, timeout_s=15)
        connector.timeout_s = 0.5
        connector.load_markets()
        fake.inject("hang", times=None)
        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            connector.fetch_balance()
        assert time.monotonic() - started < 2


def test_coinstore_timeout_set_after_construction_bounds_the_next_call():
    with FakeCoinstore(KEY, SECRET) as fake:
        connector = CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url, timeout_s=15)
        connector.timeout_s = 0.5
        fake.fault = "hang"
        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            connector.fetch_balance()
        assert time.monotonic() - started < 2
