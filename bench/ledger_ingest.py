"""Ingesting 10,000 new trades for one bot (idempotent insert + FIFO state + rollups). Target: < 2 s.

Run: python bench/ledger_ingest.py            (SQLite, a temporary file)
     DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipelabs python bench/ledger_ingest.py
"""

import random
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_common import bench_database, report, timed  # noqa: E402

N = 10_000


def fills(prefix: str, n: int, start):
    from exchanges.connectors.base import TradeFill

    rng = random.Random(prefix)
    rows = []
    for i in range(n):
        amount = Decimal(rng.randint(100, 100_000))
        price = Decimal(rng.randint(11000, 14000)).scaleb(-6)
        cost = amount * price
        currency = ("USDT", "SHARP", "BNB")[i % 3]
        rows.append(TradeFill(f"{prefix}{i}", f"o{i}", "SHARP/USDT", "buy" if i % 2 == 0 else "sell", amount, price,
                              cost, Decimal("0.001"), currency, start + timedelta(seconds=i)))
    return rows


def main() -> int:
    with bench_database():
        from django.db import connection
        from django.utils import timezone

        from ledger.models import BotTrade
        from ledger.services import ingest_trades, rebuild_pnl
        from tests.factories import BotFactory

        bot = BotFactory(symbol="SHARP/USDT")
        start = timezone.now() - timedelta(days=1)
        ingest_trades(bot, fills("warm", N, start))  # a bot with history already
        batch = fills("new", N, start + timedelta(seconds=N))
        seconds, count = timed(lambda: ingest_trades(bot, batch))
        again_s, again = timed(lambda: ingest_trades(bot, batch))
        print(f"database: {connection.vendor}; new: {count:,}; stored: {BotTrade.objects.filter(bot=bot).count():,}")
        ok = report("ingest 10,000 new trades (one call)", seconds, 2.0)
        print(f"{'the same 10,000 again (all duplicates, 0 new: ' + str(again) + ')':<58} {again_s:>10.4f} s")
        same = not rebuild_pnl(bot).differences
        print(f"incremental figures equal a full rebuild: {'yes' if same else 'NO'}")
        return 0 if ok and same and count == N and again == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
