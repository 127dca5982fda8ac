"""Coinstore answers the connector cannot trust: fills it cannot page back to, fills without an id
or a time, numbers that are not numbers. Each is a domain error, never a partial list, a made-up
value or a plain Python error."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.coinstore import connector as coinstore_connector
from exchanges.errors import ExchangeError, ExchangeUnavailable
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

API_KEY = "CSKEY-answers-0123456789"
SECRET = "CSSECRET-answers-9876543210"
T = 1_760_000_000


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


def fills_at(fake, connector, seconds):
    order = connector.create_order(OrderRequest("SHARP/USDT", "buy", "limit", Decimal(max(len(seconds), 10)),
                                                "bulk", Decimal("0.012")))
    for second in seconds:
        fake.fill(order.exchange_order_id, "1", match_time_s=second)


def at(second):
    return datetime.fromtimestamp(second, tz=UTC)


def test_fills_beyond_the_page_cap_are_found_by_page_number_oldest_first(connector, fake, monkeypatch):
    monkeypatch.setattr(coinstore_connector, "TRADES_PAGE_SIZE", 2)
    monkeypatch.setattr(coinstore_connector, "TRADES_MAX_PAGES", 3)  # 6 fills by walking back
    fills_at(fake, connector, [T - 5, T - 4] + [T + n for n in range(41)])

    oldest = connector.fetch_my_trades("SHARP/USDT", since=at(T), limit=5)
    everything = connector.fetch_my_trades("SHARP/USDT", since=at(T), limit=500)

    assert [f.traded_at for f in oldest] == [at(T + n) for n in range(5)]
    assert [f.traded_at for f in everything] == [at(T + n) for n in range(41)]
    assert len(connector.fetch_my_trades("SHARP/USDT", since=at(T + 38))) == 3  # within reach: as before


def test_fills_arriving_during_a_deep_read_never_open_a_gap(connector, fake, monkeypatch):
    monkeypatch.setattr(coinstore_connector, "TRADES_PAGE_SIZE", 2)
    monkeypatch.setattr(coinstore_connector, "TRADES_MAX_PAGES", 3)
    fills_at(fake, connector, [T + n for n in range(30)])
    live = connector.create_order(OrderRequest("SHARP/USDT", "buy", "limit", Decimal(100), "live", Decimal("0.012")))
    read = connector._trades_page
    calls = []

    def trading_meanwhile(rules, page):
        calls.append(page)
        if len(calls) % 3 == 0:  # the bot trades while the pages are read: every row moves down
            fake.fill(live.exchange_order_id, "1", match_time_s=T + 1000 + len(calls))
        return read(rules, page)

    monkeypatch.setattr(connector, "_trades_page", trading_meanwhile)
    got = connector.fetch_my_trades("SHARP/USDT", since=at(T), limit=8)

    assert got and [f.traded_at for f in got] == [at(T + n) for n in range(len(got))]  # from the cursor, no gap


def test_every_fill_since_is_returned_oldest_first_up_to_the_limit(connector, fake):
    fills_at(fake, connector, [T + n for n in range(2_050)])

    first = connector.fetch_my_trades("SHARP/USDT", since=at(T), limit=500)

    assert [f.traded_at for f in first] == [at(T + n) for n in range(500)]
    assert len(fake.requests_to("/api/trade/match/accountMatches")) == 21  # beyond the old 20-page cap


def test_a_small_limit_still_walks_back_in_full_pages(connector, fake):
    fills_at(fake, connector, [T + n for n in range(250)])

    assert [f.traded_at for f in connector.fetch_my_trades("SHARP/USDT", since=at(T), limit=2)] == [at(T), at(T + 1)]
    assert all(r.query.endswith("pageSize=100") for r in fake.requests_to("/api/trade/match/accountMatches"))


@pytest.mark.parametrize("missing", ["id", "matchTime"])
def test_a_fill_without_an_id_or_a_time_is_an_error_not_a_made_up_value(connector, fake, missing):
    fills_at(fake, connector, [T, T + 1])
    for match in fake.matches:
        for name in ("id", "tradeId", "matchId") if missing == "id" else ("matchTime",):
            match.pop(name)

    with pytest.raises(ExchangeUnavailable, match="without a trade id" if missing == "id" else "without a match time"):
        connector.fetch_my_trades("SHARP/USDT", since=at(T - 60))


@pytest.mark.parametrize("balance", ["NaN", "Infinity", "-inf", "sNaN", "N/A", "1e999999999999"])
def test_a_balance_that_is_not_a_finite_number_is_an_unexpected_answer(connector, fake, balance):
    fake.extra_balance_rows.append({"currency": "USDT", "balance": balance, "type": 1})

    with pytest.raises(ExchangeUnavailable, match="unexpected answer"):
        connector.fetch_balance()


@pytest.mark.parametrize("kind", ["x", "1.5", None, [1]])
def test_a_balance_type_that_is_not_an_integer_is_an_unexpected_answer(connector, fake, kind):
    if kind is None:
        fake.extra_balance_rows.append({"currency": "USDT", "balance": "1", "type": {"id": 1}})
    else:
        fake.extra_balance_rows.append({"currency": "USDT", "balance": "1", "type": kind})

    with pytest.raises(ExchangeUnavailable, match="unexpected answer"):
        connector.fetch_balance()


def test_a_balance_type_sent_as_digit_text_still_counts(connector, fake):
    fake.extra_balance_rows.append({"currency": "USDT", "balance": "2.5", "type": "1"})

    assert {b.asset: b.available for b in connector.fetch_balance()}["USDT"] == Decimal("1002.5")
