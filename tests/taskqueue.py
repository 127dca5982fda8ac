"""Running queued django-q2 tasks in a test the way a cluster does, without starting one."""

from django_q.brokers import get_broker
from django_q.tasks import _sync


def run_queued_tasks() -> int:
    """Run what the broker holds through django-q2's own worker() and monitor(), then ack each.

    The task is unpickled from its signed package, executed, and its result or failure saved as
    a django_q Task row, exactly as in a cluster; only the process boundary is missing.
    """
    broker, ran = get_broker(), 0
    for ack_id, payload in broker.dequeue() or []:
        _sync(payload)
        broker.acknowledge(ack_id)
        ran += 1
    return ran
