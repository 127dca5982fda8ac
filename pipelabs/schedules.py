"""Every recurring job, declared once; ``manage.py setup_schedules`` makes django-q2 match it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


SCHEDULES = [
    ScheduleSpec("worker-heartbeat", "pipelabs.tasks.beat", minutes=1),
    # Snapshots the API and admin read, so no request ever waits on an exchange.
    ScheduleSpec("ledger-refresh-prices", "ledger.tasks.refresh_prices_task", minutes=1),
    ScheduleSpec("ledger-refresh-balances", "ledger.tasks.refresh_balances_task", minutes=1),
    ScheduleSpec("ledger-sync-trades", "ledger.tasks.enqueue_trade_syncs", minutes=1),
    # Age-based clean-up of balance snapshots and price history (PRUNE_AFTER_DAYS).
    ScheduleSpec("ledger-prune", "ledger.tasks.prune_task", minutes=60),
]
