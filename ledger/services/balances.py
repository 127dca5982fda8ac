"""Refreshing balance snapshots in the background, so reading balances never waits on an exchange."""

from __future__ import annotations

import logging
import time
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
FLUSH_EVERY = 100  # answers stored per transaction
FLUSH_AFTER_S = 0.5  # or sooner, so a slow venue's accounts do not wait for a full batch
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

    accounts = ExchangeAccount.objects.select_related("wallet").order_by("pk")
    if account_ids is None:
        accounts = accounts.filter(bots__isnull=False).distinct()
    else:
        accounts = accounts.filter(pk__in=list(account_ids))
    accounts = list(accounts)
    if not accounts:
        return BalanceRefreshResult()
    by_id = {account.pk: account for account in accounts}
    result = BalanceRefreshResult()
    caller_on_result = fetch_options.pop("on_result", None)
    pending: list[tuple[int, object]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        last_flush = time.monotonic()
        if not pending:
            return
        batch = pending[:]
        pending.clear()
        now = timezone.now()
        assets = {b.asset.upper() for _, answer in batch if isinstance(answer, list) for b in answer}
        snapshots = prices.load_snapshots(s for a in assets for s in prices.usd_symbols(a))
        stored, stale = [], []
        for account_id, answer in batch:
            account = by_id[account_id]
            if isinstance(answer, list):
                stored.append((account, answer))
                result.refreshed.append(account_id)
            else:
                error = scrub(str(answer)) if isinstance(answer, ExchangeError) else NO_ANSWER
                stale.append((account, error))
                result.failed[account_id] = error
                logger.warning(
                    "balance refresh failed; keeping the last good snapshot",
                    extra={"account_id": account_id, "exchange": account.exchange,
                           "error_code": getattr(answer, "code", "no_answer")},
                )
        with transaction.atomic():  # a few queries and one commit per batch, not per account
            _store(stored, now, snapshots)
            _mark_stale(stale, now)

    def record(account_id: int, answer) -> None:
        # Called as each answer arrives (in this thread, outside any transaction) and stored in
        # small batches, so a hung venue never holds back the venues that answered.
        pending.append((account_id, answer))
        if len(pending) >= FLUSH_EVERY or time.monotonic() - last_flush >= FLUSH_AFTER_S:
            flush()
        if caller_on_result is not None:
            caller_on_result(account_id, answer)

    answers = fetch_balances(accounts, on_result=record, **fetch_options)
    for account_id in by_id.keys() - answers.keys():
        record(account_id, None)
    flush()
    return result


def _store(answers: list[tuple[ExchangeAccount, list[AssetBalance]]], now, snapshots: dict) -> None:
    if not answers:
        return
    rows = []
    for account, balances in answers:
        for balance in balances:
            asset = balance.asset.upper()
            total = fifo.EXACT.add(balance.available, balance.locked)
            rate = prices.usd_rate(asset, prices.venue_key(account.exchange, account.pk), snapshots)
            usd_value = None if rate is None else fifo.quantize(fifo.EXACT.multiply(total, rate.value))
            rows.append(BalanceSnapshot(
                account=account, asset=asset, available=balance.available, locked=balance.locked,
                total=total, usd_value=usd_value, taken_at=now,
            ))
    BalanceSnapshot.objects.bulk_create(rows)
    BalanceRefresh.objects.bulk_create(
        [BalanceRefresh(account=account, last_attempt_at=now, last_success_at=now, is_stale=False, last_error="")
         for account, _ in answers],
        update_conflicts=True, unique_fields=["account"],
        update_fields=["last_attempt_at", "last_success_at", "is_stale", "last_error"],
    )
    BalanceSnapshot.objects.filter(
        account__in=[account for account, _ in answers], taken_at__lt=now - SNAPSHOT_RETENTION
    ).delete()


def _mark_stale(failures: list[tuple[ExchangeAccount, str]], now) -> None:
    """The last good snapshots stay; the refresh row says they are stale and why."""
    if not failures:
        return
    BalanceRefresh.objects.bulk_create(
        [BalanceRefresh(account=account, last_attempt_at=now, is_stale=True, last_error=error)
         for account, error in failures],
        update_conflicts=True, unique_fields=["account"],
        update_fields=["last_attempt_at", "is_stale", "last_error"],
    )
