from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """Every money figure the platform shows."""

    name = "ledger"
