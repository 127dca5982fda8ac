"""What the operators' screens read beyond one model's rows: the dashboard (the admin's index) and a
client's totals. A handful of queries each, whatever the number of bots; no venue call."""
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from bots.models import Bot, KillSwitch
from ledger import fifo
from ledger.models import BalanceRefresh
from ledger.selectors import pnl_for_bots, volume_for_bots
from pipelabs.models import AuditEvent, WorkerHeartbeat

ALERT_ACTIONS = ("kill_switch.on", "kill_switch.off", "bot.error", "safety.stop", "safety.refused")
RECENT = 10


def _sum(values):
    """Exact sum of the figures that exist, and how many were missing (no USD price, no mark)."""
    known = [v for v in values if v is not None]
    total = fifo.from_units(sum(fifo.to_units(v) for v in known)) if known else fifo.from_units(0)
    return total, len(values) - len(known)


def money_for_bots(bots, now) -> dict:
    """24h volume and realized / unrealized P&L in USD over ``bots``, and how many lacked a USD figure."""
    volume = volume_for_bots(bots, now=now)
    pnl = pnl_for_bots(bots, now=now)
    volume_usd, volume_missing = _sum([v["usd_volume"] for v in volume.values()])
    realized, realized_missing = _sum([(p["usd"] or {}).get("realized") for p in pnl.values()])
    unrealized, unrealized_missing = _sum([(p["usd"] or {}).get("unrealized") for p in pnl.values()])
    return {"volume_24h_usd": volume_usd, "volume_missing": volume_missing, "realized_usd": realized,
            "unrealized_usd": unrealized, "pnl_missing": max(realized_missing, unrealized_missing)}


def client_totals(client, now=None) -> dict:
    """A client's bots per status (labels, in the status order) and their money, as money_for_bots."""
    now = now or timezone.now()
    bots = list(Bot.objects.filter(client=client).select_related("account"))
    counts = {status: 0 for status in Bot.Status.values}
    for bot in bots:
        counts[bot.status] += 1
    return {
        "bots": [(Bot.Status(status).label, count) for status, count in counts.items() if count],
        "bot_count": len(bots),
        # Never-started bots have no trades, hence no figures (the dashboard counts the same way).
        **money_for_bots([b for b in bots if b.status != Bot.Status.CREATED], now),
    }


def dashboard(now=None) -> dict:
    from django_q.models import Failure

    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.BOT_STALE_AFTER_S)
    running = Q(status=Bot.Status.RUNNING)
    counts = Bot.objects.aggregate(
        total=Count("id"),
        running=Count("id", filter=running),
        stopped=Count("id", filter=Q(status__in=[Bot.Status.CREATED, Bot.Status.STOPPED, Bot.Status.STOPPING,
                                                 Bot.Status.PAUSED])),
        error=Count("id", filter=Q(status=Bot.Status.ERROR)),
        stale=Count("id", filter=running & (Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))),
    )
    bots = list(Bot.objects.select_related("account").exclude(status=Bot.Status.CREATED))
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    switch = KillSwitch.objects.filter(pk=1).first()
    return {
        "bots": counts,
        **money_for_bots(bots, now),
        "stale_accounts": list(BalanceRefresh.objects.filter(is_stale=True).select_related("account__client")
                               .order_by("-last_attempt_at")[:RECENT]),
        "alerts": list(AuditEvent.objects.filter(action__in=ALERT_ACTIONS).order_by("-created_at")[:RECENT]),
        "failed_tasks": list(Failure.objects.order_by("-stopped")[:RECENT]),
        "heartbeat": heartbeat,
        "heartbeat_stale": heartbeat is None
        or (now - heartbeat.seen_at).total_seconds() > settings.WORKER_STALE_AFTER_S,
        "kill_switch": switch,
        "now": now,
    }
