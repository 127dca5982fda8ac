"""The throttle counts every HTTP request a call sends, in the window the request is sent in."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from exchanges.connectors.base import Credentials
from exchanges.connectors.ccxt import CcxtConnector
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.jupiter import JupiterConnector
from exchanges.connectors.paper import PaperConnector
from exchanges.errors import RateLimited
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges.throttle import Throttle
from tests.exchanges.test_guard import Recorder
from tests.fakes.bitmart import FakeBitmart
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.factories import ExchangeAccountFactory

KEY, SECRET, MEMO = "key-1234567890", "secret-1234567890", "memo-12345"


class CountingThrottle(Throttle):
    """The real throttle, recording each acquisition."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acquired = 0

    def acquire(self, exchange, account_id, *, max_wait_s=10.0):
        super().acquire(exchange, account_id, max_wait_s=max_wait_s)
        self.acquired += 1


def guarded(inner, throttle, recorder=None):
    recorder = recorder or Recorder()
    return GuardedConnector(inner, account_id=7, throttle=throttle, policy=RetryPolicy(attempts=1),
                            sleep=recorder.sleep, clock=recorder.clock)


# --- windows --------------------------------------------------------------------------------
def sends_per_window(accounts, *, account_rate, ip_rate, start=0.0):
    """Acquire for each account in turn on a fake clock; the sends per window, per scope."""
    recorder = Recorder()
    recorder.now = start
    throttle = Throttle(sleep=recorder.sleep, clock=recorder.clock)
    ip, per_account = Counter(), Counter()
    with override_settings(EXCHANGE_RATE_LIMITS={"venue": {"account": account_rate, "ip": ip_rate}}):
        for account_id in accounts:
            throttle.acquire("venue", account_id, max_wait_s=600)
            window = int(recorder.now)  # the request goes out now
            ip[window] += 1
            per_account[account_id, window] += 1
    return ip, per_account


def test_a_request_that_waited_for_its_account_is_counted_against_the_ip_in_the_window_it_is_sent():
    # Before: the second call counted its IP slot in window 0, waited for the account and went
    # out in window 1 next to two others: three sends in a 2/s window.
    ip, per_account = sends_per_window(["a", "a", "b", "c"], account_rate="1/s", ip_rate="2/s")

    assert max(ip.values()) <= 2
    assert max(per_account.values()) <= 1


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    accounts=st.lists(st.sampled_from("abcd"), min_size=1, max_size=25),
    account_limit=st.integers(1, 3),
    ip_limit=st.integers(1, 5),
    start=st.integers(0, 500).map(lambda centis: centis / 100),
)
def test_no_window_ever_sends_more_than_either_budget(accounts, account_limit, ip_limit, start):
    cache.clear()

    ip, per_account = sends_per_window(accounts, account_rate=f"{account_limit}/s", ip_rate=f"{ip_limit}/s",
                                       start=start)

    assert max(ip.values()) <= ip_limit
    assert max(per_account.values()) <= account_limit


class TurningClock(Recorder):
    """A clock that crosses into the next window between the account and the IP count, once."""

    def __init__(self):
        super().__init__()
        self.now = 0.999
        self.reads = 0

    def clock(self):
        self.reads += 1
        if self.reads == 3:  # after the account slot is counted in window 0
            self.now = 1.0
        return self.now


def test_a_window_turning_over_while_counting_counts_the_request_again_in_the_new_window(settings):
    settings.EXCHANGE_RATE_LIMITS = {"venue": {"account": "5/s", "ip": "5/s"}}
    clock = TurningClock()
    throttle = Throttle(sleep=clock.sleep, clock=clock.clock)

    throttle.acquire("venue", 1)

    assert clock.now == 1.0 and clock.waits == []
    # Window 1, where the request goes out, counted it on both budgets (window 0's count is lost).
    assert cache.get("xthrottle:account:venue:1:1:1") == 1
    assert cache.get("xthrottle:ip:venue:1:1") >= 1


# --- one acquisition per HTTP request ----------------------------------------------------------
def test_coinstore_trade_pages_each_take_a_throttle_slot():
    with FakeCoinstore(KEY, SECRET) as fake:
        arrange_sharp_market(fake)
        for n in range(250):
            fake.matches.append({
                "id": n, "tradeId": 1000 + n, "orderId": 1, "symbol": "SHARPUSDT", "side": 1, "execQty": "1",
                "execAmt": "1", "execPrice": "1", "fee": "0", "feeCurrency": "USDT",
                "matchTime": 1_760_000_000 + n, "role": 1, "accountId": 1, "_symbol": "SHARPUSDT",
            })
        throttle = CountingThrottle()
        connector = guarded(CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url), throttle)

        connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(1_700_000_000, UTC), limit=500)

        assert len(fake.received) >= 3  # symbols and at least two pages
        assert throttle.acquired == len(fake.received)


def test_each_coinstore_request_of_one_call_waits_for_the_account_budget(settings):
    settings.EXCHANGE_RATE_LIMITS = {"coinstore": {"account": "1/s", "ip": None}}
    recorder = Recorder()
    recorder.now = 500.0
    with FakeCoinstore(KEY, SECRET) as fake:
        arrange_sharp_market(fake)
        throttle = Throttle(sleep=recorder.sleep, clock=recorder.clock)
        connector = guarded(CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url),
                            throttle, recorder)

        connector.fetch_ticker("SHARP/USDT")  # symbols, then tickers: two requests

    assert len(fake.received) == 2
    assert recorder.waits == [1.0]


def test_a_later_request_beyond_the_budget_is_refused_locally_and_never_sent(settings):
    settings.EXCHANGE_RATE_LIMITS = {"coinstore": {"account": "1/m", "ip": None}}
    recorder = Recorder()
    with FakeCoinstore(KEY, SECRET) as fake:
        arrange_sharp_market(fake)
        connector = guarded(CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url),
                            Throttle(sleep=recorder.sleep, clock=recorder.clock), recorder)

        with pytest.raises(RateLimited) as caught:
            connector.fetch_ticker("SHARP/USDT")  # symbols, then tickers

    assert caught.value.fields == {"local": True}
    assert [r.path for r in fake.received] == ["/api/v2/public/config/spot/symbols"]


def test_bitmart_requests_through_ccxt_each_take_a_throttle_slot():
    with FakeBitmart(KEY, SECRET, MEMO) as fake:
        throttle = CountingThrottle()
        connector = guarded(CcxtConnector("bitmart", Credentials(api_key=KEY, secret=SECRET, memo=MEMO),
                                          api_url=fake.url, timeout_s=5), throttle)

        connector.load_markets()
        connector.fetch_balance()

        assert len(fake.requests) >= 2
        assert throttle.acquired == len(fake.requests)


def test_solana_rpc_calls_of_one_balance_each_take_a_throttle_slot():
    with FakeSolanaRpc(pending_polls=0) as node:
        wallet = Keypair().pubkey()
        node.airdrop(wallet, 1_000_000)
        throttle = CountingThrottle()
        inner = JupiterConnector(Credentials(), wallet_address=str(wallet), rpc_url=node.url,
                                 jupiter_url="http://127.0.0.1:9", tokens={}, timeout_s=2.0)
        connector = guarded(inner, throttle)

        connector.fetch_balance()

        assert len(node.methods_called()) == 3  # SOL, SPL Token, Token-2022
        assert throttle.acquired == 3


@pytest.mark.django_db
def test_a_connector_without_http_parts_is_throttled_once_per_call():
    account = ExchangeAccountFactory(exchange="paper")
    throttle = CountingThrottle()

    guarded(PaperConnector(account), throttle).fetch_balance()

    assert throttle.acquired == 1
