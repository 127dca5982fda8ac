"""The Coinstore connector against the local fake venue: markets, balances, orders, fills."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.coinstore import connector as coinstore_connector
from exchanges.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

API_KEY = "CSKEY-test-0123456789abcdef"
SECRET = "CSSECRET-test-fedcba9876543210"
PLACE = "/api/trade/order/place"


@pytest.fixture
def fake():
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        yield venue


@pytest.fixture
def connector(fake):
    client = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url, timeout_s=5)
    yield client
    client.close()


def limit(side, amount, price, client_order_id="bot1-0001"):
    return OrderRequest(
        symbol="SHARP/USDT",
        side=side,
        kind="limit",
        amount=Decimal(amount),
        price=Decimal(price),
        client_order_id=client_order_id,
    )


def test_load_markets_maps_symbols_with_precisions_and_minimums(connector):
    market = connector.load_markets()["SHARP/USDT"]
    assert market.exchange_symbol == "SHARPUSDT"
    assert (market.base, market.quote) == ("SHARP", "USDT")
    assert market.price_step == Decimal("0.00001")
    assert market.amount_step == Decimal("0.01")
    assert market.min_amount == Decimal("10")
    assert market.min_notional == Decimal("5")
    assert market.active is True


def test_load_markets_is_cached_between_calls(connector, fake):
    connector.load_markets()
    connector.market("SHARP/USDT")
    assert len(fake.requests_to("/api/v2/public/config/spot/symbols")) == 1


def test_fetch_balance_sums_every_row_per_currency_and_type_exactly(connector, fake):
    fake.funds.clear()
    fake.set_funds("USDT", "13297.94999", "0.05001")
    fake.extra_balance_rows = [
        {"currency": "USDT", "balance": "0.00000001", "type": 1, "typeName": "AVAILABLE"},
        {"currency": "USDT", "balance": "0.1", "type": 4, "typeName": "FROZEN"},
        {"currency": "SHARP", "balance": "7", "type": 1, "typeName": "AVAILABLE"},
        {"currency": "SHARP", "balance": "1", "type": 4, "typeName": "FROZEN"},
        {"currency": "SHARP", "balance": "2.5", "type": 4, "typeName": "FROZEN"},
    ]
    balances = {b.asset: b for b in connector.fetch_balance()}
    assert balances["USDT"].available == Decimal("13297.94999001")
    assert balances["USDT"].locked == Decimal("0.15001")
    assert balances["SHARP"].available == Decimal("7")
    assert balances["SHARP"].locked == Decimal("3.5")
    assert balances["SHARP"].total == Decimal("10.5")


def test_fetch_order_book_and_ticker_are_exact(connector):
    book = connector.fetch_order_book("SHARP/USDT", depth=1)
    assert book.bids == [(Decimal("0.01230"), Decimal("5000"))]
    assert book.asks == [(Decimal("0.01240"), Decimal("4000"))]
    ticker = connector.fetch_ticker("SHARP/USDT")
    assert (ticker.bid, ticker.ask) == (Decimal("0.01230"), Decimal("0.01240"))
    assert ticker.mid == Decimal("0.01235")


def test_limit_orders_are_sent_rounded_amount_down_and_price_to_the_safe_tick(connector, fake):
    buy = connector.create_order(limit("buy", "123.4567", "0.0123456", "bot1-buy"))
    sell = connector.create_order(limit("sell", "99.999", "0.0124401", "bot1-sell"))
    sent_buy, sent_sell = (r.json() for r in fake.requests_to(PLACE))
    assert {k: sent_buy[k] for k in ("symbol", "side", "ordType", "ordQty", "ordPrice", "clOrdId")} == {
        "symbol": "SHARPUSDT",
        "side": "BUY",
        "ordType": "LIMIT",
        "ordQty": "123.45",
        "ordPrice": "0.01234",
        "clOrdId": "bot1-buy",
    }
    assert isinstance(sent_buy["timestamp"], int)
    assert (sent_sell["ordQty"], sent_sell["ordPrice"]) == ("99.99", "0.01245")
    assert (buy.amount, buy.price, buy.status) == (Decimal("123.45"), Decimal("0.01234"), "open")
    assert buy.exchange_order_id and buy.client_order_id == "bot1-buy"
    assert (sell.amount, sell.price) == (Decimal("99.99"), Decimal("0.01245"))


@pytest.mark.parametrize(
    ("amount", "price", "code"),
    [
        ("9.999", "0.0123", "below_min_amount"),  # rounds to 9.99 < 10
        ("0.004", "0.0123", "below_min_amount"),  # rounds to 0
        ("100", "0.000004", "below_min_price"),  # rounds to 0
    ],
)
def test_order_below_minimum_is_rejected_without_sending_a_request(connector, fake, amount, price, code):
    connector.load_markets()
    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(limit("buy", amount, price))
    assert caught.value.code == code
    assert fake.requests_to(PLACE) == []


def test_market_buy_is_sized_in_quote_from_the_best_ask(connector, fake):
    order = OrderRequest(symbol="SHARP/USDT", side="buy", kind="market", amount=Decimal("1000.129"), client_order_id="m1")
    connector.create_order(order)
    (sent,) = (r.json() for r in fake.requests_to(PLACE))
    assert sent["ordAmt"] == "12.40159"  # 1000.129 x 0.01240 = 12.4015996, rounded down to 5 decimals
    assert "ordQty" not in sent and "ordPrice" not in sent


def test_market_buy_below_minimum_value_is_rejected_without_a_request(connector, fake):
    order = OrderRequest(symbol="SHARP/USDT", side="buy", kind="market", amount=Decimal("100"), client_order_id="m2")
    with pytest.raises(InvalidOrder) as caught:
        connector.create_order(order)  # 100 x 0.0124 = 1.24 USDT < 5
    assert caught.value.code == "below_min_notional"
    assert fake.requests_to(PLACE) == []


def test_insufficient_balance_maps_to_insufficient_funds(connector):
    with pytest.raises(InsufficientFunds) as caught:
        connector.create_order(limit("buy", "1000000", "0.0123"))
    assert caught.value.exchange_code == "1101"


def test_open_orders_and_cancel(connector, fake):
    first = connector.create_order(limit("buy", "100", "0.0120", "c1"))
    second = connector.create_order(limit("sell", "200", "0.0130", "c2"))
    assert {o.exchange_order_id for o in connector.fetch_open_orders("SHARP/USDT")} == {
        first.exchange_order_id,
        second.exchange_order_id,
    }
    assert fake.funds["USDT"].frozen == Decimal("1.2")

    assert connector.cancel_order("SHARP/USDT", first.exchange_order_id) is None

    (still_open,) = connector.fetch_open_orders("SHARP/USDT")
    assert (still_open.exchange_order_id, still_open.client_order_id) == (second.exchange_order_id, "c2")
    assert (still_open.side, still_open.kind, still_open.amount) == ("sell", "limit", Decimal("200"))
    assert fake.funds["USDT"].frozen == Decimal("0")
    with pytest.raises(OrderNotFound):
        connector.cancel_order("SHARP/USDT", first.exchange_order_id)


def test_fetch_order_by_exchange_id_or_client_id_follows_fills(connector, fake):
    placed = connector.create_order(limit("buy", "100", "0.0120", "bot1-42"))
    fake.fill(placed.exchange_order_id, "40")
    by_id = connector.fetch_order("SHARP/USDT", exchange_order_id=placed.exchange_order_id)
    assert (by_id.status, by_id.filled, by_id.amount, by_id.price) == (
        "open",
        Decimal("40"),
        Decimal("100"),
        Decimal("0.01200"),
    )
    fake.fill(placed.exchange_order_id, "60")
    by_client = connector.fetch_order("SHARP/USDT", client_order_id="bot1-42")
    assert by_client.exchange_order_id == placed.exchange_order_id
    assert (by_client.status, by_client.filled) == ("filled", Decimal("100"))
    assert by_client.created_at is not None


def test_fetch_order_unknown_raises_order_not_found(connector):
    with pytest.raises(OrderNotFound):
        connector.fetch_order("SHARP/USDT", client_order_id="never-placed")


def test_fetch_my_trades_since_cursor_with_exact_fee_and_fee_currency(connector, fake):
    fake.fee_rate = Decimal("0.0012345678901234567")  # more digits than a float keeps
    buy = connector.create_order(limit("buy", "100.5", "0.0120", "b"))
    sell = connector.create_order(limit("sell", "300", "0.0130", "s"))
    fake.fill(buy.exchange_order_id, "50", match_time_s=1_700_000_000)
    fake.fill(buy.exchange_order_id, "50.5", match_time_s=1_700_000_100)
    fake.fill(sell.exchange_order_id, "300", match_time_s=1_700_000_200)

    fills = connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(1_700_000_100, tz=UTC))

    assert [(f.side, f.amount) for f in fills] == [("buy", Decimal("50.5")), ("sell", Decimal("300"))]
    bought, sold = fills
    assert bought.traded_at == datetime.fromtimestamp(1_700_000_100, tz=UTC)
    assert bought.order_id == buy.exchange_order_id
    assert bought.price == Decimal("0.01200")
    assert bought.cost == Decimal("50.5") * Decimal("0.0120")
    assert bought.fee == Decimal("50.5") * Decimal("0.0012345678901234567")
    assert bought.fee_currency == "SHARP"  # a buy pays its fee in the base it receives
    assert sold.fee == Decimal("300") * Decimal("0.0130") * Decimal("0.0012345678901234567")
    assert sold.fee_currency == "USDT"
    assert len({f.exchange_trade_id for f in fills}) == 2


def test_fetch_my_trades_reads_pages_until_it_passes_the_cursor(connector, fake, monkeypatch):
    monkeypatch.setattr(coinstore_connector, "TRADES_PAGE_SIZE", 2)
    placed = connector.create_order(limit("buy", "700", "0.0120", "p"))
    for second in range(7):
        fake.fill(placed.exchange_order_id, "100", match_time_s=1_700_000_000 + second)

    fills = connector.fetch_my_trades("SHARP/USDT", since=datetime.fromtimestamp(1_700_000_001, tz=UTC))

    assert [int(f.traded_at.timestamp()) for f in fills] == list(range(1_700_000_001, 1_700_000_007))
    pages = [r.query for r in fake.requests_to("/api/trade/match/accountMatches")]
    assert pages == [f"symbol=SHARPUSDT&pageNum={n}&pageSize=2" for n in (1, 2, 3, 4)]


def test_unknown_symbol_raises_invalid_order(connector):
    with pytest.raises(InvalidOrder):
        connector.fetch_order_book("NOPE/USDT")
