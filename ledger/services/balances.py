"""Refreshing balance snapshots in the background, so reading balances never waits on an exchange."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
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
SQLITE_TOLERANCE = Decimal("1e-15")


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


def _same(a, b) -> bool:
    """Two stored amounts are the same balance (SQLite keeps ~15 significant digits of a decimal)."""
    if a == b:
        return True
    return connection.vendor == "sqlite" and abs(a - b) <= max(abs(a), abs(b)) * SQLITE_TOLERANCE


def _unchanged(current: dict, balances: list[AssetBalance]) -> bool:
    """The venue reported the same assets with the same amounts as the current set."""
    amounts = {}
    for balance in balances:
        amounts[balance.asset.upper()] = (balance.available, balance.locked)
    if not current or amounts.keys() != current.keys():
        return False
    return all(
        _same(fifo.quantize(available), current[asset].available)
        and _same(fifo.quantize(locked), current[asset].locked)
        for asset, (available, locked) in amounts.items()
    )


def _store(answers: list[tuple[ExchangeAccount, list[AssetBalance]]], now, snapshots: dict) -> None:
    """A new snapshot set for each account whose amounts changed; the current set's heartbeat otherwise."""
    if not answers:
        return
    accounts = [account for account, _ in answers]
    BalanceRefresh.objects.bulk_create([BalanceRefresh(account=a) for a in accounts], ignore_conflicts=True)
    # Lock the accounts' refresh rows: two refreshes of one account compare and write one after the other.
    list(BalanceRefresh.objects.select_for_update().filter(account__in=accounts).order_by("account_id"))
    current: dict[int, dict[str, BalanceSnapshot]] = {}
    for row in BalanceSnapshot.objects.filter(
        account__in=accounts, confirmed_at=F("account__balance_refresh__last_success_at")
    ):
        current.setdefault(row.account_id, {})[row.asset] = row
    created, confirmed = [], []
    for account, balances in answers:
        venue = prices.venue_key(account.exchange, account.pk)
        rows = current.get(account.pk, {})
        keep = _unchanged(rows, balances)
        for balance in balances:
            asset = balance.asset.upper()
            total = fifo.EXACT.add(balance.available, balance.locked)
            rate = prices.usd_rate(asset, venue, snapshots)
            usd_value = None if rate is None else fifo.quantize(fifo.EXACT.multiply(total, rate.value))
            if keep:
                row = rows[asset]
                row.confirmed_at, row.usd_value = now, usd_value
                confirmed.append(row)
            else:
                created.append(BalanceSnapshot(
                    account=account, asset=asset, available=balance.available, locked=balance.locked,
                    total=total, usd_value=usd_value, taken_at=now, confirmed_at=now,
                ))
    if created:
        BalanceSnapshot.objects.bulk_create(created)
    if confirmed:
        BalanceSnapshot.objects.bulk_update(confirmed, ["confirmed_at", "usd_value"], batch_size=500)
    BalanceRefresh.objects.filter(account__in=accounts).update(
        last_attempt_at=now, last_success_at=now, is_stale=False, last_error=""
    )


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
