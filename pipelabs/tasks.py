import os
import socket

from django.conf import settings
from django.utils import timezone

from pipelabs.models import WorkerHeartbeat


def beat() -> None:
    """Record that a worker of this cluster ran a task just now."""
    WorkerHeartbeat.objects.update_or_create(
        name=settings.Q_CLUSTER["name"],
        defaults={"host": socket.gethostname(), "pid": os.getpid(), "seen_at": timezone.now()},
    )
