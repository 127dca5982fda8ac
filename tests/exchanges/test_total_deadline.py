"""A venue trickling its answer cannot hold a request past its timeout (per request, not per read)."""

import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
from solders.keypair import Keypair

from exchanges.connectors.base import Credentials
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.jupiter import JupiterConnector
from exchanges.connectors.jupiter.swap_api import JupiterApi
from exchanges.errors import ExchangeTimeout
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges.throttle import Throttle
from tests.fakes.coinstore import FakeCoinstore, _Handler
from tests.fakes.server import LocalServer
from tests.fakes.solana_rpc import FakeSolanaRpc

KEY, SECRET = "key-1234567890", "secret-1234567890"
GAP_S = 0.05  # never a silent read timeout
PAD = 200  # bytes of trailing whitespace: the whole answer takes PAD * GAP_S = 10 s


class Trickle:
    """Passes the status line and headers through, then writes the body a byte at a time."""

    def __init__(self, wfile):
        self._wfile, self._writes = wfile, 0

    def write(self, data: bytes):
        self._writes += 1
        if self._writes == 1:
            return self._wfile.write(data)
        for i in range(len(data)):
            self._wfile.write(data[i : i + 1])
            time.sleep(GAP_S)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._wfile, name)


class TricklingCoinstore(FakeCoinstore):
    """The fake Coinstore (signatures checked), answering a byte every GAP_S."""

    def make_handler(self):
        fake = self

        class Handler(_Handler):
            venue = fake

            def _serve(self):
                self.wfile = Trickle(self.wfile)
                super()._serve()

            do_GET = do_POST = _serve

        return Handler

    def handle(self, request, client_ip):
        status, body = super().handle(request, client_ip)
        return status, body + b" " * PAD


def test_coinstore_request_trickling_its_answer_times_out_at_the_timeout_not_per_read():
    with TricklingCoinstore(KEY, SECRET) as fake:
        fake.set_funds("USDT", "100")
        connector = CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url, timeout_s=0.5)

        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            connector.fetch_balance()

        assert time.monotonic() - started < 1.2
        assert [r.path for r in fake.received] == ["/api/spot/accountList"]  # one real, signed request


def test_guarded_coinstore_call_with_a_one_second_cap_returns_within_about_a_second():
    with TricklingCoinstore(KEY, SECRET) as fake:
        inner = CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url)
        connector = GuardedConnector(inner, account_id=1, throttle=Throttle(), timeout_s=1.0,
                                     policy=RetryPolicy(attempts=1))

        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            connector.fetch_balance()

        assert time.monotonic() - started < 1.7


def test_coinstore_answer_arriving_in_time_is_read_whole_over_a_reused_connection():
    with FakeCoinstore(KEY, SECRET) as fake:
        fake.set_funds("USDT", "100.5")
        connector = CoinstoreConnector(Credentials(api_key=KEY, secret=SECRET), base_url=fake.url, timeout_s=2)

        first = connector.fetch_balance()
        second = connector.fetch_balance()
        session = connector._http.session
        pools = session.get_adapter(fake.url).poolmanager.pools
        [key] = pools.keys()
        pool = pools[key]

    assert first == second and "USDT" in {row.asset for row in first}
    assert pool.num_connections == 1 and pool.num_requests == 2


# --- Jupiter ----------------------------------------------------------------------------------
class TricklingJupiter(LocalServer):
    """A Jupiter quote endpoint answering a byte every GAP_S."""

    def make_handler(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"inputMint": "a", "outputMint": "b", "inAmount": "1", "outAmount": "1"}).encode()
                body += b" " * PAD
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        time.sleep(GAP_S)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler


def test_jupiter_quote_trickling_its_answer_times_out_at_the_timeout():
    with TricklingJupiter() as server:
        api = JupiterApi(server.url, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            api.quote(input_mint="a", output_mint="b", amount=1, slippage_bps=50, swap_mode="ExactIn")

        assert time.monotonic() - started < 1.2
        api.close()


class TricklingRpc(FakeSolanaRpc):
    """The fake Solana node, sending each answer's body a byte every GAP_S."""

    @staticmethod
    def _reply(handler, status, payload):
        payload += b" " * PAD
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            for i in range(len(payload)):
                handler.wfile.write(payload[i : i + 1])
                time.sleep(GAP_S)
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_solana_rpc_trickling_its_answer_times_out_within_the_documented_bound():
    with TricklingRpc(pending_polls=0) as node:
        connector = JupiterConnector(Credentials(), wallet_address=str(Keypair().pubkey()), rpc_url=node.url,
                                     jupiter_url="http://127.0.0.1:9", tokens={}, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(ExchangeTimeout):
            connector.fetch_balance()

        # The body's deadline, plus at most one socket read (here a byte arrives every GAP_S).
        assert time.monotonic() - started < 1.2
        connector.close()
