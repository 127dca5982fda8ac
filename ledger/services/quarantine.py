"""Fills a venue reported that cannot be booked: kept once, with their raw data and the reason."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import fields
from datetime import datetime

from django.core.exceptions import ValidationError

from bots.models import Bot
from ledger.models import QuarantinedFill

logger = logging.getLogger(__name__)

UNREADABLE = "Trade {trade_id}: unreadable fill ({error})."


def raw_data(fill) -> dict:
    """The fill as plain JSON: Decimals and times as exact text, anything else as its repr."""
    if not hasattr(fill, "__dataclass_fields__"):
        return {"value": repr(fill)[:2000]}
    raw = {}
    for f in fields(fill):
        value = getattr(fill, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (str, int, bool)):
            value = str(value)
        raw[f.name] = value[:2000] if isinstance(value, str) else value
    return raw


def unbooked(bot: Bot, fill, exc: Exception) -> QuarantinedFill:
    if isinstance(exc, ValidationError):
        code, reason = exc.code or "trade_invalid", " ".join(exc.messages)
    else:
        trade_id = str(getattr(fill, "exchange_trade_id", "") or "")[:128]
        code, reason = "trade_unreadable", UNREADABLE.format(trade_id=trade_id, error=f"{type(exc).__name__}: {exc}")
    raw = raw_data(fill)
    text = json.dumps(raw, sort_keys=True)
    return QuarantinedFill(
        bot=bot, account_id=bot.account_id, exchange_trade_id=str(raw.get("exchange_trade_id") or "")[:128],
        raw=raw, code=code[:40], reason=reason[:2000], fingerprint=hashlib.sha256(text.encode()).hexdigest(),
    )


def store(bad: list[QuarantinedFill]) -> int:
    """Keep each bad fill once (a re-read page brings it again); returns how many were new."""
    if not bad:
        return 0
    known = set(
        QuarantinedFill.objects.filter(bot_id=bad[0].bot_id, fingerprint__in=[q.fingerprint for q in bad])
        .values_list("fingerprint", flat=True)
    )
    fresh = {q.fingerprint: q for q in bad if q.fingerprint not in known}
    QuarantinedFill.objects.bulk_create(list(fresh.values()), ignore_conflicts=True)
    for q in fresh.values():
        logger.warning("Quarantined fill %r of bot %s: %s", q.exchange_trade_id, q.bot_id, q.reason)
    return len(fresh)
