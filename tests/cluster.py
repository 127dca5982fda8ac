"""Real django-q2 clusters in tests: start one as its own process, feed it from another, read its log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def cluster(env: dict, log_path: Path, worker: Path | None = None):
    """A qcluster process for the block (``worker``: a script that starts one with test hooks, else
    ``manage.py qcluster``); stopped, and waited for, after."""
    command = [sys.executable, str(worker)] if worker else [sys.executable, "manage.py", "qcluster"]
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def enqueue(env: dict, func: str, *args) -> None:
    """Queue a task on the broker and cluster name ``env`` names, as another process would."""
    code = f"from django_q.tasks import async_task; async_task({func!r}, *{args!r})"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def wait_for(condition, timeout_s: float, every_s: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return bool(condition())


def ticks(log_path: Path) -> list[dict]:
    """The tick log lines (bots/engine/tick.py) a cluster wrote."""
    return [json.loads(line) for line in log_path.read_text().splitlines() if '"message": "tick"' in line]


def tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text()[-chars:]
