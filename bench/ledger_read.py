"""Reading one bot's P&L and 24h volume with 1,000,000 trades stored. Target: constant queries, < 20 ms.

Run: python bench/ledger_read.py            (SQLite, a temporary file)
     DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipelabs python bench/ledger_read.py
Stores 1,000,000 trades over 30 days, builds the P&L state and rollups with one full rebuild
(timed too: the database-backed recompute), then times the read. Cleans up after itself.
"""

import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_common import bench_database, bench_json, figure, report, timed  # noqa: E402

N = int(os.environ.get("BENCH_TRADES", 1_000_000))


def store_trades(bot, n: int, end) -> None:
    from ledger.models import BotTrade

    rng = random.Random(3)
    step = timedelta(days=30) / n
    start = end - timedelta(days=30)
    batch = []
    for i in range(n):
        amount = Decimal(rng.randint(100, 100_000))
        price = Decimal(rng.randint(11000, 14000)).scaleb(-6)
        cost = amount * price
        batch.append(BotTrade(
            bot=bot, exchange_trade_id=f"t{i}", order_id=f"o{i // 3}", side="buy" if i % 2 == 0 else "sell",
            amount=amount, price=price, cost=cost, fee=(cost / 1000).quantize(Decimal("1e-9")),
            fee_currency="USDT", fee_quote=(cost / 1000).quantize(Decimal("1e-9")), traded_at=start + step * i,
        ))
        if len(batch) == 10_000:
            BotTrade.objects.bulk_create(batch)
            batch = []
            print(f"\r  stored {i + 1:,} trades", end="", flush=True)
    if batch:
        BotTrade.objects.bulk_create(batch)
    print()


def main() -> int:
    with bench_database():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from bots.models import Bot
        from ledger.models import PriceSnapshot
        from ledger.selectors import pnl_for_bot, volume_for_bot
        from ledger.services import ingest_trades, rebuild_pnl
        from tests.factories import BotFactory

        now = timezone.now()
        print(f"database: {connection.vendor}; storing {N:,} trades ...", flush=True)
        bot = BotFactory(symbol="SHARP/USDT")
        start = time.perf_counter()
        store_trades(bot, N, now - timedelta(minutes=1))
        print(f"  stored in {time.perf_counter() - start:.1f} s")
        # the trades were bulk-loaded around ingestion, so this first rebuild reports a difference
        rebuild_s, result = timed(lambda: rebuild_pnl(bot))
        print(f"  rebuild: realized {result.after['realized']} USDT over {result.after['trade_count']:,} trades")

        from exchanges.connectors.base import TradeFill

        # one more trade through the incremental path, so the read sees the live state
        ingest_trades(bot, [TradeFill("live", "o", "SHARP/USDT", "buy", Decimal(10), Decimal("0.0125"),
                                      Decimal("0.125"), Decimal(0), "USDT", now)])

        def read():
            fresh = Bot.objects.select_related("account").get(pk=bot.pk)
            return pnl_for_bot(fresh), volume_for_bot(fresh, "24h", now=now)

        # The mark the product reads: the bot's own venue's snapshot (a paper account walks its own
        # price, so its key is prices.venue_key, not "paper"), taken now so it is within MARK_MAX_AGE_S.
        from ledger import prices

        now = timezone.now()
        venue = prices.venue_key(bot.account.exchange, bot.account_id)
        PriceSnapshot.objects.create(exchange=venue, symbol="SHARP/USDT", price=Decimal("0.0125"), source="mid",
                                     taken_at=now)
        read()  # warm connection and caches once
        with CaptureQueriesContext(connection) as queries:
            pnl, volume = read()
        read_s, _ = timed(read, repeat=50)
        print(f"P&L: realized {pnl['realized']} unrealized {pnl['unrealized']} (mark {pnl['mark']['source']})")
        if pnl["mark"]["source"] != "mid" or pnl["mark"]["is_stale"]:
            print(f"the read did not use the stored mid: {pnl['mark']}")
            return 1
        print(f"24h: {volume['trade_count']:,} trades, {volume['quote_volume']} USDT, usd {volume['usd_volume']}")
        print(f"{'queries for P&L + 24h volume (incl. loading the bot)':<58} {len(queries):>10}        constant")
        ok = report(f"read P&L + 24h volume with {N:,} trades (median of 50)", read_s * 1000, 20.0, "ms")
        print(f"{'full rebuild from the database (load + FIFO + rollups)':<58} {rebuild_s:>10.4f} s")
        bench_json([figure(f"read P&L + 24h volume, {N:,} trades", read_s * 1000, 20.0, "ms"),
                    figure("queries for that read", len(queries), None, "queries", target_text="constant (6)",
                           ok=len(queries) <= 6),
                    figure(f"full rebuild from the database, {N:,} trades", rebuild_s, None)],
                   database=connection.vendor, trades=N)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
