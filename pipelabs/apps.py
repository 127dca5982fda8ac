from django.apps import AppConfig


class PipelabsConfig(AppConfig):
    """The project itself: settings checks, health, the worker heartbeat and schedules."""

    name = "pipelabs"

    def ready(self):
        from django.db.models.signals import post_migrate

        from pipelabs import checks  # noqa: F401  (registers the system checks)
        from pipelabs.roles import sync_roles

        post_migrate.connect(sync_roles, dispatch_uid="pipelabs.roles")
