"""The paper exchange behaves like a venue: resting limits, crossing fills, fees, locked funds,
market rules, persistence and concurrency."""

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from exchanges.connectors.base import OrderRequest
from exchanges.connectors.paper import DEFAULT_MARKETS, PaperConnector
from exchanges.connectors.paper import engine
from exchanges.connectors.paper.walk import ceil_to, walk
from exchanges.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from exchanges.models import PaperMarket, PaperOrder, PaperTrade
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
D = Decimal


class Clock:
    def __init__(self, at=START):
        self.at = at

    def __call__(self):
        return self.at

    def advance(self, seconds):
        self.at += timedelta(seconds=seconds)


def paper_account(markets=None, balances=None, fees=None):
    paper = {}
    if markets:
        paper["markets"] = markets
    if balances:
        paper["balances"] = balances
    if fees:
        paper["fees"] = fees
    return ExchangeAccountFactory(exchange="paper", options={"paper": paper} if paper else {})


VOLATILE = {
    "SHARP/USDT": {"price": "1.0000", "price_step": "0.0001", "amount_step": "1", "min_amount": "5",
                   "min_notional": "5", "volatility_bps": "50", "step_ms": 1000, "seed": 42, "depth_quote": "100"},
}


def balances(connector):
    return {b.asset: b for b in connector.fetch_balance()}


def buy(symbol, amount, price=None, cid="", kind=None):
    kind = kind or ("limit" if price is not None else "market")
    return OrderRequest(symbol, "buy", kind, D(amount), cid, D(price) if price is not None else None)


def sell(symbol, amount, price=None, cid="", kind=None):
    kind = kind or ("limit" if price is not None else "market")
    return OrderRequest(symbol, "sell", kind, D(amount), cid, D(price) if price is not None else None)


def future_path(connector, symbol, steps):
    """(current step, prices of the next ``steps`` steps) from the market's own walk."""
    connector.load_markets()
    market = PaperMarket.objects.get(account=connector.account, symbol=symbol)
    spec = engine.spec_of(market)
    now_step, now_price = engine.reference(market, connector.clock())
    return now_step, walk(spec, now_step, now_price, now_step + steps), spec


def test_new_account_opens_with_default_markets_and_balances():
    connector = PaperConnector(paper_account(), clock=Clock())

    markets = connector.load_markets()

    assert set(markets) == set(DEFAULT_MARKETS)
    assert markets["SHARP/USDT"].price_step == D("0.00001")
    assert balances(connector)["USDT"].available == D("10000")


def test_options_override_markets_balances_and_fees():
    account = paper_account(VOLATILE, {"USDT": "50"}, {"maker": "0.002", "taker": "0.003"})
    connector = PaperConnector(account, clock=Clock())

    assert set(connector.load_markets()) == {"SHARP/USDT"}
    held = balances(connector)
    assert held["USDT"].available == D("50") and held["SHARP"].available == 0
    market = PaperMarket.objects.get(account=account)
    assert (market.maker_fee_rate, market.taker_fee_rate) == (D("0.002"), D("0.003"))


def test_price_moves_with_time_and_is_the_same_for_every_connector():
    account = paper_account(VOLATILE)
    clock = Clock()
    first, second = PaperConnector(account, clock=clock), PaperConnector(account, clock=clock)
    start = first.fetch_ticker("SHARP/USDT")

    clock.advance(30)

    later = first.fetch_ticker("SHARP/USDT")
    assert later.last != start.last
    assert second.fetch_ticker("SHARP/USDT") == later
    assert later.bid < later.last < later.ask


def test_limit_buy_rests_with_funds_locked_then_fills_when_price_crosses():
    account = paper_account(VOLATILE, {"USDT": "1000"}, {"maker": "0.001"})
    clock = Clock()
    connector = PaperConnector(account, clock=clock)
    now_step, path, spec = future_path(connector, "SHARP/USDT", 120)
    limit = ceil_to(min(path), D("0.0001"))
    assert limit < connector.fetch_ticker("SHARP/USDT").bid  # rests, does not cross the book
    cross_step = now_step + 1 + next(i for i, p in enumerate(path) if p <= limit)

    order = connector.create_order(buy("SHARP/USDT", "100", limit, cid="rest-1"))

    assert order.status == "open" and order.filled == 0
    cost = limit * 100
    held = balances(connector)
    assert held["USDT"].locked == cost + cost * D("0.001")
    assert held["USDT"].available == D("1000") - held["USDT"].locked

    clock.at = spec.time_of(cross_step) - timedelta(milliseconds=1)
    assert connector.fetch_order("SHARP/USDT", order.exchange_order_id).status == "open"

    clock.at = spec.time_of(cross_step)
    filled = connector.fetch_order("SHARP/USDT", order.exchange_order_id)
    assert filled.status == "filled" and filled.filled == D("100")
    [trade] = connector.fetch_my_trades("SHARP/USDT")
    assert (trade.price, trade.amount, trade.fee) == (limit, D("100"), cost * D("0.001"))
    assert trade.traded_at == spec.time_of(cross_step)
    held = balances(connector)
    assert held["USDT"].locked == 0
    assert held["USDT"].available == D("1000") - cost - cost * D("0.001")
    assert held["SHARP"].available == D("100")


def test_limit_sell_fills_when_price_rises_to_it():
    account = paper_account(VOLATILE, {"SHARP": "500", "USDT": "0"})
    clock = Clock()
    connector = PaperConnector(account, clock=clock)
    now_step, path, spec = future_path(connector, "SHARP/USDT", 120)
    limit = max(path) - max(path) % D("0.0001")
    cross_step = now_step + 1 + next(i for i, p in enumerate(path) if p >= limit)
    order = connector.create_order(sell("SHARP/USDT", "200", limit))
    assert balances(connector)["SHARP"].locked == D("200")

    clock.at = spec.time_of(cross_step) + timedelta(seconds=30)

    assert connector.fetch_order("SHARP/USDT", order.exchange_order_id).status == "filled"
    held = balances(connector)
    assert held["SHARP"].available + held["SHARP"].locked == D("300")
    assert held["USDT"].available == limit * 200 * D("0.999")


def test_market_buy_walks_the_book_with_slippage_and_taker_fee():
    account = paper_account(VOLATILE, {"USDT": "10000"}, {"taker": "0.002"})
    connector = PaperConnector(account, clock=Clock())
    book = connector.fetch_order_book("SHARP/USDT", depth=5)
    first_level = book.asks[0][1]
    amount = first_level + book.asks[1][1] // 2

    order = connector.create_order(buy("SHARP/USDT", amount))

    assert order.status == "filled" and order.filled == amount
    trades = connector.fetch_my_trades("SHARP/USDT")
    assert [(t.price, t.amount) for t in trades] == [book.asks[0], (book.asks[1][0], amount - first_level)]
    cost = sum(t.cost for t in trades)
    assert cost / amount > book.asks[0][0]  # slippage beyond the best ask
    fee = sum(t.fee for t in trades)
    assert fee == cost * D("0.002")
    assert balances(connector)["USDT"].available == D("10000") - cost - fee


def test_limit_crossing_the_book_fills_its_crossing_part_and_rests_the_rest():
    account = paper_account(VOLATILE, {"USDT": "10000"})
    connector = PaperConnector(account, clock=Clock())
    book = connector.fetch_order_book("SHARP/USDT", depth=3)
    best_ask, best_size = book.asks[0]

    order = connector.create_order(buy("SHARP/USDT", best_size + 50, best_ask, cid="cross"))

    assert order.status == "open" and order.filled == best_size
    [trade] = connector.fetch_my_trades("SHARP/USDT")
    assert (trade.price, trade.amount) == (best_ask, best_size)
    assert balances(connector)["USDT"].locked == best_ask * 50 * D("1.001")


def test_cancel_unlocks_the_funds():
    connector = PaperConnector(paper_account(VOLATILE, {"USDT": "1000"}), clock=Clock())
    order = connector.create_order(buy("SHARP/USDT", "100", "0.5000"))
    assert balances(connector)["USDT"].locked > 0

    canceled = connector.cancel_order("SHARP/USDT", order.exchange_order_id)

    assert canceled.status == "canceled"
    held = balances(connector)
    assert (held["USDT"].available, held["USDT"].locked) == (D("1000"), 0)
    assert connector.fetch_open_orders("SHARP/USDT") == []


def test_order_beyond_the_balance_is_rejected_and_changes_nothing():
    connector = PaperConnector(paper_account(VOLATILE, {"USDT": "10"}), clock=Clock())

    with pytest.raises(InsufficientFunds):
        connector.create_order(buy("SHARP/USDT", "100", "0.5000", cid="too-big"))
    with pytest.raises(InsufficientFunds):
        connector.create_order(sell("SHARP/USDT", "10"))

    held = balances(connector)
    assert (held["USDT"].available, held["USDT"].locked) == (D("10"), 0)
    with pytest.raises(OrderNotFound):
        connector.fetch_order("SHARP/USDT", client_order_id="too-big")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (buy("SHARP/USDT", "10.5", "0.5000"), "amount_precision"),
        (buy("SHARP/USDT", "10", "0.50005"), "price_precision"),
        (buy("SHARP/USDT", "4", "2.0000"), "min_amount"),
        (buy("SHARP/USDT", "9", "0.5000"), "min_notional"),
        (buy("SHARP/USDT", "10", None, kind="limit"), "price_required"),
        (OrderRequest("SHARP/USDT", "hold", "limit", D("10"), "", D("1")), "bad_side"),
    ],
)
def test_order_breaking_market_rules_is_rejected_with_its_code(request_, code):
    connector = PaperConnector(paper_account(VOLATILE, {"USDT": "1000"}), clock=Clock())

    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(request_)

    assert caught.value.exchange_code == code
    assert connector.fetch_open_orders("SHARP/USDT") == []


def test_unknown_market_is_an_invalid_order():
    connector = PaperConnector(paper_account(), clock=Clock())

    with pytest.raises(InvalidOrder):
        connector.fetch_ticker("DOGE/USDT")


def test_client_order_id_is_unique_per_account_and_finds_the_order():
    account = paper_account(VOLATILE, {"USDT": "1000"})
    connector = PaperConnector(account, clock=Clock())
    placed = connector.create_order(buy("SHARP/USDT", "10", "0.5000", cid="bot1-0001"))

    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(buy("SHARP/USDT", "10", "0.5000", cid="bot1-0001"))

    assert caught.value.exchange_code == "duplicate_client_order_id"
    assert connector.fetch_order("SHARP/USDT", client_order_id="bot1-0001") == placed
    other = PaperConnector(paper_account(VOLATILE, {"USDT": "1000"}), clock=Clock())
    assert other.create_order(buy("SHARP/USDT", "10", "0.5000", cid="bot1-0001")).status == "open"


def test_state_survives_a_new_connector():
    account = paper_account(VOLATILE, {"USDT": "1000"})
    clock = Clock()
    placed = PaperConnector(account, clock=clock).create_order(buy("SHARP/USDT", "10", "0.5000"))

    restarted = PaperConnector(type(account).objects.get(pk=account.pk), clock=clock)

    assert restarted.fetch_open_orders("SHARP/USDT") == [placed]
    assert balances(restarted)["USDT"].locked == D("5.005")


def test_fetch_my_trades_returns_fills_from_the_cursor_on():
    clock = Clock()
    connector = PaperConnector(paper_account(VOLATILE, {"USDT": "1000"}), clock=clock)
    connector.create_order(buy("SHARP/USDT", "10"))
    clock.advance(5)
    connector.create_order(buy("SHARP/USDT", "20"))
    clock.advance(5)
    connector.create_order(buy("SHARP/USDT", "30"))

    all_trades = connector.fetch_my_trades("SHARP/USDT")
    since_second = connector.fetch_my_trades("SHARP/USDT", since=START + timedelta(seconds=5))

    assert [t.amount for t in all_trades] == [D("10"), D("20"), D("30")]
    assert [t.amount for t in since_second] == [D("20"), D("30")]
    assert [t.amount for t in connector.fetch_my_trades("SHARP/USDT", limit=1)] == [D("10")]


def test_two_processes_settling_the_same_order_fill_it_once():
    account = paper_account(VOLATILE, {"USDT": "1000"})
    clock = Clock()
    connector = PaperConnector(account, clock=clock)
    order = connector.create_order(buy("SHARP/USDT", "100", "0.9990"))
    seen_by_a = PaperOrder.objects.get(pk=order.exchange_order_id)
    seen_by_b = PaperOrder.objects.get(pk=order.exchange_order_id)
    market = PaperMarket.objects.get(account=account)

    assert engine.fill_resting(seen_by_a, market, clock()) is True
    assert engine.fill_resting(seen_by_b, market, clock()) is False

    assert PaperTrade.objects.filter(order_id=seen_by_a.pk).count() == 1
    held = balances(connector)
    assert held["SHARP"].available == D("100")
    assert held["USDT"].available + held["USDT"].locked == D("1000") - D("99.9") * D("1.001")


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_settling_one_account_fill_each_order_once():
    from django.db import connection, connections

    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite serializes writers by table lock; the interleaving test above covers it")
    account = paper_account(VOLATILE, {"USDT": "1000"})
    clock = Clock()
    placer = PaperConnector(account, clock=clock)
    now_step, path, spec = future_path(placer, "SHARP/USDT", 120)
    limits = sorted({ceil_to(p, D("0.0001")) for p in path if p < path[0] * D("0.995")})[:5]
    orders = [placer.create_order(buy("SHARP/USDT", "20", limit)) for limit in limits]
    clock.at = spec.time_of(now_step + 121)
    barrier, errors = threading.Barrier(4), []

    def settle_in_thread():
        try:
            barrier.wait(5)
            PaperConnector(account, clock=clock).fetch_balance()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=settle_in_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert PaperTrade.objects.filter(account=account).count() == len(orders) >= 2
    spent = sum(limit * 20 * D("1.001") for limit in limits)
    held = balances(placer)
    assert (held["USDT"].available, held["USDT"].locked) == (D("1000") - spent, 0)
    assert held["SHARP"].available == 20 * len(orders)
