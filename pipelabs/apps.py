from django.apps import AppConfig


class PipelabsConfig(AppConfig):
    """The project itself: settings checks, health, the worker heartbeat and schedules."""

    name = "pipelabs"

    def ready(self):
        from pipelabs import checks  # noqa: F401  (registers the system checks)
