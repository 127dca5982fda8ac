"""Who may act on a bot now: a lease on the Bot row, taken by conditional UPDATE.

The row count of ``UPDATE ... WHERE lease is free or lapsed`` says who won, on SQLite and
PostgreSQL alike, across any number of clusters sharing the database; nothing is kept in
process memory. A lease lapses by itself (``lease_until``), so a worker killed mid-tick blocks
its bot only until then. Every write a lease holder makes afterwards is conditional on still
holding it (``holding``), so a holder that outlived its lease changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot


def lease_s() -> float:
    """How long a lease lasts: longer than a worker may run a task (Q_TIMEOUT_S), so a tick the
    worker's timeout kills is dead before anyone else may tick the bot."""
    return float(settings.Q_CLUSTER["timeout"]) + float(getattr(settings, "BOT_LEASE_MARGIN_S", 10))


def new_token() -> str:
    return secrets.token_hex(12)


def free(now):
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def claim(bot_id: int, *, statuses, token: str | None = None, now=None, seconds: float | None = None) -> str | None:
    """The lease's token if this caller took it; None when another holds it or the status is not one of ``statuses``."""
    now = now or timezone.now()
    token = token or new_token()
    won = Bot.objects.filter(free(now), pk=bot_id, status__in=statuses).update(
        lease_owner=token, lease_until=now + timedelta(seconds=seconds if seconds is not None else lease_s()))
    return token if won else None


def holding(bot_id: int, token: str):
    """The bot's row as a queryset, only while ``token`` still holds a live lease on it."""
    return Bot.objects.filter(pk=bot_id, lease_owner=token, lease_until__gte=timezone.now())


def release(bot_id: int, token: str, **fields) -> bool:
    """Give the lease back, writing ``fields`` in the same UPDATE; False if it was no longer ours."""
    return bool(Bot.objects.filter(pk=bot_id, lease_owner=token).update(lease_owner="", lease_until=None, **fields))
