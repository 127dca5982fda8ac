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
from ledger.services.ingest import ingest_trades

logger = logging.getLogger(__name__)

PAGE_LIMIT = 500
MAX_PAGES = 10_000
# Re-read a little before the cursor: a fill stamped just before the last one may land late.
CURSOR_OVERLAP = timedelta(minutes=5)


@dataclass
class SyncResult:
    fetched: int = 0
    new: int = 0
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
    """Fetch the bot's fills from ``since`` (default: a little before its cursor) up to ``until``.

    Each page is fetched outside any transaction and ingested in its own short one, so an error
    part-way keeps what was stored; the error is recorded on the cursor and raised.
    """
    from exchanges.registry import connector_for  # the exchange layer; imported late on purpose

    cursor, _ = TradeSyncCursor.objects.get_or_create(bot=bot)
    start = since
    if start is None and cursor.last_trade_at is not None:
        start = cursor.last_trade_at - CURSOR_OVERLAP
    result = SyncResult()
    connector = connector_for(bot.account)
    try:
        while result.pages < MAX_PAGES:
            fills = connector.fetch_my_trades(bot.symbol, since=start, limit=page_limit)
            result.pages += 1
            result.fetched += len(fills)
            kept = [f for f in fills if (since is None or f.traded_at >= since) and (until is None or f.traded_at <= until)]
            result.new += ingest_trades(bot, kept)
            if kept:
                newest = max(f.traded_at for f in kept)
                result.last_trade_at = max(newest, result.last_trade_at or newest)
            if progress is not None:
                progress(result)
            if len(fills) < page_limit:
                break
            newest = max(f.traded_at for f in fills)
            if until is not None and newest > until:
                break
            # A full page of one millisecond would repeat forever: step past it.
            start = newest if start is None or newest > start else start + timedelta(milliseconds=1)
    except ExchangeError as exc:
        _record(cursor, result, error=str(exc))
        raise
    finally:
        connector.close()
    _record(cursor, result, error="")
    return result


def _record(cursor: TradeSyncCursor, result: SyncResult, *, error: str) -> None:
    now = timezone.now()
    if error:
        TradeSyncCursor.objects.filter(pk=cursor.pk).update(last_error=error, updated_at=now)
    else:
        TradeSyncCursor.objects.filter(pk=cursor.pk).update(last_synced_at=now, last_error="", updated_at=now)
    if result.last_trade_at is not None:
        # Only forward: a backfill of an old range must not move the cursor back.
        TradeSyncCursor.objects.filter(pk=cursor.pk).filter(
            Q(last_trade_at__isnull=True) | Q(last_trade_at__lt=result.last_trade_at)
        ).update(last_trade_at=result.last_trade_at)
