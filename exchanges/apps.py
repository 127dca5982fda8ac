from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    """Exchange accounts, credentials and the connectors that talk to venues."""

    name = "exchanges"
