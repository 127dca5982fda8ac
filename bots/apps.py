from django.apps import AppConfig


class BotsConfig(AppConfig):
    """Bots, their orders and the audit trail of every change."""

    name = "bots"
