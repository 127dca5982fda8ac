"""Exact time windows over rollups: whole buckets in the middle, trades by time at the two edges.

A window ``[since, now]`` is cut into
* the partial hours at each end (``[since, next whole hour)`` and ``[this hour, now]``), summed
  from the trades themselves;
* the whole hours between (7 days or less), or whole hours up to the first and from the last
  whole day plus whole days between (longer windows), summed from the rollups.
Each part is read with one query per kind (trades, hourly rows, daily rows), so a window costs
the same few queries whatever the minute and the number of trades; several windows share them.

Realized P&L is kept per hour, not per trade, so a window's ``realized_pnl`` counts the hours
that start inside it, the current one included (``realized_since`` says from when).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Q

from ledger import fifo
from ledger.models import BotTrade, DailyRollup, HourlyRollup
from ledger.rollups import COUNTS, SUMS, Bucket, day_start, hour_start

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Windows up to this long are summed from hourly buckets, longer ones mostly from daily buckets.
HOURLY_UP_TO = timedelta(days=7)
TRADE_FIELDS = ("bot_id", "traded_at", "side", "amount", "price", "cost", "fee", "fee_currency", "fee_quote")

Range = tuple[datetime | None, datetime | None]  # [start, end): None is open


def ceil_hour(moment: datetime) -> datetime:
    start = hour_start(moment)
    return start if start == moment else start + HOUR


def ceil_day(moment: datetime) -> datetime:
    start = day_start(moment)
    return start if start == moment else start + DAY


@dataclass(frozen=True)
class Plan:
    """How one window ``[since, until]`` is read: trade ranges, hourly and daily bucket ranges."""

    since: datetime | None
    until: datetime
    trades: tuple[Range, ...] = ()  # [start, end), the last one closed at ``until``
    hourly: tuple[Range, ...] = ()  # bucket_start ranges summed whole
    daily: tuple[Range, ...] = ()
    realized_hours: tuple[Range, ...] = ()  # hourly buckets that only give their realized P&L
    realized_since: datetime | None = None


def plan(since: datetime | None, until: datetime) -> Plan:
    if since is None:  # everything: every daily bucket, trades in the future included
        return Plan(None, until, daily=((None, None),))
    this_hour = hour_start(until)
    first_hour = ceil_hour(since)
    realized = ((first_hour, this_hour + HOUR),) if first_hour <= this_hour else ()
    if first_hour > this_hour:  # within one hour: trades only
        return Plan(since, until, trades=((since, until),), realized_since=first_hour)
    trades = ((since, first_hour), (this_hour, until))
    first_day, this_day = ceil_day(since), day_start(until)
    if until - since <= HOURLY_UP_TO or first_day >= this_day:
        return Plan(since, until, trades=trades, hourly=((first_hour, this_hour),), realized_hours=realized,
                    realized_since=first_hour)
    return Plan(
        since, until, trades=trades,
        hourly=((first_hour, first_day), (this_day, this_hour)),
        daily=((first_day, this_day),),
        realized_hours=((first_hour, first_day), (this_day, this_hour + HOUR)),
        realized_since=first_hour,
    )


def _inside(moment: datetime, ranges, closed_end: datetime | None = None) -> bool:
    for start, end in ranges:
        if (start is None or moment >= start) and (end is None or moment < end or moment == closed_end):
            return True
    return False


def _q(field: str, ranges, closed_end: datetime | None = None) -> Q:
    """An OR of the ranges (one query however many edges); an open range means everything."""
    parts = []
    for start, end in ranges:
        if start is None and end is None:
            return Q()
        part = Q()
        if start is not None:
            part &= Q(**{f"{field}__gte": start})
        if end is not None:
            part &= Q(**{f"{field}__lte" if end == closed_end else f"{field}__lt": end})
        parts.append(part)
    return reduce(or_, parts)


@dataclass
class Rows:
    """What a set of plans needs, per bot: trades, hourly rows and daily rows (three queries at most)."""

    trades: dict
    hourly: dict
    daily: dict


def load(bot_ids: list[int], plans: list[Plan]) -> Rows:
    """One query per kind for every plan at once (an OR of their ranges)."""
    rows = Rows({b: [] for b in bot_ids}, {b: [] for b in bot_ids}, {b: [] for b in bot_ids})
    until = plans[0].until
    trade_ranges = [r for p in plans for r in p.trades]
    if trade_ranges:
        query = BotTrade.objects.filter(_q("traded_at", trade_ranges, until), bot_id__in=bot_ids)
        for row in query.order_by().values_list(*TRADE_FIELDS):
            rows.trades[row[0]].append(row)
    hourly_ranges = [r for p in plans for r in (*p.hourly, *p.realized_hours) if r[0] != r[1]]
    if hourly_ranges:
        for row in HourlyRollup.objects.filter(_q("bucket_start", hourly_ranges), bot_id__in=bot_ids):
            rows.hourly[row.bot_id].append(row)
    daily_ranges = [r for p in plans for r in p.daily]
    if daily_ranges:
        for row in DailyRollup.objects.filter(_q("bucket_start", daily_ranges), bot_id__in=bot_ids):
            rows.daily[row.bot_id].append(row)
    return rows


def sums(window: Plan, bot, rows: Rows) -> dict:
    """The window's counts and sums for one bot (Decimals; ``unconverted_fees`` per currency)."""
    totals = {name: 0 for name in (*COUNTS, *SUMS)}
    unconverted: dict[str, int] = {}

    def add_row(row, realized_only: bool) -> None:
        totals["realized_pnl"] += fifo.to_units(row.realized_pnl)
        if realized_only:
            return
        for name in COUNTS:
            totals[name] += getattr(row, name)
        for name in SUMS:
            if name != "realized_pnl":
                totals[name] += fifo.to_units(getattr(row, name))
        for currency, amount in row.unconverted_fees.items():
            unconverted[currency] = unconverted.get(currency, 0) + fifo.to_units(Decimal(amount))

    for row in rows.hourly[bot.pk]:
        whole = _inside(row.bucket_start, window.hourly)
        if whole or _inside(row.bucket_start, window.realized_hours):
            add_row(row, realized_only=not whole)
    for row in rows.daily[bot.pk]:
        if _inside(row.bucket_start, window.daily):
            add_row(row, realized_only=False)
    edge = [r for r in rows.trades[bot.pk] if _inside(r[1], window.trades, window.until)]
    if edge:
        bucket = Bucket()
        raw: list[tuple[int, int]] = []
        engine = fifo.engine_trades((r[2:] for r in edge), bot.base, bot.quote, raw)
        for row, (amount, cost), trade in zip(edge, raw, engine):
            bucket.add(row[2] == "buy", amount, cost, trade[2], trade[3], trade[4], 0)
        for name in (*COUNTS, *SUMS):
            totals[name] += getattr(bucket, name)
        for currency, amount in bucket.unconverted_fees.items():
            unconverted[currency] = unconverted.get(currency, 0) + amount
    for name in SUMS:
        totals[name] = fifo.from_units(totals[name])
    totals["unconverted_fees"] = {k: fifo.from_units(v) for k, v in sorted(unconverted.items())}
    return totals
