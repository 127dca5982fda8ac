from django.apps import AppConfig


class ClientsConfig(AppConfig):
    """Clients, their wallets, wallet sign-in and API tokens, and who may act on what."""

    name = "clients"

    def ready(self):
        from clients.api import schema  # noqa: F401  registers the OpenAPI auth schemes
