from django.core.exceptions import ValidationError
from django.db import models

from clients.validators import validate_wallet_address


class Client(models.Model):
    """A customer of the agency (or an admin acting for all of them)."""

    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=200)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=["client", "admin"]), name="client_role_valid"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class Wallet(models.Model):
    """An on-chain address a client owns; a DEX bot's wallet also holds its encrypted key."""

    class Chain(models.TextChoices):
        SOLANA = "solana", "Solana"
        EVM = "evm", "EVM"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="wallets")
    chain = models.CharField(max_length=10, choices=Chain.choices)
    address = models.CharField(max_length=64, help_text="Base58 for Solana, 0x-hex (lower case) for EVM.")
    label = models.CharField(max_length=100, blank=True)
    private_key_encrypted = models.TextField(
        blank=True, default="", editable=False, help_text="Fernet token; only DEX bot wallets carry one."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "address"], name="wallet_unique_address"),
            models.CheckConstraint(condition=models.Q(chain__in=["solana", "evm"]), name="wallet_chain_valid"),
        ]
        indexes = [models.Index(fields=["address"], name="wallet_address_idx")]

    def __str__(self):
        return f"{self.chain}:{self.address}"

    @property
    def has_private_key(self) -> bool:
        return bool(self.private_key_encrypted)

    def clean(self):
        try:
            self.address = validate_wallet_address(self.chain, self.address)
        except ValueError as exc:
            raise ValidationError({"address": str(exc)}) from exc
