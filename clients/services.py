import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from clients.models import Client, Wallet
from clients.validators import validate_wallet_address
from pipelabs.audit import record_event


@transaction.atomic
@transaction.atomic
def create_client(*, name: str, role: str = Client.Role.CLIENT, wallets: list[tuple[str, str]] = (),
                  email: str = "", management_mode: str = Client.ManagementMode.MANAGED,
                  is_active: bool = True, account_identifier: str = "", actor: str = "system") -> Client:
    """A client with its (chain, address) wallets, audited; invalid input raises ValidationError, nothing written."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A client needs a name."})
    if role not in Client.Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Client.Role.values)}."})
    if management_mode not in Client.ManagementMode.values:
        raise ValidationError({"management_mode": "management_mode is self or managed."})
    client = Client(name=name, role=role, email=(email or "").strip(), management_mode=management_mode,
                    is_active=is_active)
    if account_identifier:
        client.account_identifier = account_identifier
    client.full_clean(exclude=["user"])
    client.save()
    _audit(actor=actor, action="client.create", client=client, target=str(client),
           changes={"name": client.name, "role": client.role, "management_mode": client.management_mode})
    for chain, address in wallets:
        add_wallet(client, chain=chain, address=address, actor=actor)
    return client


@transaction.atomic
def add_wallet(client: Client, *, chain: str, address: str, label: str = "", actor: str = "system") -> Wallet:
    """A wallet of the client (validated, unique across clients), audited."""
    try:
        address = validate_wallet_address(chain, address)
    except ValueError as exc:
        raise ValidationError({"address": str(exc)}) from exc
    if Wallet.objects.filter(chain=chain, address=address).exists():
        raise ValidationError({"address": "This wallet already belongs to a client."})
    wallet = Wallet.objects.create(client=client, chain=chain, address=address, label=(label or "").strip()[:100])
    record_event(actor=actor, action="wallet.add", client=client, target=str(wallet),
                 changes={"address": address, "chain": chain, "label": wallet.label})
    return wallet


def clean_username(username: str) -> str:
    """The login as stored, or ValidationError({"username": why})."""
    username = (username or "").strip()
    User = get_user_model()
    try:
        if not username:
            raise ValidationError("It is empty.")
        User.username_validator(username)
        User._meta.get_field("username").run_validators(username)
    except ValidationError as exc:
        raise ValidationError({"username": f"{username!r} is not a valid login: {' '.join(exc.messages)}"}) from None
    return username


@transaction.atomic
def create_operator(username: str, *, password: str | None = None, role: str | None = None):
    """A staff login for the admin; returns (user, password). A generated password is returned once.

    With a role (pipelabs.roles: support, trader, admin) the login gets that group's rights;
    without one it is a superuser, as the local demo's operator is.
    """
    from pipelabs.roles import ROLES, ensure_roles

    username = clean_username(username)
    if role is not None and role not in ROLES:
        raise ValidationError({"role": f"Role must be one of {', '.join(ROLES)}, not {role!r}."})
    password = password or secrets.token_urlsafe(12)
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"Operator {username!r} already exists."})
    if role is None:
        return User.objects.create_superuser(username=username, password=password, email=""), password
    user = User.objects.create_user(username=username, password=password, is_staff=True)
    user.groups.add(ensure_roles()[role])
    return user, password


BAD_SOLANA_KEY = "A Solana private key is the base58 keypair (64 bytes) or its JSON array of 64 numbers."
WALLET_OF_ANOTHER_CLIENT = "This wallet already belongs to another client."


def _solana_keypair(private_key: str):
    import json

    from solders.keypair import Keypair

    text = (private_key or "").strip()
    try:
        if text.startswith("["):
            numbers = json.loads(text)
            return Keypair.from_bytes(bytes(numbers))
        return Keypair.from_base58_string(text)
    except Exception:  # noqa: BLE001  whatever is wrong with it, the message must not quote it
        raise ValidationError({"private_key": BAD_SOLANA_KEY}) from None


@transaction.atomic
def store_wallet_key(client: Client, *, private_key: str, actor: str, label: str = "trading") -> Wallet:
    """The client's Solana trading wallet with its private key stored encrypted (replacing any), audited.

    The wallet's address is the key's public key, so a key cannot be stored under another address.
    """
    from django.utils import timezone

    from exchanges import crypto
    from pipelabs.logging import register_secret

    keypair = _solana_keypair(private_key)
    register_secret(private_key.strip())
    address = str(keypair.pubkey())
    wallet = Wallet.objects.select_for_update().filter(chain=Wallet.Chain.SOLANA, address=address).first()
    if wallet is not None and wallet.client_id != client.pk:
        raise ValidationError({"private_key": WALLET_OF_ANOTHER_CLIENT})
    replaced = bool(wallet and wallet.private_key_encrypted)
    if wallet is None:
        wallet = Wallet(client=client, chain=Wallet.Chain.SOLANA, address=address, label=label)
    wallet.private_key_encrypted = crypto.encrypt(private_key.strip())
    wallet.key_added_by = actor
    wallet.key_connected_at = timezone.now()
    wallet.save()
    record_event(actor=actor, action="wallet_key_replaced" if replaced else "wallet_key_added",
                 client=client, target=str(wallet), changes={"address": address})
    return wallet


@transaction.atomic
def clear_wallet_key(wallet: Wallet, *, actor: str) -> Wallet:
    """Forget the wallet's private key (the wallet stays, read-only), audited."""
    Wallet.objects.filter(pk=wallet.pk).update(private_key_encrypted="", key_added_by="", key_connected_at=None)
    wallet.refresh_from_db()
    record_event(actor=actor, action="wallet_key_revoked", client_id=wallet.client_id,
                 target=str(wallet), changes={"address": wallet.address})
    return wallet


CLIENT_HAS_LIVE_BOTS = "Stop this client's running bots before deleting it: {names}."
WALLET_IN_USE = "This wallet signs for an exchange account; remove the account first."
UPDATABLE_CLIENT_FIELDS = ("name", "email", "role", "management_mode", "is_active")


def _audit(*, actor: str, action: str, client: Client | None, target: str, changes: dict):
    record_event(actor=actor, action=action, client=client, target=target, changes=changes)


@transaction.atomic
def update_client(client: Client, *, actor: str, **changes) -> Client:
    """Change the client's own fields (UPDATABLE_CLIENT_FIELDS), validated and audited old → new."""
    unknown = sorted(set(changes) - set(UPDATABLE_CLIENT_FIELDS))
    if unknown:
        raise ValidationError({field: "This field cannot be changed." for field in unknown})
    current = Client.objects.select_for_update().get(pk=client.pk)
    diff = {field: [getattr(current, field), value] for field, value in changes.items()
            if getattr(current, field) != value}
    if not diff:
        return current
    for field in diff:
        setattr(current, field, changes[field])
    if "name" in diff:
        current.name = (current.name or "").strip()
    current.full_clean(exclude=["user", "account_identifier"])
    current.save(update_fields=[*diff, "updated_at"])
    _audit(actor=actor, action="client.update", client=current, target=str(current), changes=diff)
    if "is_active" in diff and not current.is_active and current.user_id:
        from clients.signin import revoke_tokens

        revoke_tokens(current.user)
    return current


@transaction.atomic
def delete_client(client: Client, *, actor: str) -> int:
    """Delete a client with its wallets, accounts and stopped bots; refused while any bot runs."""
    from bots.models import Bot
    from bots.services import UNDELETABLE_STATUSES, delete_bots

    current = Client.objects.select_for_update().get(pk=client.pk)
    bots = list(Bot.objects.filter(client=current))
    live = [str(bot) for bot in bots if bot.status in UNDELETABLE_STATUSES]
    if live:
        raise ValidationError(CLIENT_HAS_LIVE_BOTS.format(names=", ".join(live)), code="client_has_live_bots")
    delete_bots(bots, actor=actor)
    _audit(actor=actor, action="client.delete", client=None, target=str(current),
           changes={"client_id": current.pk, "account_identifier": current.account_identifier})
    user = current.user
    pk = current.pk
    current.exchange_accounts.update(wallet=None)
    current.delete()
    if user is not None:
        from clients.signin import revoke_tokens

        revoke_tokens(user)
        user.delete()
    return pk


@transaction.atomic
def change_wallet(wallet: Wallet, *, actor: str, address: str | None = None, chain: str | None = None,
                  label: str | None = None) -> Wallet:
    chain = chain or wallet.chain
    try:
        address = validate_wallet_address(chain, address if address is not None else wallet.address)
    except ValueError as exc:
        raise ValidationError({"address": str(exc)}) from exc
    if (address, chain) != (wallet.address, wallet.chain):
        if wallet.exchange_accounts.exists() or wallet.private_key_encrypted:
            raise ValidationError({"address": WALLET_IN_USE})
        if Wallet.objects.filter(chain=chain, address=address).exclude(pk=wallet.pk).exists():
            raise ValidationError({"address": "This wallet already belongs to a client."})
    old = {"address": wallet.address, "chain": wallet.chain, "label": wallet.label}
    wallet.address, wallet.chain = address, chain
    if label is not None:
        wallet.label = label.strip()[:100]
    wallet.save()
    _audit(actor=actor, action="wallet.update", client=wallet.client, target=str(wallet),
           changes={"old": old, "new": {"address": wallet.address, "chain": wallet.chain, "label": wallet.label}})
    return wallet


@transaction.atomic
def remove_wallet(wallet: Wallet, *, actor: str) -> int:
    if wallet.exchange_accounts.exists():
        raise ValidationError({"wallet": WALLET_IN_USE})
    pk = wallet.pk
    _audit(actor=actor, action="wallet.delete", client=wallet.client, target=str(wallet), changes={"address": wallet.address})
    wallet.delete()
    return pk
