"""Exact time windows over rollups: whole buckets in the middle, trades by time at the two edges.

A window ``[since, now]`` is cut into
* the partial hours at each end, from the trades themselves: the first one as its trades from
  ``since``, or (when that is the larger part) its bucket less the trades before ``since``; the
  current one as its bucket less any trades after ``now``;
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
TICK = timedelta(microseconds=1)  # the databases keep microseconds: (t, x) is [t + TICK, x)
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
    """How one window ``[since, until]`` is read.

    Sum the ``hourly`` and ``daily`` bucket ranges whole, add the trades in ``plus`` and take away
    those in ``minus`` (a partial hour is read from whichever side of it holds fewer trades);
    realized P&L comes from the hourly buckets in ``realized_hours`` and the daily ones.
    """

    since: datetime | None
    until: datetime
    hourly: tuple[Range, ...] = ()
    daily: tuple[Range, ...] = ()
    plus: tuple[Range, ...] = ()
    minus: tuple[Range, ...] = ()
    realized_hours: tuple[Range, ...] = ()
    realized_since: datetime | None = None


def plan(since: datetime | None, until: datetime) -> Plan:
    if since is None:  # everything: every daily bucket, trades in the future included
        return Plan(None, until, daily=((None, None),))
    after = until + TICK  # ranges are [start, end): the window includes ``until`` itself
    this_hour, first_hour = hour_start(until), ceil_hour(since)
    if first_hour > this_hour:  # within one hour: its trades only
        return Plan(since, until, plus=((since, after),), realized_since=first_hour)
    # The last hour: its bucket less the trades after ``until`` (normally none).
    minus = [(after, this_hour + HOUR)]
    plus = []
    head = first_hour
    if since != first_hour:
        lead = hour_start(since)
        if since - lead <= HOUR / 2:  # fewer trades before ``since``: the bucket less them
            head = lead
            minus.append((lead, since))
        else:
            plus.append((since, first_hour))
    first_day, this_day = ceil_day(since), day_start(until)
    if until - since <= HOURLY_UP_TO or first_day >= this_day:
        hourly = ((head, this_hour + HOUR),)
        daily = ()
        realized = ((first_hour, this_hour + HOUR),)
    else:
        hourly = ((head, first_day), (this_day, this_hour + HOUR))
        daily = ((first_day, this_day),)
        realized = ((first_hour, first_day), (this_day, this_hour + HOUR))
    return Plan(since, until, hourly=hourly, daily=daily, plus=tuple(plus), minus=tuple(minus),
                realized_hours=realized, realized_since=first_hour)


def _inside(moment: datetime, ranges) -> bool:
    for start, end in ranges:
        if (start is None or moment >= start) and (end is None or moment < end):
            return True
    return False


def _q(field: str, ranges) -> Q:
    """An OR of the ranges (one query however many edges); an open range means everything."""
    parts = []
    for start, end in ranges:
        if start is None and end is None:
            return Q()
        part = Q()
        if start is not None:
            part &= Q(**{f"{field}__gte": start})
        if end is not None:
            part &= Q(**{f"{field}__lt": end})
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
    trade_ranges = sorted({r for p in plans for r in (*p.plus, *p.minus) if r[0] < r[1]})
    if trade_ranges:
        # A UNION ALL of one range each, not an OR: SQLite then reads each range from the
        # (bot, traded_at) index instead of every trade of the bot (PostgreSQL does either well).
        parts = [
            BotTrade.objects.filter(bot_id__in=bot_ids, traded_at__gte=start, traded_at__lt=end)
            .order_by().values_list(*TRADE_FIELDS, "pk")
            for start, end in trade_ranges
        ]
        query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        seen = set()
        for row in query:
            if row[-1] not in seen:  # ranges of different windows may overlap
                seen.add(row[-1])
                rows.trades[row[0]].append(row[:-1])
    hourly_ranges = [r for p in plans for r in p.hourly if r[0] != r[1]]
    if hourly_ranges:
        for row in HourlyRollup.objects.filter(_q("bucket_start", hourly_ranges), bot_id__in=bot_ids):
            rows.hourly[row.bot_id].append(row)
    daily_ranges = [r for p in plans for r in p.daily]
    if daily_ranges:
        for row in DailyRollup.objects.filter(_q("bucket_start", daily_ranges), bot_id__in=bot_ids):
            rows.daily[row.bot_id].append(row)
    return rows


def _trade_sums(trades: list, bot) -> Bucket:
    bucket = Bucket()
    if trades:
        raw: list[tuple[int, int]] = []
        engine = fifo.engine_trades((r[2:] for r in trades), bot.base, bot.quote, raw)
        for row, (amount, cost), trade in zip(trades, raw, engine):
            bucket.add(row[2] == "buy", amount, cost, trade[2], trade[3], trade[4], 0)
    return bucket


def sums(window: Plan, bot, rows: Rows) -> dict:
    """The window's counts and sums for one bot (Decimals; ``unconverted_fees`` per currency)."""
    totals = {name: 0 for name in (*COUNTS, *SUMS)}
    unconverted: dict[str, int] = {}

    def add_row(row, realized: bool) -> None:
        if realized:
            totals["realized_pnl"] += fifo.to_units(row.realized_pnl)
        for name in COUNTS:
            totals[name] += getattr(row, name)
        for name in SUMS:
            if name != "realized_pnl":
                totals[name] += fifo.to_units(getattr(row, name))
        for currency, amount in row.unconverted_fees.items():
            unconverted[currency] = unconverted.get(currency, 0) + fifo.to_units(Decimal(amount))

    for row in rows.hourly[bot.pk]:
        if _inside(row.bucket_start, window.hourly):
            add_row(row, _inside(row.bucket_start, window.realized_hours))
    for row in rows.daily[bot.pk]:
        if _inside(row.bucket_start, window.daily):
            add_row(row, True)
    trades = rows.trades[bot.pk]
    for ranges, sign in ((window.plus, 1), (window.minus, -1)):
        bucket = _trade_sums([r for r in trades if _inside(r[1], ranges)], bot)
        for name in (*COUNTS, *SUMS):
            totals[name] += sign * getattr(bucket, name)
        for currency, amount in bucket.unconverted_fees.items():
            unconverted[currency] = unconverted.get(currency, 0) + sign * amount
    for name in SUMS:
        totals[name] = fifo.from_units(totals[name])
    totals["unconverted_fees"] = {k: fifo.from_units(v) for k, v in sorted(unconverted.items()) if v}
    return totals
