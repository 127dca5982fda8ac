"""django-q2 entry points for the ledger: thin, safe to run twice, and raising on failure."""

import logging
from datetime import timedelta

from django.conf import settings

from bots.models import Bot
from ledger import services

logger = logging.getLogger(__name__)

BALANCES_FAILED = "Balance refresh failed for accounts {ids}; their last good snapshots are kept and marked stale."
PRICES_FAILED = "Price refresh failed for {count} symbol(s): {failures}"


def refresh_balances_task(account_ids=None) -> list[int]:
    """Refresh balance snapshots (default: every account a bot uses); raise if any account failed."""
    result = services.refresh_balances(account_ids)
    if result.failed:
        raise RuntimeError(BALANCES_FAILED.format(ids=sorted(result.failed)))
    return result.refreshed


def sync_trades_task(bot_id: int) -> int:
    """Fetch and ingest the bot's new fills; returns how many were new."""
    bot = Bot.objects.select_related("account").get(pk=bot_id)
    return services.sync_trades(bot).new


SYNC_CLAIM = "ledger:sync-trades:{bot_id}"


def sync_stale_s() -> float:
    """A bot synced more recently than this needs no scheduled sync: its ticks read its fills every
    BOT_SYNC_EVERY_S (60 s) and whenever an order fills, so twice that means its ticks are not."""
    return 2 * float(getattr(settings, "BOT_SYNC_EVERY_S", 60))


def bots_needing_sync():
    """Bots whose fills no tick is reading: running (or paused, its orders still resting) or holding
    live orders (kept on stop), and not synced for ``sync_stale_s()`` (never, or their ticks stall)."""
    from django.db.models import Q
    from django.utils import timezone

    from bots.models import Order

    cutoff = timezone.now() - timedelta(seconds=sync_stale_s())
    holding = Q(status__in=(Bot.Status.RUNNING, Bot.Status.PAUSED)) | Q(
        pk__in=Order.objects.filter(status__in=Order.LIVE, bot__isnull=False).values("bot_id"))
    stale = Q(trade_cursor__isnull=True) | Q(trade_cursor__last_synced_at__isnull=True) | Q(
        trade_cursor__last_synced_at__lt=cutoff)
    return Bot.objects.filter(holding).filter(stale).order_by("pk")


def enqueue_trade_syncs() -> int:
    """Queue one sync per bot that needs one (``bots_needing_sync``), skipping bots whose previous
    sync is still queued or running. A ticking bot syncs in its ticks; repeating that here would
    only double the venue's trade reads.

    One task per bot keeps each within the cluster's timeout however many bots there are.
    """
    from django.core.cache import cache
    from django_q.tasks import async_task

    queued = 0
    for bot_id in bots_needing_sync().values_list("pk", flat=True):
        # The claim expires with the task's retry window, so a lost task never blocks the bot.
        if cache.add(SYNC_CLAIM.format(bot_id=bot_id), 1, timeout=settings.Q_CLUSTER["retry"]):
            async_task("ledger.tasks.sync_claimed_trades_task", bot_id)
            queued += 1
    return queued


def sync_claimed_trades_task(bot_id: int) -> int:
    """sync_trades_task, releasing the enqueue claim whatever happens."""
    from django.core.cache import cache

    try:
        return sync_trades_task(bot_id)
    finally:
        cache.delete(SYNC_CLAIM.format(bot_id=bot_id))


def sync_all_trades_task() -> int:
    """Sync every running bot's fills, one after another; raise at the end if any failed."""
    failed, new = [], 0
    for bot in Bot.objects.select_related("account").filter(status=Bot.Status.RUNNING).order_by("pk"):
        try:
            new += services.sync_trades(bot).new
        except Exception:  # noqa: BLE001  one bot's exchange failing must not starve the others
            logger.exception("trade sync failed", extra={"bot_id": bot.pk})
            failed.append(bot.pk)
    if failed:
        raise RuntimeError(f"Trade sync failed for bots {failed}.")
    return new


def refresh_prices_task(bot_ids=None) -> int:
    """Refresh the stored prices every bot needs, then value fees that waited for one; raise if any symbol failed."""
    from ledger.services.fees import convert_pending_fees

    result = services.refresh_prices(bot_ids)
    if result.stored:
        convert_pending_fees(bot_ids)
    if result.failed:
        failures = "; ".join(
            f"{symbol} at {venue}: {reason}" for (venue, symbol), reason in sorted(result.failed.items())
        )
        raise RuntimeError(PRICES_FAILED.format(count=len(result.failed), failures=failures))
    return len(result.stored)


def prune_task() -> dict:
    """Prune balance snapshots and price history older than PRUNE_AFTER_DAYS."""
    from ledger.services.snapshots import prune

    result = prune()
    return {"balance_snapshots": result.balance_snapshots, "price_history": result.price_history}
