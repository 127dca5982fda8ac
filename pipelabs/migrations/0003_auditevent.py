import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """AuditEvent arrives from bots (state only): the table bots_auditevent is kept, rows and all."""

    dependencies = [
        ("pipelabs", "0002_cache_table"),
        ("bots", "0003_auditevent_moved_to_pipelabs"),
        ("clients", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("actor", models.CharField(help_text="Operator username, client wallet, or 'system'.", max_length=200)),
                        ("action", models.CharField(max_length=50)),
                        ("target", models.CharField(blank=True, help_text="What was acted on, readable after deletion.", max_length=200)),
                        ("changes", models.JSONField(blank=True, default=dict, help_text="old → new, secrets masked.")),
                        ("reason", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("bot", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="audit_events", to="bots.bot")),
                        ("client", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="audit_events", to="clients.client")),
                    ],
                    options={
                        "db_table": "bots_auditevent",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["bot", "created_at"], name="audit_bot_created_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
