"""Every recurring job, declared once; ``manage.py setup_schedules`` makes django-q2 match it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


SCHEDULES = [
    ScheduleSpec("worker-heartbeat", "pipelabs.tasks.beat", minutes=1),
]
