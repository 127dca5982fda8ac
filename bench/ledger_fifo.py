"""Full FIFO recompute of 1,000,000 trades (pure engine; no database). Target: under 2 s.

Run: python bench/ledger_fifo.py
Prints the engine's time on trades already in its integer form (the recompute itself), the time
to turn 1,000,000 Decimal trades into that form, and checks the result on a sample against the
plain Decimal definition (tests/ledger/reference.py).
"""

import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import bench_json, figure, report  # noqa: E402
from ledger import fifo  # noqa: E402  (pure: needs no Django set-up)

N = 1_000_000


def decimal_trades(n: int, seed: int = 1):
    """A volume bot's day: alternating buys and sells, some oversized, fees in quote, base and BNB."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        amount = Decimal(rng.randint(1, 10**6)).scaleb(-2)
        price = Decimal(rng.randint(9000, 11000)).scaleb(-6)
        side = "buy" if i % 2 == 0 else "sell"
        if i % 7 in (0, 1):
            amount *= 2  # oversized trades consume several lots or split them
        cost = (amount * price).quantize(Decimal("1e-10"))
        kind = i % 5
        if kind == 0:
            fee, currency, fee_quote = (cost / 1000).quantize(Decimal("1e-12")), "USDT", None
        elif kind == 1:
            fee, currency, fee_quote = (amount / 1000).quantize(Decimal("1e-8")), "SHARP", None
        elif kind == 2:
            fee, currency, fee_quote = Decimal("0.00001"), "BNB", Decimal("0.003")
        else:
            fee, currency, fee_quote = Decimal(0), "", None
        rows.append((side, amount, price, cost, fee, currency, fee_quote))
    return rows


def convert(rows):
    return fifo.engine_trades(rows, "SHARP", "USDT")


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=N, help="trades to recompute (target is for 1,000,000)")
    n = parser.parse_args().trades
    print(f"building {n:,} Decimal trades ...", flush=True)
    rows = decimal_trades(n)
    start = time.perf_counter()
    trades = convert(rows)
    conversion_s = time.perf_counter() - start
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        state = fifo.recompute(trades)
        runs.append(time.perf_counter() - start)
    engine_s = sorted(runs)[1]

    from tests.ledger import reference

    sample = 20_000
    ref = reference.RefState()
    for s, a, p, c, f, fc, fq in rows[:sample]:
        reference.apply(ref, reference.RefTrade(s, a, p, c, f, fc, fq), "SHARP", "USDT")
    check = fifo.recompute(trades[:sample])
    exact = fifo.from_units(check.realized) == ref.realized and len(check.lots) == len(ref.lots)

    print(f"trades: {state.trade_count:,}  open lots: {len(state.lots):,}  realized: {fifo.from_units(state.realized)} USDT")
    print(f"oversold: {fifo.from_units(state.oversold)}  unconverted fees: {state.unconverted}")
    ok = report(f"FIFO recompute of {n:,} trades (engine, median of 3)", engine_s, 2.0)
    print(f"{f'Decimal -> engine form for {n:,} trades (once per load)':<58} {conversion_s:>10.4f} s")
    print(f"{'engine + conversion':<58} {engine_s + conversion_s:>10.4f} s")
    print(f"exact against the Decimal definition on the first {sample:,} trades: {'yes' if exact else 'NO'}")
    bench_json([figure(f"FIFO recompute, {n:,} trades (engine)", engine_s, 2.0, ok=ok and exact),
                figure(f"Decimal -> engine form, {n:,} trades", conversion_s, None)], database="none", trades=n)
    return 0 if ok and exact else 1


if __name__ == "__main__":
    sys.exit(main())
