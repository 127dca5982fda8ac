from django.db import migrations


class Migration(migrations.Migration):
    """AuditEvent moves to pipelabs (state only): its table bots_auditevent stays as it is."""

    dependencies = [("bots", "0002_auditevent_client_set_null")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
