"""CcxtConnector with the real ccxt ``bitmart`` client against the local fake BitMart."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from exchanges.connectors.ccxt import connector as ccxt_connector
from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.ccxt import CcxtConnector
from exchanges.errors import ExchangeError, ExchangeUnavailable, InvalidOrder, OrderNotFound
from tests.fakes.bitmart import DEFAULT_SYMBOLS, FakeBitmart

KEY, SECRET, MEMO = "bm-key-7f3a9c2e", "bm-secret-5d8e1b4a", "bm-memo-3c6f"
CREDENTIALS = Credentials(api_key=KEY, secret=SECRET, memo=MEMO)
LOW_MIN = {
    **DEFAULT_SYMBOLS[0],
    "symbol": "LOW_USDT",
    "base_currency": "LOW",
    "quote_increment": "0.001",
    "base_min_size": "0.010000000000000000000000000000",
    "price_max_precision": 8,
    "min_buy_amount": "1.000000000000000000000000000000",
    "min_sell_amount": "2.500000000000000000000000000000",
    "trade_status": "pre-trade",
}


@pytest.fixture
def fake():
    balances = {
        "USDT": ("12.345678901234567890", "0.000000000000000001"),
        "SHARP": ("50000", "0"),
        "BTC": ("0.5", "0"),
    }
    with FakeBitmart(KEY, SECRET, MEMO, symbols=[*DEFAULT_SYMBOLS, LOW_MIN], balances=balances) as server:
        yield server


@pytest.fixture
def rich_fake():
    with FakeBitmart(KEY, SECRET, MEMO) as server:  # 1000 USDT, 50000 SHARP
        yield server


def connect(server, **kwargs) -> CcxtConnector:
    return CcxtConnector("bitmart", CREDENTIALS, api_url=server.url, **kwargs)


def buy(amount, price, client_order_id="bot1x1", side="buy", kind="limit"):
    return OrderRequest(
        symbol="SHARP/USDT",
        side=side,
        kind=kind,
        amount=Decimal(amount),
        client_order_id=client_order_id,
        price=None if price is None else Decimal(price),
    )


def test_markets_carry_exact_steps_and_minimums_from_symbol_details(fake):
    markets = connect(fake).load_markets()

    sharp = markets["SHARP/USDT"]
    assert (sharp.base, sharp.quote, sharp.exchange_symbol) == ("SHARP", "USDT", "SHARP_USDT")
    assert sharp.price_step == Decimal("0.000001")  # price_max_precision 6
    assert sharp.amount_step == Decimal("0.1")  # quote_increment, not base_min_size
    assert sharp.min_amount == Decimal("1")
    assert sharp.min_notional == Decimal("5")
    assert sharp.active
    low = markets["LOW/USDT"]
    assert (low.price_step, low.amount_step, low.min_amount) == (Decimal("1E-8"), Decimal("0.001"), Decimal("0.01"))
    assert low.min_notional == Decimal("2.5")  # the stricter of min_buy_amount and min_sell_amount
    assert not low.active
    assert markets["BTC/USDT"].price_step == Decimal("0.01")


def test_markets_are_loaded_once_and_shared_by_connectors_of_the_same_exchange(fake):
    first, second = connect(fake), connect(fake)
    first.load_markets()

    assert second.load_markets() == first.load_markets()
    assert second.fetch_ticker("SHARP/USDT").bid == Decimal("0.01234")
    for path in ("/spot/v1/symbols/details", "/account/v1/currencies", "/contract/public/details"):
        assert len(fake.requests_to(path)) == 1, path


def test_markets_reload_after_their_ttl(fake, monkeypatch):
    connect(fake).load_markets()
    monkeypatch.setattr(ccxt_connector, "MARKETS_TTL_S", -1)

    connect(fake).load_markets()

    assert len(fake.requests_to("/spot/v1/symbols/details")) == 2


def test_concurrent_first_loads_hit_the_exchange_once(fake):
    fake.delay_s = 0.05
    connectors = [connect(fake) for _ in range(6)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda connector: connector.load_markets(), connectors))

    assert all(result == results[0] for result in results)
    assert len(fake.requests_to("/spot/v1/symbols/details")) == 1


def test_balances_keep_every_digit_of_the_exchange_strings(fake):
    balances = {row.asset: row for row in connect(fake).fetch_balance()}

    usdt = balances["USDT"]
    assert str(usdt.available) == "12.34567890123456789"  # a float keeps 17 significant digits
    assert usdt.locked == Decimal("1E-18")
    assert usdt.total == Decimal("12.345678901234567891")
    assert balances["SHARP"].available == Decimal("50000")


def test_private_calls_are_signed_with_the_key_and_memo(fake):
    connect(fake).fetch_balance()

    (request,) = fake.requests_to("/spot/v1/wallet")
    assert request.headers["X-BM-KEY"] == KEY
    assert len(request.headers["X-BM-SIGN"]) == 64


def test_ticker_and_order_book_are_exact_and_best_first(fake):
    fake.set_ticker("SHARP_USDT", bid="0.012340", ask="0.012360", last="0.012350")
    # Prices whose string order differs from their numeric order.
    fake.set_book("SHARP_USDT", bids=[("9.5", "2"), ("10.1", "1"), ("10.05", "3.000000000000000001")],
                  asks=[("10.2", "1"), ("9.99", "4"), ("100", "5")])
    connector = connect(fake)

    ticker = connector.fetch_ticker("SHARP/USDT")
    book = connector.fetch_order_book("SHARP/USDT", depth=3)

    assert (ticker.bid, ticker.ask, ticker.last, ticker.mid) == (
        Decimal("0.01234"), Decimal("0.01236"), Decimal("0.01235"), Decimal("0.01235"))
    assert book.bids == [(Decimal("10.1"), Decimal("1")), (Decimal("10.05"), Decimal("3.000000000000000001")),
                         (Decimal("9.5"), Decimal("2"))]
    assert book.asks == [(Decimal("9.99"), Decimal("4")), (Decimal("10.2"), Decimal("1")), (Decimal("100"), Decimal("5"))]
    assert fake.requests_to("/spot/quotation/v3/books")[0].query == {"symbol": "SHARP_USDT", "limit": "3"}


def test_limit_order_is_sent_on_the_market_steps_with_the_client_order_id(rich_fake):
    placed = connect(rich_fake).create_order(buy("1000.19", "0.0123459", client_order_id="bot1x42"))

    (sent,) = rich_fake.requests_to("/spot/v2/submit_order")
    assert sent.body == {"symbol": "SHARP_USDT", "side": "buy", "type": "limit", "size": "1000.1",
                         "price": "0.012345", "client_order_id": "bot1x42"}
    assert placed.exchange_order_id in rich_fake.orders
    assert (placed.amount, placed.price, placed.status, placed.filled) == (
        Decimal("1000.1"), Decimal("0.012345"), "open", Decimal(0))
    assert placed.client_order_id == "bot1x42"


def test_sell_price_rounds_up_to_the_step(rich_fake):
    connect(rich_fake).create_order(buy("500", "0.0123451", side="sell"))

    (sent,) = rich_fake.requests_to("/spot/v2/submit_order")
    assert (sent.body["size"], sent.body["price"]) == ("500", "0.012346")


def test_order_below_min_notional_is_rejected_before_sending(rich_fake):
    connector = connect(rich_fake)

    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(buy("400", "0.012345"))

    assert caught.value.fields["reason"] == "below_min_notional"
    assert rich_fake.requests_to("/spot/v2/submit_order") == []


def test_market_buy_sends_the_quote_notional_at_the_ask(rich_fake):
    rich_fake.set_ticker("SHARP_USDT", bid="0.012", ask="0.0125", last="0.0124")

    placed = connect(rich_fake).create_order(buy("1000.07", None, kind="market"))

    (sent,) = rich_fake.requests_to("/spot/v2/submit_order")
    assert sent.body["type"] == "market" and sent.body["notional"] == "12.5"  # 1000.0 * 0.0125
    assert placed.kind == "market" and placed.price is None


def test_order_is_found_by_exchange_id_and_by_client_order_id(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123", client_order_id="bot1x7"))
    rich_fake.fill(placed.exchange_order_id, "250.5")

    by_id = connector.fetch_order("SHARP/USDT", exchange_order_id=placed.exchange_order_id)
    by_client = connector.fetch_order("SHARP/USDT", client_order_id="bot1x7")

    assert by_id == by_client
    assert (by_id.client_order_id, by_id.filled, by_id.amount, by_id.status) == (
        "bot1x7", Decimal("250.5"), Decimal("1000"), "open")


def test_unknown_order_raises_order_not_found(rich_fake):
    with pytest.raises(OrderNotFound) as caught:
        connect(rich_fake).fetch_order("SHARP/USDT", exchange_order_id="123")
    assert caught.value.exchange_code == "50005"


def test_fetch_order_needs_some_id(rich_fake):
    with pytest.raises(InvalidOrder):
        connect(rich_fake).fetch_order("SHARP/USDT")


def test_open_orders_lists_only_orders_still_working(rich_fake):
    connector = connect(rich_fake)
    working = connector.create_order(buy("1000", "0.0123", client_order_id="a1"))
    done = connector.create_order(buy("1000", "0.0122", client_order_id="a2"))
    rich_fake.fill(done.exchange_order_id)

    open_orders = connector.fetch_open_orders("SHARP/USDT")

    assert [o.exchange_order_id for o in open_orders] == [working.exchange_order_id]
    assert open_orders[0].price == Decimal("0.0123") and open_orders[0].side == "buy"


def test_cancel_returns_the_final_state_with_the_filled_part(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123"))
    rich_fake.fill(placed.exchange_order_id, "400")

    canceled = connector.cancel_order("SHARP/USDT", placed.exchange_order_id)

    assert (canceled.status, canceled.filled) == ("canceled", Decimal("400"))
    assert rich_fake.balance("USDT") == (Decimal("1000") - Decimal("400") * Decimal("0.0123"), Decimal(0))


def test_cancel_of_an_already_filled_order_returns_its_state(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123"))
    rich_fake.fill(placed.exchange_order_id)

    assert connector.cancel_order("SHARP/USDT", placed.exchange_order_id).status == "filled"


def test_cancel_that_cannot_read_the_order_back_returns_none(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123"))
    rich_fake.inject("http500", path="/spot/v4/query/order")

    assert connector.cancel_order("SHARP/USDT", placed.exchange_order_id) is None
    assert rich_fake.orders[placed.exchange_order_id]["state"] == "canceled"


def test_cancel_of_an_unknown_order_raises_order_not_found(rich_fake):
    with pytest.raises(OrderNotFound) as caught:
        connect(rich_fake).cancel_order("SHARP/USDT", "999")
    assert caught.value.exchange_code == "50032"


def test_my_trades_since_a_cursor_carry_fee_and_fee_currency(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123"))
    cursor = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    cursor_ms = int(cursor.timestamp()) * 1000
    rich_fake.fill(placed.exchange_order_id, "100", fee="0.0001", at_ms=cursor_ms - 1)
    on_cursor = rich_fake.fill(placed.exchange_order_id, "200", price="0.0122", fee="0.00244",
                               fee_coin="USDT", at_ms=cursor_ms)
    later = rich_fake.fill(placed.exchange_order_id, "300.5", fee="0.3005", fee_coin="SHARP", at_ms=cursor_ms + 1500)

    fills = connector.fetch_my_trades("SHARP/USDT", since=cursor)

    assert [f.exchange_trade_id for f in fills] == [on_cursor["tradeId"], later["tradeId"]]
    first = fills[0]
    assert (first.order_id, first.side, first.amount, first.price, first.cost) == (
        placed.exchange_order_id, "buy", Decimal("200"), Decimal("0.0122"), Decimal("2.44"))
    assert (first.fee, first.fee_currency, first.traded_at) == (Decimal("0.00244"), "USDT", cursor)
    assert (fills[1].fee, fills[1].fee_currency) == (Decimal("0.3005"), "SHARP")
    assert fills[1].traded_at == cursor + timedelta(milliseconds=1500)
    query = rich_fake.requests_to("/spot/v4/query/trades")[0]
    assert query.body["startTime"] == cursor_ms


def test_my_trades_read_forward_in_windows_from_the_cursor(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("10000", "0.05"))
    start_ms = 1_780_000_000_000
    for i in range(450):
        rich_fake.fill(placed.exchange_order_id, "1", at_ms=start_ms + i * 10)

    fills = connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(start_ms / 1000, timezone.utc))

    assert len(fills) == 450 and len({f.exchange_trade_id for f in fills}) == 450
    assert fills == sorted(fills, key=lambda f: f.traded_at)
    queries = [q.body for q in rich_fake.requests_to("/spot/v4/query/trades")]
    assert queries[0]["startTime"] == start_ms
    assert all(a["startTime"] <= b["startTime"] for a, b in zip(queries, queries[1:]))  # forward only
    assert all(q["endTime"] > q["startTime"] for q in queries) and len(queries) < 40
    assert [f.traded_at for f in connector.fetch_my_trades("SHARP/USDT", since=fills[0].traded_at, limit=2)] == [
        fills[0].traded_at, fills[1].traded_at]


def test_unknown_market_is_an_invalid_order(fake):
    with pytest.raises(InvalidOrder):
        connect(fake).fetch_ticker("NOPE/USDT")


def test_unknown_exchange_id_is_refused():
    with pytest.raises(ExchangeError):
        CcxtConnector("no-such-exchange", CREDENTIALS)


def test_any_ccxt_exchange_can_be_aimed_at_another_url():
    connector = CcxtConnector("binance", CREDENTIALS, api_url="http://127.0.0.1:9/")

    def leaves(urls):
        return [v for value in urls.values() for v in leaves(value)] if isinstance(urls, dict) else [urls]

    assert set(leaves(connector._exchange.urls["api"])) == {"http://127.0.0.1:9"}
    assert KEY not in repr(connector)


@pytest.mark.parametrize("missing", ["tradeId", "createTime"])
def test_a_fill_without_an_id_or_a_time_is_an_error_not_a_made_up_value(rich_fake, missing):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("1000", "0.0123"))
    start_ms = 1_780_000_000_000
    rich_fake.fill(placed.exchange_order_id, "100", at_ms=start_ms)
    broken = rich_fake.fill(placed.exchange_order_id, "100", at_ms=start_ms + 10)
    broken.pop(missing)
    broken.pop("updateTime")

    # ccxt itself trips over a trade without a time (it sorts by it): a domain error all the same.
    with pytest.raises(ExchangeUnavailable, match="without a trade id" if missing == "tradeId" else "nexpected"):
        connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(start_ms / 1000, timezone.utc))


@pytest.mark.parametrize("timestamp", [None, 0])
def test_a_parsed_trade_without_a_time_is_not_stamped_1970(fake, timestamp):
    trade = {"id": "t1", "order": "o1", "symbol": "SHARP/USDT", "side": "buy", "amount": "1", "price": "1",
             "cost": "1", "fee": {"cost": "0", "currency": "USDT"}, "timestamp": timestamp}

    with pytest.raises(ExchangeUnavailable, match="without a time"):
        connect(fake)._fill_from(trade, "SHARP/USDT")


def test_more_trades_in_one_millisecond_than_a_page_raise_rather_than_hide(rich_fake):
    connector = connect(rich_fake)
    placed = connector.create_order(buy("10000", "0.05"))
    start_ms = 1_780_000_000_000
    for _ in range(ccxt_connector.TRADES_PAGE + 1):
        rich_fake.fill(placed.exchange_order_id, "1", at_ms=start_ms + 5)

    with pytest.raises(ExchangeError) as caught:
        connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(start_ms / 1000, timezone.utc))

    assert caught.value.code == "too_many_trades"
