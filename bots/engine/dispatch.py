"""The dispatcher: hands each due bot a tick, at the bot's own interval in seconds.

django-q2 runs a schedule at most once a minute (and checks schedules only every 30 s), so one
schedule (``bot-dispatch``, every minute) starts ``dispatch()``, which loops for up to
DISPATCH_RUN_S (55 s, inside the worker's timeout) and then enqueues its own successor:
each pass claims the bots whose ``next_tick_at`` has come and whose lease is free, by one
conditional UPDATE, and enqueues their ticks in batches (one task per chunk of bots, so
django-q2's per-task cost is spread; bots/engine/tick.py ``run_batch``). Any number of
dispatchers, in any number of clusters on one database, may run at once (one per cluster, each
feeding its own queue): the UPDATE's row count says who claimed a bot, so a bot is never handed
to two ticks. The lease is the claim: a tick lost with its
worker lapses with it and the bot is claimed again.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Q
from django.utils import timezone

from bots.engine import lease
from bots.models import Bot, EngineLease

logger = logging.getLogger(__name__)

DISPATCH_RUN_S = 55.0
DISPATCHER = "dispatcher"
LEASE_S = 15.0  # a dispatcher renews its lease every RENEW_S; a dead one's lapses after this
RENEW_S = 5.0
POLL_S = 0.2
BATCH = 500
ACTIVE = (Bot.Status.RUNNING, Bot.Status.STOPPING)


def claim_due(now: datetime | None = None, limit: int = BATCH) -> tuple[str, list[tuple[int, datetime | None]]]:
    """Claim up to ``limit`` due bots under one token; returns it and the (bot id, due time) pairs won."""
    now = now or timezone.now()
    due = list(Bot.objects.filter(lease.free(now), status__in=ACTIVE)
               .filter(Q(next_tick_at__lte=now) | Q(next_tick_at__isnull=True, status=Bot.Status.STOPPING))
               .order_by("next_tick_at").values_list("pk", "next_tick_at")[:limit])
    if not due:
        return "", []
    token = lease.new_token()
    Bot.objects.filter(lease.free(now), pk__in=[pk for pk, _ in due], status__in=ACTIVE).update(
        lease_owner=token, lease_until=now + timezone.timedelta(seconds=lease.lease_s()))
    won = set(Bot.objects.filter(pk__in=[pk for pk, _ in due], lease_owner=token).values_list("pk", flat=True))
    return token, [(pk, due_at) for pk, due_at in due if pk in won]


def batch_size(claimed: int) -> int:
    """Bots per tick task: enough to spread django-q2's per-task cost, few enough that every
    worker gets a share of the pass (at most BOT_TICK_BATCH, default 25)."""
    workers = max(1, int(settings.Q_CLUSTER.get("workers") or 1))
    return max(1, min(int(getattr(settings, "BOT_TICK_BATCH", 25)), math.ceil(claimed / workers)))


def dispatch_once(now: datetime | None = None) -> int:
    """One pass: claim the due bots and enqueue their ticks in batches; returns how many bots."""
    from django_q.tasks import async_task

    token, claimed = claim_due(now)
    size = batch_size(len(claimed))
    for start in range(0, len(claimed), size):
        chunk = claimed[start:start + size]
        # save=False: a tick's outcome is its log line and the bot's row; a failed task is still saved.
        async_task("bots.tasks.tick_batch_task", [pk for pk, _ in chunk], token,
                   [due.isoformat() if due else None for _, due in chunk],
                   task_name=f"tick-{chunk[0][0]}-{token[:8]}", save=False)
    return len(claimed)


def dispatcher_name() -> str:
    """The dispatcher lease's name: one per cluster (Q_CLUSTER name), since each cluster has its own
    queue and must feed its own workers; dispatchers of different clusters share the bots safely
    (the bots' leases decide), so two clusters tick twice as many bots."""
    return f"{DISPATCHER}:{settings.Q_CLUSTER.get('name', '')}"[:50]


def _hold(token: str, seconds: float) -> bool:
    """Take or renew this cluster's dispatcher lease; False when another dispatcher holds it."""
    now = timezone.now()
    name = dispatcher_name()
    EngineLease.objects.get_or_create(name=name)
    rows = EngineLease.objects.filter(name=name).filter(Q(owner=token) | Q(owner="") | Q(until__lt=now))
    return bool(rows.update(owner=token, until=now + timedelta(seconds=seconds)))


def run_s_default() -> float:
    """How long one dispatcher loops (BOT_DISPATCH_RUN_S, default 55 s): below the worker timeout."""
    return float(getattr(settings, "BOT_DISPATCH_RUN_S", DISPATCH_RUN_S))


def dispatch(run_s: float | None = None, poll_s: float = POLL_S, *, chain: bool = True) -> int:
    """Pass after pass for ``run_s`` seconds, then hand over to a successor task at once.

    One dispatcher per cluster at a time (a lease on its EngineLease row): the every-minute schedule only
    restarts the chain when its last link died (the lease lapses LEASE_S after its last renewal),
    so ticks never wait for the scheduler's next pass (django-q2 checks schedules every 30 s).
    Returns how many ticks were enqueued; 0 at once when another dispatcher is running.
    """
    run_s = run_s_default() if run_s is None else run_s
    token = lease.new_token()
    if not _hold(token, LEASE_S):
        return 0
    end = time.monotonic() + run_s
    renewed = time.monotonic()
    total = 0
    try:
        while True:
            try:
                total += dispatch_once()
                if time.monotonic() - renewed >= RENEW_S:
                    if not _hold(token, LEASE_S):
                        return total  # lapsed (this worker stalled) and taken over: stop at once
                    renewed = time.monotonic()
            except DatabaseError as exc:
                # The database restarted or is away: keep the loop (and so the chain) alive and try
                # again on a fresh connection, instead of dying and leaving the bots to the
                # every-minute schedule. The bots' leases keep any overlap with a successor harmless.
                logger.warning("dispatcher: database error, retrying: %s", exc)
                connections.close_all()
            if time.monotonic() + poll_s >= end:
                break
            time.sleep(poll_s)
    finally:
        # Free the lease for the successor: one left held (the database was away) would make the
        # successor find it taken and end the chain until the lease lapsed and the schedule ran.
        _retrying(lambda: EngineLease.objects.filter(name=dispatcher_name(), owner=token).update(owner="", until=None),
                  "lease not released")
    if chain:
        from django_q.tasks import async_task

        # On the ORM broker enqueueing needs the database too.
        _retrying(lambda: async_task("bots.tasks.dispatch_task", task_name=f"dispatch-{token[:8]}"),
                  "successor not enqueued")
    return total


def _retrying(write, what: str, attempts: int = 10, wait_s: float = 1.0) -> None:
    """Run a database write, retrying on a fresh connection for a few seconds while the database is away."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except DatabaseError as exc:
            logger.warning("dispatcher: %s (%s), attempt %d", what, exc, attempt)
            connections.close_all()
            if attempt < attempts:
                time.sleep(wait_s)
