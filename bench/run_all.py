"""Run every benchmark in bench/ and print one table of figures against their targets.

    python bench/run_all.py --quick          # a few minutes: smaller sizes, short runs
    python bench/run_all.py                  # full sizes (same as --full): tens of minutes
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipelabs REDIS_URL=redis://127.0.0.1:6379/13 \\
        python bench/run_all.py --quick --json /tmp/bench.json --only engine,api_load

Each bench runs as its own subprocess with this environment (SQLite and the ORM broker without
DATABASE_URL / REDIS_URL; each builds and drops its own throw-away database). The ledger and
balance benches end with a machine-readable line ``BENCH_JSON {...}``; the engine and API benches'
figures are read from their printed lines. api_load needs PostgreSQL and wrk: it gets a database
of its own next to DATABASE_URL (``<name>_bench_api``, dropped afterwards) and is skipped with the
reason otherwise. The table (figure, target, measured, pass/fail, machine, database, broker) is
also written as JSON to bench/results/latest.json (git-ignored) or ``--json PATH``, and each bench's
whole output beside it (``<name>.log``). Exit status:
0 when every figure passed, 1 otherwise (a bench that failed to run counts as failed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


@dataclass
class Bench:
    name: str
    quick: list[str] = field(default_factory=list)
    full: list[str] = field(default_factory=list)
    quick_env: dict[str, str] = field(default_factory=dict)
    quick_timeout_s: int = 300
    full_timeout_s: int = 3600


def _engine_sizes(quick: bool) -> list[str]:
    if not quick:
        return []  # the bench's own defaults: 25,50,100,200 on PostgreSQL, 10,25,50 on SQLite
    return ["--bots", "10,25" if _is_postgres() else "10", "--duration", "25"]


BENCHES = [
    Bench("balance_refresh"),
    Bench("ledger_fifo", quick=["--trades", "200000"]),
    Bench("ledger_ingest", quick=["--trades", "100000"]),
    Bench("ledger_read", quick_env={"BENCH_TRADES": "100000"}),
    Bench("engine"),  # sizes from _engine_sizes
    Bench("api_load", quick=["--duration", "5"], quick_timeout_s=240),
]


def _is_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").strip().startswith(("postgres://", "postgresql://"))


def _database() -> str:
    return "postgresql" if _is_postgres() else "sqlite"


def _machine(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    return f"{os.cpu_count()} cores, load {before[0]:.1f}->{after[0]:.1f}"


def _admin(url: str, sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def _run(bench: Bench, quick: bool, env: dict[str, str]) -> tuple[int | None, str, float]:
    """(exit code or None on timeout, output, seconds). The bench runs in its own process group so
    a timeout stops its children too (clusters, servers, fakes)."""
    args = bench.quick if quick else bench.full
    if bench.name == "engine":
        args = _engine_sizes(quick)
    env = {**env, **(bench.quick_env if quick else {})}
    timeout_s = bench.quick_timeout_s if quick else bench.full_timeout_s
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / f"{bench.name}.py"), *args], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout_s)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        code = None
    return code, output, time.monotonic() - started


def _bench_json(output: str) -> dict | None:
    lines = [line for line in output.splitlines() if line.startswith("BENCH_JSON ")]
    return json.loads(lines[-1][len("BENCH_JSON "):]) if lines else None


ENGINE_LINE = re.compile(
    r"N=\s*(?P<n>\d+): \s*(?P<ticks>\d+) ticks of ~(?P<due>\d+) due; delay p50 (?P<p50>[\d.na]+) s "
    r"p99 (?P<p99>[\d.na]+) s; skipped (?P<skipped>\w+), doubled (?P<doubled>\w+); engine (?P<engine>[\d.na]+) "
    r"ms/tick.*?(?P<verdict>OK|MISSED)")
ENGINE_BEST = re.compile(r"largest N meeting .*?: (\d+)")
API_LINE = re.compile(r"^(?P<name>\S+(?: venue hung)?)\s+(?P<rps>[\d.]+) req/s\s+p50\s+(?P<p50>[\d.]+) ms\s+"
                      r"p99\s+(?P<p99>[\d.]+) ms\s+non-2xx (?P<errors>\d+)", re.M)


def _engine_figures(output: str) -> list[dict]:
    rows = []
    for match in ENGINE_LINE.finditer(output):
        n = match["n"]
        rows.append({"figure": f"engine N={n}: tick start delay p99 ({match['ticks']} of ~{match['due']} ticks)",
                     "target": "< 1 s, 0 skipped/doubled", "measured": float(match["p99"]), "unit": "s",
                     "pass": match["verdict"] == "OK",
                     "note": f"skipped {match['skipped']}, doubled {match['doubled']}, engine {match['engine']} ms/tick"})
    best = ENGINE_BEST.search(output)
    if best:
        rows.append({"figure": "engine: largest N meeting the target", "target": ">= 1000 bots",
                     "measured": int(best[1]), "unit": "bots", "pass": int(best[1]) >= 1000})
    return rows


def _api_figures(output: str) -> list[dict]:
    runs = {m["name"]: m for m in API_LINE.finditer(output)}
    wanted = [("list@50", "rps", "GET /bots?include_balances=true (100 bots) at 50 connections", ">= 200", "req/s"),
              ("list@10", "p50", "same list, p50 at 10 connections", "< 30", "ms"),
              ("list@50", "p99", "same list, p99 at 50 connections", "< 150", "ms"),
              ("detail@50", "rps", "GET /bots/{id} at 50 connections", ">= 1000", "req/s"),
              ("list@50 venue hung", "rps", "list at 50 connections, every venue hung", ">= 200", "req/s")]
    rows = []
    for run, key, label, target, unit in wanted:
        if run not in runs:
            continue
        value = float(runs[run][key])
        limit = float(target.split()[1])
        ok = value >= limit if target.startswith(">=") else value < limit
        rows.append({"figure": label, "target": f"{target} {unit}", "measured": value, "unit": unit, "pass": ok,
                     "note": f"non-2xx {runs[run]['errors']}"})
    return rows


def run_bench(bench: Bench, quick: bool, log_dir: Path) -> list[dict]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    database, broker = _database(), "-"
    if bench.name == "engine":
        broker = "redis" if env.get("REDIS_URL") else "orm"
    throwaway = None
    if bench.name == "api_load":
        missing = [why for why, bad in (("needs PostgreSQL (DATABASE_URL)", not _is_postgres()),
                                        ("needs wrk (apt-get install wrk)", not shutil.which("wrk"))) if bad]
        if missing:
            return [{"bench": bench.name, "figure": "API load", "target": "", "measured": None, "unit": "",
                     "pass": None, "note": "skipped: " + "; ".join(missing), "machine": "", "database": database,
                     "broker": broker}]
        url = env["DATABASE_URL"].strip()
        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/') or 'pipelabs'}_bench_api"
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(url, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        throwaway = (url, name)
    print(f"--- {bench.name} ...", flush=True)
    before = os.getloadavg()
    try:
        code, output, seconds = _run(bench, quick, env)
    finally:
        if throwaway:
            _admin(throwaway[0], f'DROP DATABASE IF EXISTS "{throwaway[1]}" WITH (FORCE)')
    machine = _machine(before, os.getloadavg())
    (log_dir / f"{bench.name}.log").write_text(output)
    if bench.name == "engine":
        figures = _engine_figures(output)
    elif bench.name == "api_load":
        figures = _api_figures(output)
        database = "postgresql"
    else:
        parsed = _bench_json(output) or {}
        figures = parsed.get("figures", [])
        database = {"sqlite3": "sqlite", "sqlite": "sqlite", "none": "-"}.get(parsed.get("database"),
                                                                              parsed.get("database", database))
    if not figures or code not in (0, 1, 2):
        # ran but gave no figures, crashed or timed out: say so with the output's tail
        tail = " | ".join(output.strip().splitlines()[-3:])[-300:]
        why = "timed out" if code is None else f"exit {code}"
        figures = figures or [{"figure": bench.name, "target": "", "measured": None, "unit": ""}]
        for row in figures:
            row["pass"] = False
            row["note"] = f"{why}: {tail}"
    print(f"    {seconds:.0f} s", flush=True)
    return [{"bench": bench.name, "machine": machine, "database": database, "broker": broker, "seconds": round(seconds),
             **row} for row in figures]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict]) -> str:
    """The figures as a Markdown table (the README shows it as printed)."""
    lines = ["| figure | target | measured | pass | machine | database | broker |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        verdict = {True: "pass", False: "FAIL"}.get(row.get("pass"),
                                                    "skipped" if "skipped" in row.get("note", "") else "-")
        measured = f"{_cell(row.get('measured'))} {row.get('unit', '')}".strip()
        if row.get("note") and row.get("pass") is not True:
            measured += f" ({row['note']})"
        lines.append(f"| {row['figure']} | {row.get('target', '')} | {measured} | {verdict} | {row['machine']} | "
                     f"{row['database']} | {row['broker']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes and short runs (a few minutes)")
    mode.add_argument("--full", action="store_true", help="full sizes (the default)")
    parser.add_argument("--only", default="", help="comma-separated bench names: " +
                        ", ".join(b.name for b in BENCHES))
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown bench: {', '.join(sorted(unknown))}")
    started = datetime.now(timezone.utc)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for bench in BENCHES:
        if not only or bench.name in only:
            rows.extend(run_bench(bench, args.quick, args.json.parent))
    print()
    print(table(rows))
    args.json.write_text(json.dumps({
        "started_at": started.isoformat(timespec="seconds"), "mode": "quick" if args.quick else "full",
        "cores": os.cpu_count(), "database": _database(),
        "broker": "redis" if os.environ.get("REDIS_URL") else "orm", "figures": rows}, indent=2) + "\n")
    print(f"\nwritten to {args.json}")
    return 0 if all(row.get("pass") is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
