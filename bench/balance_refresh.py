"""Refresh balances of 1,000 exchange accounts over 3 fake venues that each answer in 200 ms.

    python bench/balance_refresh.py            # SQLite (a throw-away file)
    DATABASE_URL=postgres://... python bench/balance_refresh.py

Target (issue "Exchange layer"): all 1,000 accounts refreshed in under 10 s wall time, with
per-exchange concurrency caps, and one hung venue does not delay the others. The fakes (BitMart
through ccxt, Coinstore, a Solana JSON-RPC node for Jupiter accounts) run in their own processes,
so the figure is the platform's cost, not the fakes'. Each Solana balance takes 3 RPC calls
(SOL, SPL, Token-2022), so that venue gets a higher cap.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ACCOUNTS = {"bitmart": 334, "coinstore": 333, "jupiter": 333}
CAPS = {"bitmart": 24, "coinstore": 24, "jupiter": 64}
LATENCY_S = 0.2
TARGET_S = 10.0
KEY, SECRET, MEMO = "bench-key-0001", "bench-secret-0001", "bench-memo"


def _serve(kind: str, conn, hang: bool) -> None:
    """Child process: run one fake venue until the parent says stop."""
    if kind == "bitmart":
        from tests.fakes.bitmart import FakeBitmart

        fake = FakeBitmart(KEY, SECRET, MEMO, delay_s=LATENCY_S)
    elif kind == "coinstore":
        from tests.fakes.coinstore import FakeCoinstore

        fake = FakeCoinstore(KEY, SECRET)
        fake.delay_s = LATENCY_S
    else:
        from tests.fakes.solana_rpc import FakeSolanaRpc

        fake = FakeSolanaRpc()
        fake.delay_s = LATENCY_S
    with fake:
        if hang:
            if kind == "bitmart":
                fake.inject("hang", times=None)
            else:
                fake.fault = "hang"
                if hasattr(fake, "hang_s"):
                    fake.hang_s = 60
        conn.send(fake.url)
        conn.recv()  # block until told to stop


def start_fakes(hung: str | None = None):
    context = multiprocessing.get_context("fork")
    fakes = {}
    for kind in ACCOUNTS:
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(kind, child, kind == hung), daemon=True)
        process.start()
        fakes[kind] = (process, parent, parent.recv())
    return fakes


def stop_fakes(fakes) -> None:
    for process, conn, _ in fakes.values():
        conn.send("stop")
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def create_accounts(urls: dict[str, str]) -> list[int]:
    from solders.keypair import Keypair

    from bots.models import Bot
    from clients.models import Wallet
    from clients.services import create_client
    from exchanges.models import ExchangeAccount
    from exchanges.services import save_credentials

    client = create_client(name="bench")
    ids = []
    for exchange, count in ACCOUNTS.items():
        for n in range(count):
            options = {"rpc_url": urls[exchange]} if exchange == "jupiter" else {"api_url": urls[exchange]}
            wallet = None
            if exchange == "jupiter":
                wallet = Wallet.objects.create(client=client, chain="solana", address=str(Keypair().pubkey()))
            account = ExchangeAccount.objects.create(client=client, exchange=exchange, name=f"{exchange}-{n}",
                                                     options=options, wallet=wallet)
            if exchange != "jupiter":
                save_credentials(account, api_key=KEY, secret=SECRET, memo=MEMO if exchange == "bitmart" else "")
            Bot.objects.create(client=client, account=account, name=f"b{account.pk}", bot_type="volume",
                               symbol="SOL/USDC" if exchange == "jupiter" else "BTC/USDT")
            ids.append(account.pk)
    return ids


def run(ids: list[int], *, deadline_s: float) -> tuple[float, dict[str, float], object]:
    from exchanges.models import ExchangeAccount
    from ledger.services import refresh_balances

    exchange_of = dict(ExchangeAccount.objects.filter(pk__in=ids).values_list("pk", "exchange"))
    started = time.perf_counter()
    last_answer: dict[str, float] = {}

    def on_result(account_id, value):
        last_answer[exchange_of[account_id]] = time.perf_counter() - started

    result = refresh_balances(ids, per_exchange_concurrency=CAPS, deadline_s=deadline_s, on_result=on_result)
    return time.perf_counter() - started, last_answer, result


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")
    fakes = start_fakes()
    urls = {kind: url for kind, (_, _, url) in fakes.items()}
    from ledger_common import bench_database

    with bench_database():
        from django.conf import settings

        # The fakes have no rate limit of their own; the venues' real per-IP budgets are
        # reported separately below (they, not the platform, bound a real refresh).
        settings.EXCHANGE_RATE_LIMITS = {kind: {"account": None, "ip": None} for kind in ACCOUNTS}
        settings.EXCHANGE_HTTP_HOSTS = ["127.0.0.1"]  # the fakes speak plain http on loopback
        print(f"machine: {os.cpu_count()} cores; database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        ids = create_accounts(urls)
        print(f"accounts: {ACCOUNTS}, caps: {CAPS}, every request answered in {LATENCY_S * 1000:.0f} ms")

        wall, last, result = run(ids, deadline_s=30)
        up_s, up_failed = wall, len(result.failed)
        if result.failed:
            print(f"first failure: {next(iter(result.failed.values()))}")
        print(f"all venues up     : {len(result.refreshed)} refreshed, {len(result.failed)} failed in {wall:.2f} s "
              f"(target < {TARGET_S:.0f} s) {'OK' if wall < TARGET_S and not result.failed else 'MISSED'}")
        print("                    last answer per venue: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(last.items())))
        stop_fakes(fakes)

        fakes = start_fakes(hung="coinstore")
        from exchanges.models import ExchangeAccount

        for kind, (_, _, url) in fakes.items():
            key = "rpc_url" if kind == "jupiter" else "api_url"
            for account in ExchangeAccount.objects.filter(exchange=kind):
                account.options = {key: url}
                account.save(update_fields=["options"])
        wall, last, result = run(ids, deadline_s=8)
        others = max(v for k, v in last.items() if k != "coinstore")
        others_ok = others < TARGET_S and len(result.refreshed) >= sum(n for k, n in ACCOUNTS.items() if k != "coinstore")
        print(f"coinstore hung    : others done after {others:.2f} s (target < {TARGET_S:.0f} s) "
              f"{'OK' if others_ok else 'MISSED'}; {len(result.refreshed)} refreshed, "
              f"{len(result.failed)} marked stale at the {8} s deadline; call returned after {wall:.2f} s")
        stop_fakes(fakes)
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]

    from ledger_common import bench_json, figure

    figures = [figure("balance refresh, 1,000 accounts, 3 venues at 200 ms", up_s, TARGET_S,
                      ok=up_s < TARGET_S and not up_failed),
               figure("same with Coinstore hung: other venues done", others, TARGET_S, ok=others_ok)]
    from exchanges.throttle import DEFAULT_RATE_LIMITS, Rate

    print("with the venues' per-IP budgets (exchanges/throttle.py), a refresh from one IP needs at least:")
    for kind, count in ACCOUNTS.items():
        rate = DEFAULT_RATE_LIMITS[kind]["ip"]
        calls = count * (3 if kind == "jupiter" else 1)
        per_s = Rate.parse(rate).limit / Rate.parse(rate).period_s
        print(f"  {kind:9s} {calls:4d} calls at {rate:>6s} -> {calls / per_s:5.1f} s")
    bench_json(figures, database=database)


if __name__ == "__main__":
    main()
