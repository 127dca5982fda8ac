"""Rolling windows are exact: whole buckets plus the two partial edges from trades, at any minute."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.models import BotTrade
from ledger.selectors import stats_for_bot, volume_for_bot, volume_for_bots
from ledger.services import ingest_trades
from tests.factories import BotFactory
from tests.ledger.conftest import T0, fill

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.mark.parametrize("minute, second", [(0, 0), (0, 13), (1, 13), (17, 13), (29, 13), (30, 0), (31, 13), (59, 59)])
def test_a_trade_23h30m_old_is_in_24h_and_one_24h01m_old_is_not_whatever_the_minute(minute, second):
    bot = BotFactory(symbol="SHARP/USDT")
    now = T0 + timedelta(minutes=minute, seconds=second)
    ingest_trades(bot, [
        fill("in", "buy", 2, 3, at=now - timedelta(hours=23, minutes=30)),
        fill("out", "buy", 100, 1, at=now - timedelta(hours=24, minutes=1)),
        fill("edge", "sell", 1, 4, at=now - timedelta(hours=24)),  # the window's first instant: in
        fill("now", "sell", 1, 5, at=now),  # its last: in
        fill("future", "sell", 7, 5, at=now + timedelta(seconds=1)),  # not yet
    ])
    volume = volume_for_bot(bot, "24h", now=now)
    assert (volume["trade_count"], volume["buy_base"], volume["sell_base"]) == (3, D(2), D(2))
    assert volume["quote_volume"] == D(6 + 4 + 5)
    assert stats_for_bot(bot, now=now)["windows"]["24h"]["trade_count"] == 3


def _brute_force(trades, since, until):
    picked = [t for t in trades if since <= t.traded_at <= until]
    return {
        "trade_count": len(picked),
        "buy_base": sum((t.amount for t in picked if t.side == "buy"), D(0)),
        "sell_base": sum((t.amount for t in picked if t.side == "sell"), D(0)),
        "quote_volume": sum((t.cost for t in picked), D(0)),
        "fees": sum((t.fee for t in picked), D(0)),
    }


def test_windows_equal_a_scan_of_the_trades_at_random_moments():
    rng = random.Random(12)
    bot = BotFactory(symbol="SHARP/USDT")
    start = T0 - timedelta(days=40)
    fills = [
        fill(f"t{i}", rng.choice(["buy", "sell"]), rng.randint(1, 50), D(rng.randint(100, 200)) / 100,
             fee=D(rng.randint(0, 9)) / 1000, fee_currency="USDT",
             at=start + timedelta(seconds=rng.randint(0, 41 * 86400)))
        for i in range(400)
    ]
    ingest_trades(bot, fills)
    trades = list(BotTrade.objects.filter(bot=bot))
    for _ in range(12):
        now = start + timedelta(seconds=rng.randint(30 * 86400, 41 * 86400))
        stats = stats_for_bot(bot, now=now)
        for name, length in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30))):
            expected = _brute_force(trades, now - length, now)
            for volume in (volume_for_bot(bot, name, now=now), stats["windows"][name]):
                got = {k: volume[k] for k in ("trade_count", "buy_base", "sell_base", "quote_volume", "fees")}
                assert got == expected, (name, now)


@pytest.mark.parametrize("window, queries", [("24h", 4), ("7d", 4), ("30d", 5), ("all", 3)])
def test_each_window_costs_a_constant_number_of_queries(window, queries, django_assert_num_queries):
    # bots (no account loaded: 1), edge trades, hourly and/or daily rows, prices
    bots = [BotFactory(symbol="SHARP/USDT") for _ in range(3)]
    for minute in (0, 7, 45):
        now = T0 + timedelta(days=31, minutes=minute)
        for group in (bots[:1], bots):
            fresh = list(type(bots[0]).objects.filter(pk__in=[b.pk for b in group]))
            with django_assert_num_queries(queries):
                volume_for_bots(fresh, window, now=now)
        ingest_trades(bots[0], [fill(f"m{minute}-{i}", "buy", 1, 1, at=now - timedelta(hours=i)) for i in range(30)])


def test_stats_cost_a_constant_number_of_queries(django_assert_num_queries):
    bot = BotFactory(symbol="SHARP/USDT")
    bot = type(bot).objects.select_related("account").get(pk=bot.pk)
    now = T0 + timedelta(days=31, minutes=21)
    with django_assert_num_queries(5):  # prices, edge trades, hourly rows, daily rows, state
        stats_for_bot(bot, now=now)
    ingest_trades(bot, [fill(f"s{i}", "buy", 1, 1, at=now - timedelta(hours=7 * i)) for i in range(120)])
    with django_assert_num_queries(5):
        stats_for_bot(bot, now=now)


def test_edge_trades_are_read_by_index_range_not_by_scanning_the_bot():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bot = BotFactory(symbol="SHARP/USDT")
    now = T0 + timedelta(minutes=40)
    with CaptureQueriesContext(connection) as queries:
        volume_for_bot(bot, "24h", now=now)
    (sql,) = [q["sql"] for q in queries.captured_queries if "ledger_bottrade" in q["sql"]]
    if connection.vendor != "sqlite":
        assert " OR " not in sql  # one index range per edge on PostgreSQL as well
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        plan = [row[-1] for row in cursor.fetchall() if "ledger_bottrade" in row[-1]]
    assert plan and all("traded_at>" in step for step in plan), plan
