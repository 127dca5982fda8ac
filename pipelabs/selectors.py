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


# --- accounts and prices by name ------------------------------------------------------------------
NO_USD_MARKET = "no USD price: no price stored for any {asset} market"
ONLY_OTHER_QUOTES = "no USD price: {asset} is priced only against {quotes} ({symbols}), and there is no {wanted} price"
PRICED_SINCE = "no USD price at the last refresh; {symbol} has been priced since"
PRICE_TOO_OLD = "USD price older than {limit}: {symbol} taken {age}"


def venue_labels(keys) -> dict[str, str]:
    """Price venue keys as operators know them: 'paper:7' (one paper account's own prices) becomes
    'Demo client · paper:main'; an exchange id stays itself. One query for the paper accounts."""
    from exchanges.models import ExchangeAccount
    from pipelabs.display import account_label

    keys = set(keys)
    ids = {int(key.split(":", 1)[1]): key for key in keys
           if key.startswith("paper:") and key.split(":", 1)[1].isdigit()}
    labels = {key: key for key in keys}
    for account in ExchangeAccount.objects.filter(pk__in=list(ids)).select_related("client"):
        labels[ids[account.pk]] = account_label(account)
    for pk, key in ids.items():
        if labels[key] == key:
            labels[key] = f"paper account {pk} (deleted)"
    return labels


def account_balances(account) -> tuple[list[dict], dict[str, dict]]:
    """The account's latest balances (ledger.selectors.current_balances) and usd_notes for their assets."""
    from ledger.selectors import current_balances

    rows = current_balances([account.pk])
    return rows, usd_notes(row["asset"] for row in rows)


def usd_notes(assets, now=None) -> dict[str, dict]:
    """For each of ``assets``: ``missing``, why a balance of it has no USD value, and ``stale``, set
    when its newest USD price is past USD_RATE_MAX_AGE_S (a value shown rests on an old price).
    USD stablecoins are left out. One query whatever the number of assets.

    The ledger values an asset through ASSET/USDT, ASSET/USDC or ASSET/USD (ledger.prices.usd_rate);
    a market against another quote (SOL, BTC) gives no USD value, and the note says so.
    """
    from django.db.models import Q

    from ledger import prices
    from ledger.models import PriceSnapshot
    from pipelabs.display import age, duration

    now = now or timezone.now()
    assets = sorted({a.upper() for a in assets if a and not prices.is_usd_stable(a)})
    if not assets:
        return {}
    query = Q()
    for asset in assets:
        query |= Q(symbol__startswith=f"{asset}/")
    stored: dict[str, list] = {}
    for snapshot in PriceSnapshot.objects.filter(query).only("symbol", "exchange", "taken_at"):
        stored.setdefault(snapshot.symbol.split("/", 1)[0], []).append(snapshot)
    limit = prices.max_age("USD_RATE_MAX_AGE_S")
    notes = {}
    for asset in assets:
        snapshots = stored.get(asset, [])
        usd = [s for s in snapshots if s.symbol in prices.usd_symbols(asset)]
        stale = None
        if usd:
            newest = max(usd, key=lambda s: s.taken_at)
            if now - newest.taken_at > limit:
                stale = PRICE_TOO_OLD.format(limit=duration(limit), symbol=newest.symbol, age=age(newest.taken_at, now))
            missing = stale or PRICED_SINCE.format(symbol=newest.symbol)
        elif snapshots:
            symbols = sorted({s.symbol for s in snapshots})
            missing = ONLY_OTHER_QUOTES.format(
                asset=asset, quotes=", ".join(sorted({s.split("/", 1)[1] for s in symbols})),
                symbols=", ".join(symbols), wanted=" or ".join(prices.usd_symbols(asset)))
        else:
            missing = NO_USD_MARKET.format(asset=asset)
        notes[asset] = {"missing": missing, "stale": stale}
    return notes
