from django.db import models

from clients.models import Client, Wallet

# Venues with a native connector; any other ccxt exchange id is accepted as well.
NATIVE_EXCHANGES = ("paper", "bitmart", "coinstore", "jupiter")


class ExchangeAccount(models.Model):
    """A client's account at one venue (the earlier system's "connector")."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="exchange_accounts")
    exchange = models.CharField(max_length=40, help_text="paper, bitmart, coinstore, jupiter or a ccxt exchange id.")
    name = models.CharField(max_length=100, help_text="The client's label, e.g. 'main'; the API's `account`.")
    wallet = models.ForeignKey(
        Wallet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_accounts",
        help_text="The signing wallet of a DEX (jupiter) account.",
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Venue settings: API base URL override, Jupiter token mints, paper market seeds.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "exchange", "name"], name="account_unique_name"),
        ]
        indexes = [models.Index(fields=["exchange"], name="account_exchange_idx")]

    def __str__(self):
        return f"{self.exchange}:{self.name}"


class ExchangeCredential(models.Model):
    """API credentials of an account, each field a Fernet token; never stored in clear."""

    account = models.OneToOneField(ExchangeAccount, on_delete=models.CASCADE, related_name="credential")
    api_key_encrypted = models.TextField(editable=False)
    secret_encrypted = models.TextField(editable=False)
    memo_encrypted = models.TextField(blank=True, default="", editable=False, help_text="BitMart memo (uid).")
    passphrase_encrypted = models.TextField(blank=True, default="", editable=False)
    key_hint = models.CharField(max_length=8, blank=True, help_text="Last 4 characters of the API key.")
    tested_at = models.DateTimeField(null=True, blank=True)
    test_ok = models.BooleanField(null=True, blank=True)
    test_message = models.TextField(blank=True, help_text="The exchange's own answer to the last test.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"credential for {self.account} (…{self.key_hint})"
