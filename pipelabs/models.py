from django.db import models


class WorkerHeartbeat(models.Model):
    """Written by a scheduled django-q2 task, so /health can tell that a cluster is working."""

    name = models.CharField(max_length=100, primary_key=True, help_text="Cluster name.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} @ {self.seen_at:%H:%M:%S}"
