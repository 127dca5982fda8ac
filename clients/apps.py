from django.apps import AppConfig


class ClientsConfig(AppConfig):
    """Clients, their wallets, and who may act on what."""

    name = "clients"
