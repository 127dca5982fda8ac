"""The client API under real HTTP load: gunicorn as the Procfile starts it, PostgreSQL, wrk.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pl_bench python bench/api_load.py [--duration 15]

Seeds one client with 100 bots (10 paper accounts, balance snapshots, hourly rollups, FIFO P&L
from ingested trades, stored prices) in the database DATABASE_URL names (migrated first; use a
throw-away one), starts `gunicorn pipelabs.wsgi` (settings from gunicorn.conf.py, as the Procfile) with
PIPELABS_ENV=production (Redis cache when REDIS_URL is set, as in production), and drives it with
wrk (`apt-get install wrk`). Requests carry `X-Forwarded-Proto: https` as Railway's proxy does. The
API limit is raised so the limiter is still consulted on every request but does not refuse the bench.

Targets (issue 15): GET /bots?include_balances=true for 100 bots: >= 200 req/s at 50 connections,
p50 < 30 ms at 10, p99 < 150 ms at 50; GET /bots/{id} >= 1,000 req/s. Then the same list again while
every account's venue is a server that accepts and never answers, and a balance refresh against it
runs in the background: the API reads snapshots, so the figures must not move.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOTS, ACCOUNTS, TRADES_PER_BOT = 100, 10, 20
# Production refuses localhost in ALLOWED_HOSTS: requests name the public host, as behind the proxy.
HOST = "api.pipelabs.test"


def _env(port: int, hang_port: int) -> dict:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update({
        "PIPELABS_ENV": "production", "DJANGO_SETTINGS_MODULE": "pipelabs.settings",
        "SECRET_KEY": "bench-" + "k7Qx9mZ2pL4vR8tN" * 4, "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS") or Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": HOST, "CORS_ALLOWED_ORIGINS": "https://app.pipelabs.xyz",
        "API_RATE_LIMIT": "100000000/m", "LOG_LEVEL": "WARNING", "EXCHANGE_HTTP_HOSTS": "127.0.0.1",
    })
    return env


def _seed(hang_port: int) -> tuple[str, int]:
    """(token, one bot id) after seeding 100 bots with figures; idempotent per database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from bots.models import Bot
    from bots.services import create_bot
    from clients.models import Client
    from clients.services import create_client
    from clients.signin import issue_token
    from exchanges.connectors.base import TradeFill
    from exchanges.models import ExchangeAccount
    from ledger.models import BalanceRefresh, BalanceSnapshot, HourlyRollup, PriceSnapshot
    from ledger.services.ingest import ingest_trades

    client = Client.objects.filter(name="bench client").first()
    if client is None:
        client = create_client(name="bench client", wallets=[("evm", "0x" + "be" * 20)])
        now = timezone.now()
        for a in range(ACCOUNTS):
            account = ExchangeAccount.objects.create(client=client, exchange="bitmart", name=f"acct-{a}",
                                                     options={"api_url": f"http://127.0.0.1:{hang_port}"})
            for asset, amount in (("SHARP", Decimal("123456.123456789012345678")), ("USDT", Decimal("9876.5"))):
                BalanceSnapshot.objects.create(account=account, asset=asset, available=amount, locked=Decimal("1.5"),
                                               total=amount + Decimal("1.5"), usd_value=amount, taken_at=now, confirmed_at=now)
            BalanceRefresh.objects.create(account=account, last_success_at=now, last_attempt_at=now)
            for b in range(BOTS // ACCOUNTS):
                bot = create_bot(client=client, account=account, name=f"bot-{a}-{b}", bot_type="volume",
                                 symbol="SHARP/USDT", config={"daily_volume_usd": 5000})
                fills = []
                for n in range(TRADES_PER_BOT):
                    price = Decimal("0.0123") + Decimal(n) / 10000
                    fills.append(TradeFill(exchange_trade_id=f"{bot.pk}-{n}", order_id=f"o{n}", symbol="SHARP/USDT",
                                           side="buy" if n % 2 == 0 else "sell", amount=Decimal("10"), price=price,
                                           cost=price * 10, fee=Decimal("0.001"), fee_currency="USDT",
                                           traded_at=now - timedelta(minutes=n)))
                ingest_trades(bot, fills)
        PriceSnapshot.objects.update_or_create(exchange="bitmart", symbol="SHARP/USDT", defaults={
            "price": Decimal("0.0131"), "source": "mid", "taken_at": now})
        assert HourlyRollup.objects.exists()
    token, _ = issue_token(client)
    return token, Bot.objects.filter(client=client).order_by("pk").first().pk


def _hanging_server() -> tuple[socket.socket, int]:
    """A venue that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(url: str, token: str, connections: int, duration_s: int) -> dict:
    done = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration_s}s", "--latency", "--timeout", "10s",
         "-H", f"Authorization: Bearer {token}", "-H", "X-Forwarded-Proto: https", "-H", f"Host: {HOST}", url],
        capture_output=True, text=True)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    out = done.stdout

    def ms(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a throw-away PostgreSQL database.")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk).")
    hang, hang_port = _hanging_server()
    port = _free_port()
    env = _env(port, hang_port)
    os.environ.update(env)
    token, bot_id = _seed(hang_port)
    # gunicorn.conf.py (workers, worker class, timeout, access log) as the Procfile's web process uses it.
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "pipelabs.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(150):
            if server.poll() is not None:
                sys.exit("gunicorn exited; run with BENCH_SERVER_LOG=/tmp/gunicorn.log to see why.")
            try:
                ready = requests.get(f"{base}/bots/{bot_id}", timeout=10, headers={
                    "Authorization": f"Bearer {token}", "Host": HOST, "X-Forwarded-Proto": "https"})
                if ready.status_code == 200:
                    break
                sys.exit(f"GET /bots/{bot_id} answered {ready.status_code}: {ready.text[:300]}")
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        list_url = f"{base}/bots?include_balances=true"
        _wrk(list_url, token, 10, 3)  # warm: imports, connections, token caches
        results = {
            "list@10": _wrk(list_url, token, 10, args.duration),
            "list@50": _wrk(list_url, token, 50, args.duration),
            "detail@50": _wrk(f"{base}/bots/{bot_id}", token, 50, args.duration),
        }
        refresh = subprocess.Popen([sys.executable, "manage.py", "refresh_balances"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(4)  # past its start-up: from here it only waits on the hung venue
            results["list@50 venue hung"] = _wrk(list_url, token, 50, args.duration)
        finally:
            refresh.kill()
    finally:
        server.terminate()
        server.wait(10)
        hang.close()
    config = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), config)
    print(f"gunicorn {config['workers']} {config['worker_class']} workers x {config['threads']} threads, PostgreSQL, cache {'Redis' if env.get('REDIS_URL') else 'database'}, "
          f"{BOTS} bots, wrk {args.duration} s per run, on {os.cpu_count()} cores shared with the load tool")
    for name, r in results.items():
        print(f"{name:22} {r['rps']:8.1f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  non-2xx {r['non_2xx']}")
    checks = [
        ("list >= 200 req/s at 50 connections", results["list@50"]["rps"] >= 200),
        ("list p50 < 30 ms at 10 connections", results["list@10"]["p50"] < 30),
        ("list p99 < 150 ms at 50 connections", results["list@50"]["p99"] < 150),
        ("GET /bots/{id} >= 1,000 req/s", results["detail@50"]["rps"] >= 1000),
        ("hung venue: list >= 200 req/s at 50", results["list@50 venue hung"]["rps"] >= 200),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label}")
    if any(r["non_2xx"] for r in results.values()):
        print("errors: some answers were not 2xx")
        return 1
    return 0 if all(ok for _, ok in checks) else 2


if __name__ == "__main__":
    sys.exit(main())
