"""Refreshing balance snapshots in the background, so reading balances never waits on an exchange."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from exchanges.connectors.base import AssetBalance
from exchanges.errors import ExchangeError
from exchanges.models import ExchangeAccount
from ledger import fifo, prices
from ledger.models import BalanceRefresh, BalanceSnapshot
from pipelabs.logging import scrub

logger = logging.getLogger(__name__)

NO_ANSWER = "The exchange layer returned no result for this account."
# Snapshots older than this are pruned; the current (last good) set is always kept.
SNAPSHOT_RETENTION = timedelta(days=7)


@dataclass
class BalanceRefreshResult:
    refreshed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def refresh_balances(account_ids=None, **fetch_options) -> BalanceRefreshResult:
    """Fetch balances (outside any transaction) and store one snapshot set per account that answered.

    ``account_ids`` None means every account some bot uses. An account whose fetch failed keeps
    its last good snapshots, marked stale with the error. ``fetch_options`` go to fetch_balances.
    """
    from exchanges.services import fetch_balances  # the exchange layer; imported late on purpose

    accounts = ExchangeAccount.objects.order_by("pk")
    if account_ids is None:
        accounts = accounts.filter(bots__isnull=False).distinct()
    else:
        accounts = accounts.filter(pk__in=list(account_ids))
    accounts = list(accounts)
    if not accounts:
        return BalanceRefreshResult()
    answers = fetch_balances(accounts, **fetch_options)
    now = timezone.now()
    assets = {b.asset.upper() for answer in answers.values() if isinstance(answer, list) for b in answer}
    snapshots = prices.load_snapshots(s for a in assets for s in prices.usd_symbols(a))
    result = BalanceRefreshResult()
    for account in accounts:
        answer = answers.get(account.pk)
        if isinstance(answer, list):
            _store(account, answer, now, snapshots)
            result.refreshed.append(account.pk)
        else:
            error = scrub(str(answer)) if isinstance(answer, ExchangeError) else NO_ANSWER
            _mark_stale(account, error, now)
            result.failed[account.pk] = error
            logger.warning(
                "balance refresh failed; keeping the last good snapshot",
                extra={"account_id": account.pk, "exchange": account.exchange,
                       "error_code": getattr(answer, "code", "no_answer")},
            )
    return result


def _store(account: ExchangeAccount, balances: list[AssetBalance], now, snapshots: dict) -> None:
    rows = []
    for balance in balances:
        asset = balance.asset.upper()
        total = fifo.EXACT.add(balance.available, balance.locked)
        rate = prices.usd_rate(asset, account.exchange, snapshots)
        usd_value = None if rate is None else fifo.quantize(fifo.EXACT.multiply(total, rate.value))
        rows.append(BalanceSnapshot(
            account=account, asset=asset, available=balance.available, locked=balance.locked,
            total=total, usd_value=usd_value, taken_at=now,
        ))
    with transaction.atomic():
        BalanceSnapshot.objects.bulk_create(rows)
        BalanceRefresh.objects.update_or_create(
            account=account,
            defaults={"last_attempt_at": now, "last_success_at": now, "is_stale": False, "last_error": ""},
        )
        BalanceSnapshot.objects.filter(account=account, taken_at__lt=now - SNAPSHOT_RETENTION).delete()


def _mark_stale(account: ExchangeAccount, error: str, now) -> None:
    with transaction.atomic():
        BalanceRefresh.objects.update_or_create(
            account=account, defaults={"last_attempt_at": now, "is_stale": True, "last_error": error}
        )
