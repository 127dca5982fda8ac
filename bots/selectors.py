"""What the API reads about bots: scoped to the caller, a fixed number of queries per list."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from bots.models import Bot

# The frontend knows three statuses; the lifecycle's others map onto them.
API_STATUS = {
    Bot.Status.RUNNING: "running",
    Bot.Status.CREATED: "stopped",
    Bot.Status.STOPPING: "stopped",
    Bot.Status.STOPPED: "stopped",
    Bot.Status.PAUSED: "stopped",
    Bot.Status.ERROR: "error",
}


def api_status(bot: Bot) -> str:
    """running, stopped or error: the word the frontend shows (``bot.status`` keeps the detail)."""
    return API_STATUS.get(bot.status, "stopped")


def health(bot: Bot) -> dict:
    """``health_status`` and ``health_message``: why the bot is not trading, in the frontend's words
    ("Missing API", "Insufficient", "Trade skipped", "NO FUNDS", "NO GAS"); the error's own words
    when it is in error."""
    if bot.status == Bot.Status.ERROR:
        return {"health_status": Bot.Health.ERROR, "health_message": bot.error_message or bot.health_message}
    if bot.status == Bot.Status.PAUSED:
        return {"health_status": Bot.Health.WARNING, "health_message": bot.status_reason or "Paused."}
    return {"health_status": bot.health_status, "health_message": bot.health_message}


BOT_NOT_FOUND = "Bot not found."
# A running bot whose engine has not beaten for BOT_STALE_AFTER_S is "stale".
HEALTHY, STALE, ERROR, STOPPED, STARTING, WARNING = "healthy", "stale", "error", "stopped", "starting", "warning"


def bots_for(principal, *, account: str | None = None, bot_type: str | None = None, status: str | None = None,
             client_id: int | None = None):
    """The bots the caller may see: its own, or every client's for an admin; filters on top."""
    queryset = Bot.objects.select_related("account")
    if not principal.sees_all_clients:
        queryset = queryset.filter(client_id=principal.client_id)
    elif client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if account:
        queryset = queryset.filter(Q(account__name=account) | Q(client__account_identifier=account)) \
            if principal.sees_all_clients else queryset.filter(account__name=account)
    if bot_type:
        queryset = queryset.filter(bot_type=bot_type)
    if status in API_STATUS.values():
        # The API's word covers the lifecycle states that map onto it (paused reads "stopped").
        queryset = queryset.filter(status__in=[state for state, word in API_STATUS.items() if word == status])
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


def health_of(bot: Bot, now=None) -> tuple[str, str]:
    """(health, message) for the API from the bot's own row: the engine's words (``health``) and
    its heartbeat's age. A running bot is healthy, warning (not trading for now, and why), starting
    (no heartbeat yet) or stale (the engine has not beaten for BOT_STALE_AFTER_S)."""
    words = health(bot)
    if bot.status == Bot.Status.ERROR:
        return ERROR, words["health_message"] or bot.status_reason or "The bot stopped on an error."
    if bot.status != Bot.Status.RUNNING:
        return STOPPED, words["health_message"] or bot.status_reason
    if bot.heartbeat_at is None:
        return STARTING, "Waiting for the engine's first heartbeat."
    age = ((now or timezone.now()) - bot.heartbeat_at).total_seconds()
    if age > settings.BOT_STALE_AFTER_S:
        return STALE, f"No heartbeat for {int(age)} s."
    if words["health_status"] != Bot.Health.OK:
        return WARNING, words["health_message"]
    return HEALTHY, words["health_message"]


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
