"""Shared set-up of the ledger benchmarks: a throw-away database, migrated, dropped afterwards.

With DATABASE_URL set, a new PostgreSQL database named after it (suffix ``_bench_ledger``) is
created and dropped; without it, a temporary SQLite file is used and deleted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _admin(url: str, sql: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    connection = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


@contextlib.contextmanager
def bench_database():
    """Set up Django on a fresh migrated database; remove it on exit."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DEBUG", "false")  # no query log growing through a million inserts
    url = os.environ.get("DATABASE_URL", "").strip()
    cleanup = None
    if url:
        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/') or 'pipelabs'}_bench_ledger"
        _admin(url, f'DROP DATABASE IF EXISTS "{name}"')
        _admin(url, f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))

        def cleanup():
            _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        handle, path = tempfile.mkstemp(prefix="bench_ledger_", suffix=".sqlite3")
        os.close(handle)
        os.environ["SQLITE_PATH"] = path

        def cleanup():
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)
    # A bench stopped with SIGTERM (a timeout, Ctrl-C) still removes its database.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        cleanup()
        signal.signal(signal.SIGTERM, previous)


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """(median seconds, last result) of ``repeat`` runs."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def report(label: str, value: float, target: float, unit: str = "s") -> bool:
    ok = value < target
    print(f"{label:<58} {value:>10.4f} {unit}   target < {target} {unit}   {'OK' if ok else 'MISSED'}")
    return ok


def bench_json(figures: list[dict], **extra) -> None:
    """Print the machine-readable last line that bench/run_all.py reads.

    Each figure: {"figure", "target", "measured", "unit", "pass"}; ``extra`` adds run facts
    (database, sizes).
    """
    import json

    print("BENCH_JSON " + json.dumps({"figures": figures, **extra}, default=str), flush=True)


def figure(name: str, measured: float, target: float | None, unit: str = "s", *, ok: bool | None = None,
           target_text: str | None = None) -> dict:
    """One row for bench_json: passes when ``measured < target`` unless ``ok`` says otherwise; a figure
    without target is information (``pass`` None)."""
    if ok is None and target is not None:
        ok = measured < target
    return {"figure": name, "measured": round(measured, 4), "unit": unit, "pass": None if ok is None else bool(ok),
            "target": target_text or (f"< {target} {unit}" if target is not None else "")}
