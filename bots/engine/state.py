"""The engine's memory of a bot between ticks, kept in Bot.state (JSON), never in process memory.

Baselines the earlier system lost on every restart live here: the day's P&L start, the
circuit breaker's session price, the side streak, the next trade's time; the day's volume and
side balance come from the bot's booked trades (the venue's fills), not from a counter.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum

from bots.strategies.types import BotState

MIDS_KEPT = 20


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _time(value) -> datetime | None:
    return None if not value else datetime.fromisoformat(value)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def day_figures(bot, now: datetime) -> tuple[Decimal, Decimal]:
    """(quote bought, quote sold) today (UTC), from the bot's booked trades."""
    from ledger.models import BotTrade

    start = day_start(now)
    sums = BotTrade.objects.filter(bot=bot, traded_at__gte=start, traded_at__lt=start + timedelta(days=1)).aggregate(
        bought=Sum("cost", filter=Q(side="buy")), sold=Sum("cost", filter=Q(side="sell")))
    return sums["bought"] or Decimal(0), sums["sold"] or Decimal(0)


def realized(bot) -> Decimal:
    from ledger.models import PnlState

    row = PnlState.objects.filter(bot=bot).values_list("realized_pnl", "fees_quote").first()
    return (row[0] or Decimal(0)) if row else Decimal(0)


def config_digest(config) -> str:
    return hashlib.blake2b(json.dumps(config or {}, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def load(bot, now: datetime, mid: Decimal | None, *, pnl_now: Decimal | None = None,
         day_volume: bool = True) -> tuple[BotState, dict]:
    """The strategy's BotState and the updated raw state (day rolled, baselines set)."""
    raw = dict(bot.state or {})
    today = day_start(now).date().isoformat()
    pnl_now = realized(bot) if pnl_now is None else pnl_now
    if raw.get("day") != today:
        raw.update(day=today, day_realized_start=str(pnl_now))
    if raw.get("session_started_at") != (bot.started_at.isoformat() if bot.started_at else None):
        raw.update(session_started_at=bot.started_at.isoformat() if bot.started_at else None,
                   session_start_price=str(mid) if mid is not None else None)
    elif raw.get("session_start_price") is None and mid is not None:
        raw["session_start_price"] = str(mid)
    digest = config_digest(bot.config)
    config_changed = raw.get("config_digest") not in (None, digest)
    raw["config_digest"] = digest
    # Only the volume and DEX strategies steer by the day's volume; a spread bot skips the query.
    bought, sold = day_figures(bot, now) if day_volume else (Decimal(0), Decimal(0))
    state = BotState(
        bot_id=bot.pk,
        next_trade_at=_time(raw.get("next_trade_at")),
        day_bought_quote=bought,
        day_sold_quote=sold,
        day_pnl_quote=pnl_now - Decimal(raw.get("day_realized_start") or 0),
        last_side=raw.get("last_side"),
        same_side_count=int(raw.get("same_side_count") or 0),
        session_start_price=_decimal(raw.get("session_start_price")),
        recent_mids=tuple(Decimal(m) for m in raw.get("recent_mids", [])),
        twap_done_base=Decimal(raw.get("twap_done_base") or 0),
        config_changed=config_changed,
    )
    return state, raw


def remember(raw: dict, *, mid: Decimal | None, next_trade_at: datetime | None, placed_sides: list[str],
             placed_base: Decimal) -> dict:
    raw = dict(raw)
    if mid is not None:
        raw["recent_mids"] = [*raw.get("recent_mids", []), str(mid)][-MIDS_KEPT:]
    raw["next_trade_at"] = next_trade_at.isoformat() if next_trade_at else None
    for side in placed_sides:
        if side == raw.get("last_side"):
            raw["same_side_count"] = int(raw.get("same_side_count") or 0) + 1
        else:
            raw["last_side"], raw["same_side_count"] = side, 1
    raw["twap_done_base"] = str(Decimal(raw.get("twap_done_base") or 0) + placed_base)
    return raw
