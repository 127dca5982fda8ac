"""FIFO checkpoints: the exact state at UTC hour starts, so a late fill replays from near it.

A checkpoint at hour ``H`` holds every trade before ``H`` and none at or after it; trades are
applied in (time, arrival) order, so it is taken just before the first trade of a new hour. One
is taken when at least ``CHECKPOINT_EVERY`` trades, and at least as many as the state has open
lots, were applied since the last: a bot that only accumulates lots gets geometrically spaced
checkpoints, so their total size stays proportional to its trades.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger import fifo
from ledger.models import PnlCheckpoint
from ledger.rollups import hour_start

CHECKPOINT_EVERY = 1000
HOUR = timedelta(hours=1)


class Checkpointer:
    """Splits a time-ordered stream of trade rows where a checkpoint is due and records it."""

    def __init__(self, bot_id: int, previous_at: datetime | None, last_count: int):
        self.bot_id = bot_id
        # First instant of an hour later than the last applied trade's (None: no trade applied).
        self.boundary = None if previous_at is None else hour_start(previous_at) + HOUR
        self.last_count = last_count
        self.taken: list[PnlCheckpoint] = []

    def apply(self, state: fifo.FifoState, rows: list[tuple], apply_rows) -> None:
        """``apply_rows(state, rows)`` for ``rows`` (shaped like TRADE_FIELDS), checkpointing between."""
        begin, boundary = 0, self.boundary
        for i, row in enumerate(rows):
            at = row[1]
            if boundary is not None and at < boundary:
                continue
            hour = hour_start(at)
            boundary = hour + HOUR
            due = max(CHECKPOINT_EVERY, len(state.lots))
            if state.trade_count + (i - begin) - self.last_count >= due:
                if i > begin:
                    apply_rows(state, rows[begin:i])
                    begin = i
                if state.trade_count - self.last_count >= max(CHECKPOINT_EVERY, len(state.lots)):
                    self.taken.append(PnlCheckpoint(bot_id=self.bot_id, at=hour, trade_count=state.trade_count,
                                                    engine=state.to_json()))
                    self.last_count = state.trade_count
        if begin < len(rows):
            apply_rows(state, rows[begin:])
        self.boundary = boundary

    def save(self) -> None:
        if self.taken:
            PnlCheckpoint.objects.bulk_create(self.taken, batch_size=100)
            self.taken = []


def latest(bot_id: int) -> PnlCheckpoint | None:
    return PnlCheckpoint.objects.filter(bot_id=bot_id).order_by("-at").only("at", "trade_count").first()


def nearest_before(bot_id: int, moment: datetime) -> PnlCheckpoint | None:
    """The newest checkpoint whose state a trade at ``moment`` does not belong to."""
    return PnlCheckpoint.objects.filter(bot_id=bot_id, at__lte=moment).order_by("-at").first()


def drop_after(bot_id: int, moment: datetime | None) -> None:
    """Forget checkpoints a late trade made wrong (all when ``moment`` is None)."""
    stale = PnlCheckpoint.objects.filter(bot_id=bot_id)
    if moment is not None:
        stale = stale.filter(at__gt=moment)
    stale.delete()
