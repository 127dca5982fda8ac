"""Real django-q2 clusters for the fault tests: the shared helpers (tests/cluster.py), with the
fault worker (worker.py: the venue timeouts a test asks for) and short timeouts."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tests import cluster as shared
from tests.cluster import ROOT, enqueue, tail, ticks, wait_for  # noqa: F401  (the fault tests' helpers)

WORKER = Path(__file__).with_name("worker.py")

# Short task timeouts, so a lost tick's lease lapses in seconds (lease = Q_TIMEOUT_S + margin), and
# short dispatcher loops (each hands over to the next), so a cluster stops in seconds.
FAST = {"Q_TIMEOUT_S": "20", "Q_RETRY_S": "30", "BOT_LEASE_MARGIN_S": "2", "BOT_MIN_INTERVAL_S": "1",
        "BOT_LONGEST_VENUE_CALL_S": "2", "Q_WORKERS": "2", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
        "BOT_DISPATCH_RUN_S": "3"}

cluster = partial(shared.cluster, worker=WORKER)
