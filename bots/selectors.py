"""What the API reads about bots: scoped to the caller, a fixed number of queries per list."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from bots.models import Bot

BOT_NOT_FOUND = "Bot not found."
# A running bot whose engine has not beaten for BOT_STALE_AFTER_S is "stale".
HEALTHY, STALE, ERROR, STOPPED, STARTING = "healthy", "stale", "error", "stopped", "starting"


def bots_for(principal, *, account: str | None = None, bot_type: str | None = None, status: str | None = None,
             client_id: int | None = None):
    """The bots the caller may see: its own, or every client's for an admin; filters on top."""
    queryset = Bot.objects.select_related("account")
    if not principal.is_admin:
        queryset = queryset.filter(client_id=principal.client_id)
    elif client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if account:
        queryset = queryset.filter(Q(account__name=account) | Q(client__account_identifier=account)) \
            if principal.is_admin else queryset.filter(account__name=account)
    if bot_type:
        queryset = queryset.filter(bot_type=bot_type)
    if status == STOPPED:
        queryset = queryset.filter(status__in=[Bot.Status.STOPPED, Bot.Status.CREATED])
    elif status:
        queryset = queryset.filter(status=status)
    return queryset


def access_bot(principal, bot_id) -> Bot:
    """The caller's bot (any bot for an admin); another client's bot is a 404, never a 403."""
    try:
        bot_id = int(bot_id)
    except (TypeError, ValueError):
        raise Http404(BOT_NOT_FOUND) from None
    if not 0 < bot_id < 2**63:
        raise Http404(BOT_NOT_FOUND)
    bot = bots_for(principal).filter(pk=bot_id).first()
    if bot is None:
        raise Http404(BOT_NOT_FOUND)
    return bot


def wire_status(bot: Bot) -> str:
    """The frontend knows running / stopped / error / stopping / paused; a never-started bot is stopped."""
    return Bot.Status.STOPPED if bot.status == Bot.Status.CREATED else bot.status


def health_of(bot: Bot, now=None) -> tuple[str, str]:
    """(health, message) from the bot's own row: the engine's heartbeat and its last error."""
    now = now or timezone.now()
    if bot.status == Bot.Status.ERROR:
        return ERROR, bot.error_message or bot.status_reason or "The bot stopped on an error."
    if bot.status != Bot.Status.RUNNING:
        return STOPPED, bot.status_reason
    if bot.heartbeat_at is None:
        return STARTING, "Waiting for the engine's first heartbeat."
    age = (now - bot.heartbeat_at).total_seconds()
    if age > settings.BOT_STALE_AFTER_S:
        return STALE, f"No heartbeat for {int(age)} s."
    return HEALTHY, bot.error_message


def health_summary(principal, now=None) -> dict:
    """Counts per status and per health for the caller's bots, in one query."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.BOT_STALE_AFTER_S)
    running = Q(status=Bot.Status.RUNNING)
    counts = bots_for(principal).aggregate(
        total=Count("id"),
        running=Count("id", filter=running),
        stopped=Count("id", filter=Q(status__in=[Bot.Status.STOPPED, Bot.Status.CREATED])),
        stopping=Count("id", filter=Q(status=Bot.Status.STOPPING)),
        paused=Count("id", filter=Q(status=Bot.Status.PAUSED)),
        error=Count("id", filter=Q(status=Bot.Status.ERROR)),
        stale=Count("id", filter=running & (Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))),
    )
    counts["healthy"] = counts["running"] - counts["stale"]
    counts["checked_at"] = now
    return counts
