import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from clients.validators import validate_wallet_address


def new_account_identifier() -> str:
    return f"acct_{secrets.token_hex(8)}"


class Client(models.Model):
    """A customer of the agency (or an admin acting for all of them)."""

    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        ADMIN = "admin", "Admin"

    class ManagementMode(models.TextChoices):
        SELF = "self", "Self-managed"
        MANAGED = "managed", "Managed by the agency"

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    account_identifier = models.CharField(
        max_length=40, unique=True, default=new_account_identifier,
        help_text="Stable public id the frontend shows and filters by.",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    management_mode = models.CharField(max_length=10, choices=ManagementMode.choices, default=ManagementMode.MANAGED)
    is_active = models.BooleanField(default=True)
    # The API's principal: API tokens (django-rest-knox) belong to a Django user.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="client",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=["client", "admin"]), name="client_role_valid"),
            models.CheckConstraint(condition=models.Q(management_mode__in=["self", "managed"]),
                                   name="client_management_mode_valid"),
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
    key_added_by = models.CharField(max_length=200, blank=True, help_text="Who stored the private key.")
    key_connected_at = models.DateTimeField(null=True, blank=True, help_text="When the private key was stored.")
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


class SignInNonce(models.Model):
    """A sign-in message we issued to one wallet: valid until ``expires_at``, usable once."""

    nonce = models.CharField(max_length=64, unique=True)
    chain = models.CharField(max_length=10, choices=Wallet.Chain.choices)
    address = models.CharField(max_length=64, help_text="Canonical form (validators.py).")
    message = models.TextField(help_text="The exact text the wallet must sign.")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["expires_at"], name="signin_nonce_expiry_idx")]

    def __str__(self):
        return f"sign-in nonce for {self.chain}:{self.address}"


class IdempotentRequest(models.Model):
    """A POST with side effects done under an ``Idempotency-Key``: its answer, replayed on a retry."""

    owner = models.CharField(max_length=64, help_text="The caller (user and client ids).")
    key = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress.")
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotent_request_unique_key")]

    def __str__(self):
        return f"{self.owner} {self.key}"
