from django.db import models


class WorkerHeartbeat(models.Model):
    """Written by a scheduled django-q2 task, so /health can tell that a cluster is working."""

    name = models.CharField(max_length=100, primary_key=True, help_text="Cluster name.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} @ {self.seen_at:%H:%M:%S}"


class AuditEvent(models.Model):
    """Who did what, when: starts, stops, config and credential changes, kill switches.

    Written by pipelabs.audit.record_event only; every app may import that, so no app imports
    another's models to audit. The table keeps its first name (it began in the bots app).
    """

    actor = models.CharField(max_length=200, help_text="Operator username, client wallet, or 'system'.")
    action = models.CharField(max_length=50)
    # Kept after the client is deleted, like after the bot: the trail must outlive what it records.
    client = models.ForeignKey("clients.Client", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="audit_events")
    # Kept after the bot is deleted (the deletion is itself audited), so not a cascade.
    bot = models.ForeignKey("bots.Bot", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events")
    target = models.CharField(max_length=200, blank=True, help_text="What was acted on, readable after deletion.")
    changes = models.JSONField(default=dict, blank=True, help_text="old → new, secrets masked.")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "bots_auditevent"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["bot", "created_at"], name="audit_bot_created_idx")]

    def __str__(self):
        return f"{self.actor} {self.action} {self.target}"
