"""Pruning balance snapshots and price history by age; the latest row of each series is always kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ledger.models import BalanceSnapshot, PriceHistory

BAD_DAYS = "Prune age must be a whole number of days from 1 to {high}, not {value!r}."
MAX_DAYS = 36_500
BATCH = 5_000  # rows deleted per transaction, so a large prune never holds a long lock


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    balance_snapshots: int
    price_history: int


def prune_days(value) -> int:
    """A validated prune age in days (1 to 100 years); raises ValidationError with a readable message."""
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(BAD_DAYS.format(high=MAX_DAYS, value=value), code="prune_days") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(BAD_DAYS.format(high=MAX_DAYS, value=value), code="prune_days")
    return days


def _delete_in_batches(queryset, progress=None) -> int:
    deleted = 0
    while True:
        # A batch is deleted whole or not at all, an interrupt (Ctrl-C) included.
        with transaction.atomic():
            pks = list(queryset.values_list("pk", flat=True)[:BATCH])
            if not pks:
                return deleted
            count = queryset.model.objects.filter(pk__in=pks).delete()[0]
        deleted += count
        if progress is not None:
            progress(count)


def prune(days=None, *, now: datetime | None = None,
          progress: Callable[[str, int], None] | None = None) -> PruneResult:
    """Delete balance snapshots last confirmed, and prices taken, more than ``days`` ago.

    ``days`` defaults to settings.PRUNE_AFTER_DAYS. The latest snapshot of each account and
    asset, and the latest price of each venue and symbol, stay whatever their age: they are
    what readers show (marked stale) until something newer arrives. ``progress(kind, count)``
    is called after each committed batch ("balance snapshots" or "prices").
    """
    days = prune_days(settings.PRUNE_AFTER_DAYS if days is None else days)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    newer_balance = BalanceSnapshot.objects.filter(account=OuterRef("account"), asset=OuterRef("asset")).filter(
        Q(taken_at__gt=OuterRef("taken_at")) | Q(taken_at=OuterRef("taken_at"), pk__gt=OuterRef("pk"))
    )
    newer_price = PriceHistory.objects.filter(
        exchange=OuterRef("exchange"), symbol=OuterRef("symbol"), taken_at__gt=OuterRef("taken_at")
    )
    balances = _delete_in_batches(
        BalanceSnapshot.objects.filter(confirmed_at__lt=cutoff).filter(Exists(newer_balance)).order_by("pk"),
        progress and (lambda count: progress("balance snapshots", count)),
    )
    history = _delete_in_batches(
        PriceHistory.objects.filter(taken_at__lt=cutoff).filter(Exists(newer_price)).order_by("pk"),
        progress and (lambda count: progress("prices", count)),
    )
    return PruneResult(cutoff=cutoff, balance_snapshots=balances, price_history=history)
