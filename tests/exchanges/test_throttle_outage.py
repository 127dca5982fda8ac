"""The throttle never hangs the platform: a cache that accepts connections and never answers costs
one cache timeout, then the process counts against its own budget until the cache is retried."""

import socket
import threading
import time

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from exchanges.connectors.base import Credentials
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges import throttle as throttle_module
from exchanges.throttle import CACHE_RETRY_S, Throttle
from tests.exchanges.test_guard import Recorder
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

SOCKET_TIMEOUT_S = 0.6  # two scopes at 0.6 s each span more than a 1 s window: the old endless loop


class HungServer:
    """A TCP server that accepts every connection and never sends a byte (a wedged Redis)."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self):
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_local_counts():
    throttle_module._local_counts.clear()
    yield
    throttle_module._local_counts.clear()


@pytest.fixture
def hung_redis():
    server = HungServer()
    cache = RedisCache(
        f"redis://127.0.0.1:{server.port}/0",
        {"OPTIONS": {"socket_connect_timeout": SOCKET_TIMEOUT_S, "socket_timeout": SOCKET_TIMEOUT_S}},
    )
    yield cache
    server.close()


def finishes_within(seconds, call):
    """Run ``call`` in a thread; (finished in time, what it raised or None, seconds taken)."""
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            call()
        except Exception as exc:
            outcome["raised"] = exc
        outcome["took"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive(), outcome.get("raised"), outcome.get("took")


def test_acquire_with_a_hung_cache_returns_within_its_deadline(hung_redis, settings):
    # Before: each failed cache call took the socket timeout, the 1 s window moved on, the request
    # was counted again, for ever; acquire(max_wait_s=10) had not returned after 45 s.
    settings.EXCHANGE_RATE_LIMITS = {"bitmart": {"account": "5/s", "ip": "25/s"}}

    finished, raised, took = finishes_within(5.0, lambda: Throttle(hung_redis).acquire("bitmart", 1, max_wait_s=10))

    assert finished and raised is None
    assert took < 2 * SOCKET_TIMEOUT_S + 0.5  # at most the one failed round trip per scope


def test_after_an_outage_the_cache_is_not_asked_again_for_a_while(hung_redis, settings):
    settings.EXCHANGE_RATE_LIMITS = {"bitmart": {"account": "1000/s", "ip": "1000/s"}}
    throttle = Throttle(hung_redis)
    throttle.acquire("bitmart", 1)

    started = time.monotonic()
    for _ in range(50):
        throttle.acquire("bitmart", 1)

    assert time.monotonic() - started < 0.2


def test_without_the_shared_budget_each_process_keeps_to_the_budget_itself(hung_redis, settings):
    settings.EXCHANGE_RATE_LIMITS = {"bitmart": {"account": "2/s", "ip": None}}
    recorder = Recorder()
    recorder.now = 100.0
    throttle = Throttle(hung_redis, sleep=recorder.sleep, clock=recorder.clock)

    for _ in range(3):
        throttle.acquire("bitmart", 1)

    assert recorder.waits == [1.0]  # the third request waited for the next window
    with pytest.raises(Exception) as caught:
        for _ in range(2):
            throttle.acquire("bitmart", 1, max_wait_s=0.5)
    assert caught.value.fields == {"local": True}


class FlakyCache(LocMemCache):
    """A real in-memory cache that fails every call while ``down``."""

    def __init__(self):
        super().__init__("flaky-throttle-cache", {})
        self.down = True
        self.calls = 0

    def incr(self, *args, **kwargs):
        self.calls += 1
        if self.down:
            raise ConnectionError("cache down")
        return super().incr(*args, **kwargs)

    def add(self, *args, **kwargs):
        self.calls += 1
        if self.down:
            raise ConnectionError("cache down")
        return super().add(*args, **kwargs)


def test_the_shared_cache_is_asked_again_once_the_retry_pause_is_over(settings):
    settings.EXCHANGE_RATE_LIMITS = {"venue": {"account": "100/s", "ip": None}}
    recorder, cache = Recorder(), FlakyCache()
    recorder.now = 10.0
    throttle = Throttle(cache, sleep=recorder.sleep, clock=recorder.clock)
    throttle.acquire("venue", 1)
    asked = cache.calls
    throttle.acquire("venue", 1)
    assert cache.calls == asked  # paused

    cache.down = False
    recorder.now += CACHE_RETRY_S + 0.1
    throttle.acquire("venue", 1)

    assert cache.calls > asked
    assert cache.get(f"xthrottle:account:venue:1:1:{int(recorder.now)}") == 1


def test_a_guarded_call_with_a_hung_cache_finishes_in_about_the_cache_timeout(hung_redis):
    with FakeCoinstore("key-1234567890", "secret-1234567890") as fake:
        arrange_sharp_market(fake)
        inner = CoinstoreConnector(Credentials(api_key="key-1234567890", secret="secret-1234567890"), base_url=fake.url)
        connector = GuardedConnector(inner, account_id=7, throttle=Throttle(hung_redis), policy=RetryPolicy(attempts=1))

        finished, raised, took = finishes_within(5.0, connector.fetch_balance)

    assert finished and raised is None
    assert took < 2 * SOCKET_TIMEOUT_S + 1.0


class SlowCache(LocMemCache):
    """A real in-memory cache answering every call late, but answering."""

    def __init__(self, delay_s):
        super().__init__("slow-throttle-cache", {})
        self.delay_s = delay_s

    def incr(self, *args, **kwargs):
        time.sleep(self.delay_s)
        return super().incr(*args, **kwargs)

    def add(self, *args, **kwargs):
        time.sleep(self.delay_s)
        return super().add(*args, **kwargs)


def test_a_cache_slower_than_the_window_is_treated_as_down_not_waited_on_for_ever(settings):
    settings.EXCHANGE_RATE_LIMITS = {"venue": {"account": "10/s", "ip": "10/s"}}
    throttle = Throttle(SlowCache(0.7))

    def five_calls():
        for _ in range(5):
            throttle.acquire("venue", 1, max_wait_s=3)

    finished, raised, took = finishes_within(6.0, five_calls)

    assert finished and raised is None
    assert took < 3.0  # the first answers were slow; the rest counted in memory
