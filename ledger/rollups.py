"""Hourly and daily sums per bot, built from trades in memory and merged into rollup rows.

Sums are kept as integers of 1e-18 while building (exact), and written as Decimals. The merge
reads, adds and writes the touched rows; callers hold the bot's P&L state lock, so no two
merges of one bot interleave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from ledger.fifo import from_units, to_units
from ledger.models import DailyRollup, HourlyRollup

SUMS = ("buy_base", "buy_quote", "sell_base", "sell_quote", "fees_quote", "realized_pnl")
COUNTS = ("trade_count", "buy_count", "sell_count")


def hour_start(moment: datetime) -> datetime:
    return moment.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Bucket:
    trade_count: int = 0
    buy_count: int = 0
    sell_count: int = 0
    buy_base: int = 0
    buy_quote: int = 0
    sell_base: int = 0
    sell_quote: int = 0
    fees_quote: int = 0
    realized_pnl: int = 0
    unconverted_fees: dict = field(default_factory=dict)

    def add(self, is_buy: bool, amount: int, cost: int, fee_value: int, currency: str, unconverted: int,
            realized: int) -> None:
        self.trade_count += 1
        if is_buy:
            self.buy_count += 1
            self.buy_base += amount
            self.buy_quote += cost
        else:
            self.sell_count += 1
            self.sell_base += amount
            self.sell_quote += cost
        self.fees_quote += fee_value
        self.realized_pnl += realized
        if unconverted:
            self.unconverted_fees[currency] = self.unconverted_fees.get(currency, 0) + unconverted


class RollupBuilder:
    """Collects trades into hourly and daily buckets."""

    def __init__(self):
        self.hourly: dict[datetime, Bucket] = {}
        self.daily: dict[datetime, Bucket] = {}
        # Trades come time-ordered: the last hour looked up is nearly always the next one's too.
        self._last: tuple[datetime, datetime, datetime] | None = None

    def add(self, traded_at: datetime, *args) -> None:
        last = self._last
        if last is None or not (last[0] <= traded_at < last[1]):
            hour = hour_start(traded_at)
            last = self._last = (hour, hour + timedelta(hours=1), day_start(hour))
        hour, _, day = last
        bucket = self.hourly.get(hour)
        if bucket is None:
            bucket = self.hourly[hour] = Bucket()
        bucket.add(*args)
        bucket = self.daily.get(day)
        if bucket is None:
            bucket = self.daily[day] = Bucket()
        bucket.add(*args)


def _row_values(bucket: Bucket, row=None) -> dict:
    values = {}
    for name in COUNTS:
        values[name] = getattr(bucket, name) + (getattr(row, name) if row else 0)
    for name in SUMS:
        values[name] = from_units(getattr(bucket, name) + (to_units(getattr(row, name)) if row else 0))
    fees = {k: to_units(v) for k, v in (row.unconverted_fees if row else {}).items()}
    for currency, amount in bucket.unconverted_fees.items():
        fees[currency] = fees.get(currency, 0) + amount
    values["unconverted_fees"] = {k: str(from_units(v)) for k, v in sorted(fees.items())}
    values["exact"] = {name: str(values[name]) for name in SUMS}  # SQLite rounds the columns
    return values


def merge(bot_id: int, builder: RollupBuilder) -> None:
    """Add the builder's buckets to the bot's rollup rows (create the missing ones)."""
    for model, buckets in ((HourlyRollup, builder.hourly), (DailyRollup, builder.daily)):
        if not buckets:
            continue
        existing = {row.bucket_start: row for row in model.objects.filter(bot_id=bot_id, bucket_start__in=list(buckets))}
        created, updated = [], []
        for start, bucket in buckets.items():
            row = existing.get(start)
            values = _row_values(bucket, row)
            if row is None:
                created.append(model(bot_id=bot_id, bucket_start=start, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                updated.append(row)
        if created:
            model.objects.bulk_create(created, batch_size=1000)
        if updated:
            model.objects.bulk_update(updated, [*COUNTS, *SUMS, "unconverted_fees", "exact"], batch_size=500)


def replace(bot_id: int, builder: RollupBuilder) -> None:
    """Make the bot's rollup rows exactly the builder's buckets (used by a rebuild)."""
    HourlyRollup.objects.filter(bot_id=bot_id).delete()
    DailyRollup.objects.filter(bot_id=bot_id).delete()
    merge(bot_id, builder)


def replace_from(bot_id: int, builder: RollupBuilder, start: datetime) -> None:
    """Make the bot's rollups from ``start`` (an hour start) on exactly the builder's buckets, the
    builder holding every trade at or after ``start``. The day ``start`` falls in also keeps its
    hours before ``start``, added back from their hourly rows."""
    day = day_start(start)
    HourlyRollup.objects.filter(bot_id=bot_id, bucket_start__gte=start).delete()
    DailyRollup.objects.filter(bot_id=bot_id, bucket_start__gte=day).delete()
    for row in HourlyRollup.objects.filter(bot_id=bot_id, bucket_start__gte=day, bucket_start__lt=start):
        bucket = builder.daily.setdefault(day, Bucket())
        for name in COUNTS:
            setattr(bucket, name, getattr(bucket, name) + getattr(row, name))
        for name in SUMS:
            setattr(bucket, name, getattr(bucket, name) + to_units(getattr(row, name)))
        for currency, amount in row.unconverted_fees.items():
            bucket.unconverted_fees[currency] = bucket.unconverted_fees.get(currency, 0) + to_units(amount)
    merge(bot_id, builder)


def snapshot(bot_id: int) -> dict:
    """The bot's rollup rows as plain comparable values, for a rebuild's before/after check."""
    result = {}
    for model in (HourlyRollup, DailyRollup):
        for row in model.objects.filter(bot_id=bot_id):
            key = (model.__name__, row.bucket_start.isoformat())
            result[key] = {name: getattr(row, name) for name in (*COUNTS, *SUMS)} | {
                "unconverted_fees": row.unconverted_fees
            }
    return result


def differ(before: dict, after: dict) -> bool:
    """Whether two rollup snapshots differ (exactly: the sums are read from their exact mirrors)."""
    if before.keys() != after.keys():
        return True
    for key, values in before.items():
        other = after[key]
        if values["unconverted_fees"] != other["unconverted_fees"]:
            return True
        if any(values[name] != other[name] for name in (*COUNTS, *SUMS)):
            return True
    return False
