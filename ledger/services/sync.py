"""Fetching a bot's own fills from its exchange and ingesting them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from bots.models import Bot
from exchanges.errors import ExchangeError
from ledger.models import TradeSyncCursor
from ledger.services.ingest import ingest_fills
from pipelabs.logging import scrub

logger = logging.getLogger(__name__)

PAGE_LIMIT = 500
MAX_PAGES = 10_000
# A full page of fills at one instant is re-read with a larger limit up to this, never stepped past.
MAX_PAGE_LIMIT = 64 * PAGE_LIMIT
# Re-read a little before the cursor: a fill stamped just before the last one may land late.
CURSOR_OVERLAP = timedelta(minutes=5)
STUCK_AT_ONE_INSTANT = "More than {count} fills at {at}; cannot page past them without losing some"


@dataclass
class SyncResult:
    fetched: int = 0
    new: int = 0
    quarantined: int = 0
    pages: int = 0
    last_trade_at: datetime | None = None


def sync_trades(
    bot: Bot,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    page_limit: int = PAGE_LIMIT,
    progress: Callable[[SyncResult], None] | None = None,
) -> SyncResult:
    """Fetch the bot's fills from ``since`` up to ``until`` and store them.

    ``since`` defaults to a little before the cursor or, on the first sync, a little before the
    bot was created (its fills cannot predate it; the sync_trades command's --since reaches older,
    imported history). Each page is fetched outside any transaction and ingested in its own short
    one, so an error part-way keeps what was stored. The cursor moves after each page, only forward
    and only over fills stored without a gap (never when this read began after it), so a backlog
    of any size drains over successive syncs. Any error is recorded on
    the cursor (``last_error``) and raised.
    """
    from exchanges.registry import connector_for  # the exchange layer; imported late on purpose

    cursor, _ = TradeSyncCursor.objects.get_or_create(bot=bot)
    covered_to = cursor.last_trade_at or bot.created_at - CURSOR_OVERLAP
    start = since if since is not None else (cursor.last_trade_at or bot.created_at) - CURSOR_OVERLAP
    # A read that begins after the point the cursor stands for leaves fills between them unread.
    contiguous = start <= covered_to
    result = SyncResult()
    limit = page_limit
    connector = None
    try:
        connector = connector_for(bot.account)
        while result.pages < MAX_PAGES:
            fills = connector.fetch_my_trades(bot.symbol, since=start, limit=limit)
            result.pages += 1
            result.fetched += len(fills)
            kept = _in_range(fills, start, until)
            ingested = ingest_fills(bot, kept)
            result.new += ingested.new
            result.quarantined += ingested.quarantined
            timed = _timed(kept)
            if timed:
                newest = max(f.traded_at for f in timed)
                result.last_trade_at = max(newest, result.last_trade_at or newest)
            if contiguous and result.last_trade_at is not None:
                _advance(cursor, result.last_trade_at)  # per page: a sync cut short keeps what it drained
            if progress is not None:
                progress(result)
            if len(fills) < limit or not _timed(fills):
                break
            newest = max(f.traded_at for f in _timed(fills))
            if until is not None and newest > until:
                break
            if newest > start:
                # Inclusive: fills of the newest instant cut off by the limit are read next time.
                start, limit = newest, page_limit
            elif limit < MAX_PAGE_LIMIT:
                limit *= 2  # a full page of one instant: read it whole rather than step past it
            else:
                raise ExchangeError(
                    STUCK_AT_ONE_INSTANT.format(count=len(fills), at=newest.isoformat()),
                    exchange=bot.account.exchange, code="too_many_trades",
                )
    except Exception as exc:
        _record(cursor, result.last_trade_at if contiguous else None, error=_error_text(exc))
        raise
    finally:
        if connector is not None:
            connector.close()
    _record(cursor, result.last_trade_at if contiguous else None, error="")
    return result


def _timed(fills: list) -> list:
    """The fills with a usable time (aware datetime); the others can only be quarantined."""
    return [f for f in fills if isinstance(f.traded_at, datetime) and not timezone.is_naive(f.traded_at)]


def _in_range(fills: list, start: datetime, until: datetime | None) -> list:
    """Fills in [start, until], plus those without a usable time: ingest quarantines them."""
    timed = set(map(id, _timed(fills)))
    return [
        f for f in fills
        if id(f) not in timed or (f.traded_at >= start and (until is None or f.traded_at <= until))
    ]


def _error_text(exc: Exception) -> str:
    # Domain errors carry the venue's (masked) words; anything else says what it was too.
    text = str(exc) if isinstance(exc, ExchangeError) else f"{type(exc).__name__}: {exc}"
    return scrub(text)[:2000] or type(exc).__name__


def _record(cursor: TradeSyncCursor, last_trade_at: datetime | None, *, error: str) -> None:
    now = timezone.now()
    if error:
        TradeSyncCursor.objects.filter(pk=cursor.pk).update(last_error=error, updated_at=now)
    else:
        TradeSyncCursor.objects.filter(pk=cursor.pk).update(last_synced_at=now, last_error="", updated_at=now)
    if last_trade_at is not None:
        _advance(cursor, last_trade_at)


def _advance(cursor: TradeSyncCursor, last_trade_at: datetime) -> None:
    # Only forward: a backfill of an old range must not move the cursor back.
    TradeSyncCursor.objects.filter(pk=cursor.pk).filter(
        Q(last_trade_at__isnull=True) | Q(last_trade_at__lt=last_trade_at)
    ).update(last_trade_at=last_trade_at)
