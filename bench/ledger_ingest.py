"""Ingest benchmarks. Targets on PostgreSQL: 10,000 new trades in pages of 500 (as sync_trades
ingests them) < 2 s; one late fill into a bot with 1,000,000 trades < 200 ms.

The 1,000,000-trade bot is built directly (bulk inserts of trades with their exact mirrors, then one
full rebuild that writes the FIFO state, rollups and checkpoints), not through 2,000 ingests: that
would take minutes and measure nothing new. ``--trades N`` builds a smaller bot.

Run: python bench/ledger_ingest.py            (SQLite, a temporary file)
     DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipelabs python bench/ledger_ingest.py
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_common import bench_database, bench_json, figure, report, timed  # noqa: E402

N = 10_000
PAGE = 500  # ledger/services/sync.py PAGE_LIMIT
BIG = 1_000_000
SPACING_S = 10  # the big bot trades every 10 s: 1,000,000 trades over ~116 days


def fills(prefix: str, n: int, start, spacing_s: int = 1):
    from exchanges.connectors.base import TradeFill

    rng = random.Random(prefix)
    rows = []
    for i in range(n):
        amount = Decimal(rng.randint(100, 100_000))
        price = Decimal(rng.randint(11000, 14000)).scaleb(-6)
        cost = amount * price
        currency = ("USDT", "SHARP", "BNB")[i % 3]
        rows.append(TradeFill(f"{prefix}{i}", f"o{i}", "SHARP/USDT", "buy" if i % 2 == 0 else "sell", amount, price,
                              cost, Decimal("0.001"), currency, start + timedelta(seconds=i * spacing_s)))
    return rows


def load(bot, count: int, start) -> float:
    """Store ``count`` trades with bulk inserts, then rebuild once; returns seconds taken."""
    from django.db import transaction

    from ledger.services import rebuild_pnl
    from ledger.services.ingest import _insert_trades, _validated

    began = time.perf_counter()
    batch = 20_000
    for first in range(0, count, batch):
        part = fills(f"big{first}-", min(batch, count - first), start + timedelta(seconds=first * SPACING_S),
                     SPACING_S)
        rows = [_validated(f, "SHARP/USDT") for f in part]
        for row in rows:
            row["fee_quote"] = None if row["fee_currency"] == "BNB" else (
                row["fee"] if row["fee_currency"] == "USDT" else row["fee"] * row["price"])
        with transaction.atomic():
            _insert_trades(bot, rows)
        print(f"  stored {first + len(rows):,} trades", end="\r", flush=True)
    rebuild_pnl(bot)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=BIG, help="trades in the late-fill bot")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with bench_database():
        from django.db import connection
        from django.utils import timezone

        from exchanges.connectors.base import TradeFill
        from ledger.models import BotTrade, PnlCheckpoint
        from ledger.services import ingest_trades, rebuild_pnl
        from tests.factories import BotFactory

        ok = True
        database = connection.vendor
        print(f"database: {database}")
        # --- 10,000 trades in pages of 500 -------------------------------------------------------
        bot = BotFactory(symbol="SHARP/USDT")
        start = timezone.now() - timedelta(days=1)
        for first in range(0, N, PAGE):
            ingest_trades(bot, fills(f"warm{first}-", PAGE, start + timedelta(seconds=first)))  # history already
        batch = fills("new", N, start + timedelta(seconds=N))
        pages = [batch[i : i + PAGE] for i in range(0, N, PAGE)]
        cpu = time.process_time()
        seconds, count = timed(lambda: sum(ingest_trades(bot, page) for page in pages))
        cpu = time.process_time() - cpu
        again_s, again = timed(lambda: sum(ingest_trades(bot, page) for page in pages))
        ok &= report("ingest 10,000 new trades in pages of 500", seconds, 2.0)
        ingest_s = seconds
        print(f"{'  of which CPU time in this process (the machine may be shared)':<58} {cpu:>10.4f} s")
        print(f"{'the same 10,000 again (all duplicates, 0 new: ' + str(again) + ')':<58} {again_s:>10.4f} s")
        same = not rebuild_pnl(bot).differences
        print(f"incremental figures equal a full rebuild: {'yes' if same else 'NO'}")
        ok &= same and count == N and again == 0

        # --- a late fill into a big bot ----------------------------------------------------------
        big = BotFactory(symbol="SHARP/USDT")
        big_start = timezone.now() - timedelta(seconds=args.trades * SPACING_S + 3600)
        build_s = load(big, args.trades, big_start)
        checkpoints = PnlCheckpoint.objects.filter(bot=big).count()
        print(f"built a bot of {BotTrade.objects.filter(bot=big).count():,} trades with {checkpoints:,} checkpoints "
              f"(bulk insert + one full rebuild) in {build_s:.1f} s")
        newest = big_start + timedelta(seconds=(args.trades - 1) * SPACING_S)
        times = []
        for n in range(5):
            late = TradeFill(f"late{n}", "o-late", "SHARP/USDT", "sell" if n % 2 else "buy", Decimal("123.5"),
                             Decimal("0.0125"), Decimal("1.54375"), Decimal("0.001"), "USDT",
                             newest - timedelta(minutes=2 + 7 * n, seconds=3))
            seconds, added = timed(lambda: ingest_trades(big, [late]))
            assert added == 1
            times.append(seconds)
        late_s = statistics.median(times)
        ok &= report(f"late fill into a {args.trades:,}-trade bot (median of 5)", late_s, 0.2)
        print(f"{'  each':<58} {' '.join(f'{t * 1000:.0f}' for t in times)} ms")
        full_s, result = timed(lambda: rebuild_pnl(big))
        print(f"{'full rebuild of that bot, for comparison':<58} {full_s:>10.4f} s")
        same = not result.differences
        print(f"figures after the late fills equal a full rebuild: {'yes' if same else 'NO ' + str(sorted(result.differences))}")
        ok &= same
    bench_json([figure("ingest 10,000 new trades, pages of 500", ingest_s, 2.0),
                figure(f"late fill into a {args.trades:,}-trade bot", late_s * 1000, 200.0, "ms"),
                figure(f"full rebuild of a {args.trades:,}-trade bot", full_s, None)],
               database=database, trades=args.trades, exact=bool(same))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
