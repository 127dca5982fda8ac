"""The registry builds the right guarded connector per venue; fetch_balances asks many accounts
at once without one hung venue holding up the rest; check_exchange reports what the venue says."""

import io
import threading
import time
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from exchanges import crypto
from exchanges.connectors.base import AssetBalance, Connector
from exchanges.connectors.paper import PaperConnector
from exchanges.errors import AuthenticationFailed, ExchangeTimeout, RateLimited
from exchanges.guard import GuardedConnector
from exchanges.registry import NO_WALLET, connector_for
from exchanges.services import fetch_balances, save_credentials
from tests.factories import ExchangeAccountFactory, WalletFactory

D = Decimal


@pytest.fixture
def key(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


@pytest.mark.django_db
def test_paper_account_gets_a_guarded_paper_connector():
    connector = connector_for(ExchangeAccountFactory(exchange="paper"))

    assert isinstance(connector, GuardedConnector) and isinstance(connector.inner, PaperConnector)
    assert "SHARP/USDT" in connector.load_markets()


@pytest.mark.django_db
def test_ccxt_account_gets_the_ccxt_connector_aimed_at_its_url(key):
    ccxt_module = pytest.importorskip("exchanges.connectors.ccxt")
    account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": "http://127.0.0.1:9"})
    save_credentials(account, api_key="bitmart-key-123456", secret="bitmart-secret-123456", memo="memo-1")

    connector = connector_for(account, timeout_s=3)

    assert isinstance(connector.inner, ccxt_module.CcxtConnector)
    assert connector.inner.api_url == "http://127.0.0.1:9"
    assert connector.inner.timeout_s == 3


@pytest.mark.django_db
def test_coinstore_account_gets_the_native_connector(key):
    coinstore = pytest.importorskip("exchanges.connectors.coinstore")
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": "http://127.0.0.1:9/api"})
    save_credentials(account, api_key="coinstore-key-123456", secret="coinstore-secret-123456")

    connector = connector_for(account)

    assert isinstance(connector.inner, coinstore.CoinstoreConnector)
    assert "127.0.0.1:9/api" in repr(connector.inner)


@pytest.mark.django_db
def test_jupiter_account_without_a_wallet_is_a_readable_error():
    account = ExchangeAccountFactory(exchange="jupiter", wallet=None)

    with pytest.raises(AuthenticationFailed) as caught:
        connector_for(account)

    assert caught.value.message == NO_WALLET


@pytest.mark.django_db
def test_jupiter_wallet_without_a_key_is_read_only():
    from solders.keypair import Keypair

    from exchanges.connectors.base import OrderRequest
    from exchanges.connectors.jupiter.connector import NO_SIGNING_KEY

    wallet = WalletFactory(chain="solana", address=str(Keypair().pubkey()))
    account = ExchangeAccountFactory(exchange="jupiter", wallet=wallet, client=wallet.client)
    connector = connector_for(account)

    with pytest.raises(AuthenticationFailed) as caught:
        connector.inner.create_order(OrderRequest("SOL/USDC", "sell", "market", Decimal("1"), "c-1"))
    assert NO_SIGNING_KEY in str(caught.value)


@pytest.mark.django_db
def test_jupiter_account_gets_its_wallet_key(key):
    jupiter = pytest.importorskip("exchanges.connectors.jupiter")
    if not hasattr(jupiter, "JupiterConnector"):
        pytest.skip("JupiterConnector is not exported yet")
    from solders.keypair import Keypair

    keypair = Keypair()
    wallet = WalletFactory(chain="solana", address=str(keypair.pubkey()), private_key_encrypted=crypto.encrypt(str(keypair)))
    account = ExchangeAccountFactory(exchange="jupiter", wallet=wallet, options={"rpc_url": "http://127.0.0.1:9"})

    connector = connector_for(account)

    assert isinstance(connector.inner, jupiter.JupiterConnector)


# --- fetch_balances ---------------------------------------------------------------------------
class Venue(Connector):
    """Answers after ``delay_s``, or never until ``release`` is set; counts concurrent calls."""

    def __init__(self, exchange_id, *, delay_s=0.0, release=None, fail=None, gauge=None):
        self.exchange_id = exchange_id
        self.delay_s, self.release, self.fail, self.gauge = delay_s, release, fail, gauge

    def fetch_balance(self):
        if self.gauge:
            self.gauge.enter()
        try:
            if self.release is not None:
                self.release.wait(10)
            time.sleep(self.delay_s)
            if self.fail:
                raise self.fail
            return [AssetBalance("USDT", D("1"), D("0"))]
        finally:
            if self.gauge:
                self.gauge.leave()

    def load_markets(self):
        return {}

    def fetch_ticker(self, symbol):
        raise NotImplementedError

    def fetch_order_book(self, symbol, depth=20):
        raise NotImplementedError

    def create_order(self, request):
        raise NotImplementedError

    def cancel_order(self, symbol, exchange_order_id):
        raise NotImplementedError

    def fetch_open_orders(self, symbol):
        return []

    def fetch_order(self, symbol, exchange_order_id="", client_order_id=""):
        raise NotImplementedError

    def fetch_my_trades(self, symbol, since=None, limit=500):
        return []


class Gauge:
    def __init__(self):
        self.lock, self.now, self.peak = threading.Lock(), 0, 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


@pytest.fixture
def hang():
    release = threading.Event()
    yield release
    release.set()


@pytest.mark.django_db
def test_a_hung_exchange_times_out_at_the_deadline_without_holding_up_the_others(hang):
    hung = [ExchangeAccountFactory(exchange="coinstore") for _ in range(3)]
    fine = [ExchangeAccountFactory(exchange="bitmart") for _ in range(6)]
    failing = ExchangeAccountFactory(exchange="kraken")
    venues = {a.pk: Venue("coinstore", release=hang) for a in hung}
    venues |= {a.pk: Venue("bitmart", delay_s=0.02) for a in fine}
    venues[failing.pk] = Venue("kraken", fail=RateLimited("slow down", exchange="kraken"))
    started = time.monotonic()
    arrived_after = {}

    results = fetch_balances(
        hung + fine + [failing],
        per_exchange_concurrency={"coinstore": 1, "bitmart": 2},
        deadline_s=0.5,
        connector_factory=lambda account: venues[account.pk],
        on_result=lambda account_id, value: arrived_after.setdefault(account_id, time.monotonic() - started),
    )

    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5
    assert all(arrived_after[a.pk] < 0.3 for a in fine)  # not held back by the hung venue
    assert all(arrived_after[a.pk] >= 0.5 for a in hung)
    for account in hung:
        assert isinstance(results[account.pk], ExchangeTimeout)
    for account in fine:
        assert results[account.pk] == [AssetBalance("USDT", D("1"), D("0"))]
    assert isinstance(results[failing.pk], RateLimited)


@pytest.mark.django_db
def test_per_exchange_concurrency_is_capped():
    accounts = [ExchangeAccountFactory(exchange="bitmart") for _ in range(8)]
    gauge = Gauge()

    results = fetch_balances(
        accounts,
        per_exchange_concurrency={"bitmart": 3},
        connector_factory=lambda account: Venue("bitmart", delay_s=0.05, gauge=gauge),
    )

    assert gauge.peak == 3
    assert all(isinstance(value, list) for value in results.values())


@pytest.mark.django_db
def test_an_account_without_credentials_gets_its_error_not_a_crash():
    missing = ExchangeAccountFactory(exchange="bitmart")

    results = fetch_balances([missing])

    assert isinstance(results[missing.pk], AuthenticationFailed)


@pytest.mark.django_db(transaction=True)
def test_paper_accounts_balances_through_the_registry():
    accounts = [ExchangeAccountFactory(exchange="paper") for _ in range(3)]

    results = fetch_balances(accounts, deadline_s=20)

    for account in accounts:
        held = {b.asset: b.total for b in results[account.pk]}
        assert held["USDT"] == D("10000")


# --- check_exchange -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_check_exchange_prints_markets_and_balances():
    account = ExchangeAccountFactory(exchange="paper")
    out = io.StringIO()

    call_command("check_exchange", str(account.pk), stdout=out)

    text = out.getvalue()
    assert "Markets: 3 (BTC/USDT, SHARP/USDT, SOL/USDC)" in text
    assert "USDT: available 10,000, locked 0" in text and text.rstrip().endswith("OK")


@pytest.mark.django_db
def test_check_exchange_shows_the_exchanges_error():
    account = ExchangeAccountFactory(exchange="bitmart")

    with pytest.raises(CommandError) as caught:
        call_command("check_exchange", str(account.pk), stdout=io.StringIO())

    assert "exchange_auth_failed" in str(caught.value) and "No API credentials" in str(caught.value)


@pytest.mark.django_db
def test_check_exchange_unknown_account():
    with pytest.raises(CommandError, match="No exchange account 999999"):
        call_command("check_exchange", "999999", stdout=io.StringIO())
