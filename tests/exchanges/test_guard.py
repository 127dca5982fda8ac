"""The guard retries idempotent reads with backoff, never places an order twice, and throttles."""

import logging
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.cache.backends.db import DatabaseCache
from django.core.management import call_command

from exchanges.connectors.base import Connector, OrderInfo, OrderRequest
from exchanges.connectors.paper import PaperConnector
from exchanges.errors import ExchangeTimeout, ExchangeUnavailable, InvalidOrder, OrderStateUnknown, RateLimited
from exchanges.guard import GuardedConnector, RetryPolicy
from exchanges.throttle import Rate, Throttle
from tests.factories import ExchangeAccountFactory

D = Decimal


class Recorder:
    """A sleep that records instead of waiting."""

    def __init__(self):
        self.waits = []
        self.now = 0.0

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds

    def clock(self):
        return self.now


class FlakyVenue(Connector):
    """A venue that fails the first ``failures`` calls of each kind with the given error."""

    exchange_id = "flaky"

    def __init__(self, failures=0, error=RateLimited):
        self.failures = failures
        self.error = error
        self.calls: dict[str, int] = {}
        self.orders: dict[str, OrderInfo] = {}
        self.timeout_s = None
        self.timeouts_seen = {}

    def _count(self, kind):
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.timeouts_seen[kind] = self.timeout_s
        if self.calls[kind] <= self.failures:
            raise self.error("try later", exchange=self.exchange_id, exchange_code="429")

    def load_markets(self):
        self._count("load_markets")
        return {}

    def fetch_balance(self):
        self._count("fetch_balance")
        return []

    def fetch_ticker(self, symbol):
        raise NotImplementedError

    def fetch_order_book(self, symbol, depth=20):
        raise NotImplementedError

    def _book(self, request):
        self.orders[request.client_order_id] = OrderInfo(
            str(len(self.orders) + 1), request.client_order_id, request.symbol, request.side, request.kind,
            request.amount, request.price, D(0), "open", datetime(2026, 1, 1),
        )
        return self.orders[request.client_order_id]

    def create_order(self, request):
        # The venue takes the order, then the answer is lost on the way back.
        self.calls["create_order"] = self.calls.get("create_order", 0) + 1
        order = self._book(request)
        if self.calls["create_order"] <= self.failures:
            raise ExchangeTimeout("no answer", exchange=self.exchange_id)
        return order

    def cancel_order(self, symbol, exchange_order_id):
        raise NotImplementedError

    def fetch_open_orders(self, symbol):
        return list(self.orders.values())

    def fetch_order(self, symbol, exchange_order_id="", client_order_id=""):
        from exchanges.errors import OrderNotFound

        self.calls["fetch_order"] = self.calls.get("fetch_order", 0) + 1
        if client_order_id in self.orders:
            return self.orders[client_order_id]
        raise OrderNotFound("unknown", exchange=self.exchange_id)

    def fetch_my_trades(self, symbol, since=None, limit=500):
        return []


class LosingVenue(FlakyVenue):
    """Times out before the order reaches the book."""

    def create_order(self, request):
        self.calls["create_order"] = self.calls.get("create_order", 0) + 1
        if self.calls["create_order"] <= self.failures:
            raise ExchangeTimeout("no answer", exchange=self.exchange_id)
        return self._book(request)


def guarded(inner, recorder, **policy):
    return GuardedConnector(
        inner, account_id=7, throttle=Throttle(sleep=recorder.sleep, clock=recorder.clock),
        policy=RetryPolicy(**policy), sleep=recorder.sleep, clock=recorder.clock,
    )


ORDER = OrderRequest("SHARP/USDT", "buy", "limit", D("10"), "bot1-0001", D("1"))


def test_read_rate_limited_twice_is_retried_with_growing_backoff():
    recorder, venue = Recorder(), FlakyVenue(failures=2)

    assert guarded(venue, recorder, base_delay_s=1.0).fetch_balance() == []

    assert venue.calls["fetch_balance"] == 3
    first, second = recorder.waits
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0


def test_read_gives_up_after_the_attempt_limit():
    recorder, venue = Recorder(), FlakyVenue(failures=10, error=ExchangeUnavailable)

    with pytest.raises(ExchangeUnavailable):
        guarded(venue, recorder, attempts=3).load_markets()

    assert venue.calls["load_markets"] == 3


def test_read_gives_up_when_the_time_budget_is_spent():
    recorder, venue = Recorder(), FlakyVenue(failures=10)

    with pytest.raises(RateLimited):
        guarded(venue, recorder, attempts=50, base_delay_s=1.0, max_delay_s=1.0, budget_s=3.0).load_markets()

    assert sum(recorder.waits) <= 3.0
    assert venue.calls["load_markets"] < 10


def test_non_retryable_error_is_not_retried():
    recorder, venue = Recorder(), FlakyVenue(failures=1, error=InvalidOrder)

    with pytest.raises(InvalidOrder):
        guarded(venue, recorder).fetch_balance()

    assert venue.calls["fetch_balance"] == 1 and recorder.waits == []


def test_create_order_timeout_finds_the_placed_order_instead_of_placing_twice():
    recorder, venue = Recorder(), FlakyVenue(failures=1)

    order = guarded(venue, recorder).create_order(ORDER)

    assert order.client_order_id == "bot1-0001"
    assert venue.calls["create_order"] == 1 and venue.calls["fetch_order"] == 1
    assert len(venue.orders) == 1


def test_create_order_lost_before_the_venue_is_retried_once():
    recorder, venue = Recorder(), LosingVenue(failures=1)

    order = guarded(venue, recorder).create_order(ORDER)

    assert order.status == "open"
    assert venue.calls["create_order"] == 2 and len(venue.orders) == 1


def test_create_order_is_tried_at_most_twice_and_then_its_state_is_unknown_not_failed():
    recorder, venue = Recorder(), LosingVenue(failures=5)

    with pytest.raises(OrderStateUnknown) as caught:
        guarded(venue, recorder).create_order(ORDER)

    assert venue.calls["create_order"] == 2
    assert caught.value.client_order_id == "bot1-0001"


def test_create_order_looks_up_over_the_whole_window_before_sending_again():
    recorder, venue = Recorder(), LosingVenue(failures=1)

    guarded(venue, recorder, lookup_window_s=5.0).create_order(ORDER)

    assert venue.calls["create_order"] == 2
    assert sum(recorder.waits) >= 5.0  # "not found" at once is no proof: the venue may be slow
    assert venue.calls["fetch_order"] >= 3  # asked again and again, with backoff


def test_create_order_look_up_window_is_bounded_by_the_call_budget():
    recorder, venue = Recorder(), LosingVenue(failures=5)

    with pytest.raises(OrderStateUnknown):
        guarded(venue, recorder, lookup_window_s=50.0, order_budget_s=6.0).create_order(ORDER)

    assert sum(recorder.waits) <= 6.0
    assert venue.calls["create_order"] == 1  # no time left for a second send


def test_create_order_look_up_that_keeps_failing_is_state_unknown_and_never_resent():
    recorder, venue = Recorder(), LosingVenue(failures=1)

    def unreachable(symbol, exchange_order_id="", client_order_id=""):
        raise ExchangeUnavailable("down", exchange="flaky")

    venue.fetch_order = unreachable

    with pytest.raises(OrderStateUnknown):
        guarded(venue, recorder, lookup_window_s=3.0).create_order(ORDER)

    assert venue.calls["create_order"] == 1


def test_create_order_refused_by_the_venue_is_a_failure_as_before():
    recorder, venue = Recorder(), FlakyVenue(failures=1, error=InvalidOrder)
    venue.create_order = lambda request: (_ for _ in ()).throw(InvalidOrder("below minimum", exchange="flaky"))

    with pytest.raises(InvalidOrder):
        guarded(venue, recorder).create_order(ORDER)

    assert recorder.waits == []


def test_create_order_refused_locally_before_anything_was_sent_is_rate_limited(settings):
    settings.EXCHANGE_RATE_LIMITS = {"flaky": {"account": "1/m", "ip": None}}
    recorder, venue = Recorder(), FlakyVenue()
    connector = guarded(venue, recorder)
    connector.load_markets()  # spends the minute's budget

    with pytest.raises(RateLimited):
        connector.create_order(ORDER)

    assert "create_order" not in venue.calls


def test_look_up_window_comes_from_settings(settings):
    settings.EXCHANGE_ORDER_LOOKUP_WINDOW_S = 12.5

    assert GuardedConnector(FlakyVenue(), account_id=1).policy.lookup_window_s == 12.5


def test_each_call_kind_gets_its_own_timeout(settings):
    settings.EXCHANGE_TIMEOUTS_S = {"fetch_balance": 7.5}
    recorder, venue = Recorder(), FlakyVenue()
    connector = guarded(venue, recorder)

    connector.load_markets()
    connector.fetch_balance()

    assert venue.timeouts_seen == {"load_markets": 10.0, "fetch_balance": 7.5}


@pytest.mark.django_db
def test_create_order_on_paper_after_a_lost_answer_returns_the_one_order():
    account = ExchangeAccountFactory(exchange="paper")
    paper = PaperConnector(account)

    class AnswerLost(PaperConnector):
        def create_order(self, request):
            super().create_order(request)
            raise ExchangeTimeout("answer lost", exchange="paper")

    recorder = Recorder()
    order = guarded(AnswerLost(account), recorder).create_order(
        OrderRequest("SHARP/USDT", "buy", "limit", D("1000"), "demo-1", D("0.01000"))
    )

    assert order.status == "open"
    assert paper.fetch_open_orders("SHARP/USDT") == [order]


def test_failures_are_logged_with_exchange_account_and_code(caplog):
    recorder, venue = Recorder(), FlakyVenue(failures=1)
    logger = logging.getLogger("exchanges")
    logger.addHandler(caplog.handler)
    try:
        guarded(venue, recorder).fetch_balance()
    finally:
        logger.removeHandler(caplog.handler)

    [record] = [r for r in caplog.records if r.name == "exchanges.guard"]
    assert (record.exchange, record.account_id, record.error_code) == ("flaky", 7, "exchange_rate_limited")


# --- the throttle ---------------------------------------------------------------------------
def test_throttle_waits_for_the_next_window_when_the_budget_is_spent(settings):
    settings.EXCHANGE_RATE_LIMITS = {"flaky": {"account": "2/s", "ip": "100/s"}}
    recorder = Recorder()
    recorder.now = 1000.25
    throttle = Throttle(sleep=recorder.sleep, clock=recorder.clock)

    for _ in range(3):
        throttle.acquire("flaky", 1)

    assert recorder.waits == [0.75]


def test_throttle_counts_all_accounts_against_the_server_ip_budget(settings):
    settings.EXCHANGE_RATE_LIMITS = {"flaky": {"account": "100/s", "ip": "3/s"}}
    recorder = Recorder()
    throttle = Throttle(sleep=recorder.sleep, clock=recorder.clock)

    for account_id in (1, 2, 3):
        throttle.acquire("flaky", account_id)
    with pytest.raises(RateLimited):
        throttle.acquire("flaky", 4, max_wait_s=0.5)


@pytest.mark.django_db
def test_throttle_is_shared_by_two_cache_clients_of_one_store():
    call_command("createcachetable", "guard_test_cache", verbosity=0)
    first = DatabaseCache("guard_test_cache", {})
    second = DatabaseCache("guard_test_cache", {})
    rate = Rate(limit=2, period_s=60)
    recorder = Recorder()
    recorder.now = 60.0

    assert Throttle(first, clock=recorder.clock).wait_needed("account:x:1", rate) == 0
    assert Throttle(first, clock=recorder.clock).wait_needed("account:x:1", rate) == 0

    assert Throttle(second, clock=recorder.clock).wait_needed("account:x:1", rate) == 60.0


class BrokenCache:
    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")

    incr = add


def test_throttle_lets_calls_through_when_the_cache_is_down(caplog):
    logger = logging.getLogger("exchanges")
    logger.addHandler(caplog.handler)
    try:
        Throttle(BrokenCache()).acquire("flaky", 1)
    finally:
        logger.removeHandler(caplog.handler)

    assert "throttle cache unavailable" in caplog.text


def test_rate_parses_counts_and_periods():
    assert Rate.parse("10/s") == Rate(10, 1)
    assert Rate.parse("600/m") == Rate(600, 60)
    assert Rate.parse("5/2s") == Rate(5, 2)


def test_create_order_without_a_client_order_id_is_never_retried_and_its_state_is_unknown():
    recorder, venue = Recorder(), LosingVenue(failures=1)

    with pytest.raises(OrderStateUnknown):
        guarded(venue, recorder).create_order(OrderRequest("SHARP/USDT", "buy", "market", D("10"), ""))

    assert venue.calls["create_order"] == 1


def test_settings_override_one_venue_and_keep_the_built_in_rest(settings):
    from exchanges.throttle import rates_for

    settings.EXCHANGE_RATE_LIMITS = {"default": {"account": "1/s"}, "bitmart": {"ip": "50/m"}}

    assert rates_for("bitmart") == {"account": Rate(5, 1), "ip": Rate(50, 60)}
    assert rates_for("kraken") == {"account": Rate(1, 1), "ip": Rate(20, 1)}
    assert rates_for("paper") == {"account": None, "ip": None}  # our own database, no venue to protect


def test_guarded_calls_wait_for_the_shared_budget(settings):
    settings.EXCHANGE_RATE_LIMITS = {"flaky": {"account": "2/s", "ip": "100/s"}}
    recorder, venue = Recorder(), FlakyVenue()
    recorder.now = 500.0
    connector = guarded(venue, recorder)

    for _ in range(3):
        connector.load_markets()

    assert venue.calls["load_markets"] == 3
    assert recorder.waits == [1.0]
