import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from clients.models import Client, Wallet
from clients.validators import validate_wallet_address


@transaction.atomic
def create_client(*, name: str, role: str = Client.Role.CLIENT, wallets: list[tuple[str, str]] = ()) -> Client:
    """A client with its (chain, address) wallets; invalid input raises ValidationError, nothing written."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A client needs a name."})
    if role not in Client.Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Client.Role.values)}."})
    client = Client.objects.create(name=name, role=role)
    for chain, address in wallets:
        add_wallet(client, chain=chain, address=address)
    return client


def add_wallet(client: Client, *, chain: str, address: str, label: str = "") -> Wallet:
    try:
        address = validate_wallet_address(chain, address)
    except ValueError as exc:
        raise ValidationError({"address": str(exc)}) from exc
    if Wallet.objects.filter(chain=chain, address=address).exists():
        raise ValidationError({"address": "This wallet already belongs to a client."})
    return Wallet.objects.create(client=client, chain=chain, address=address, label=label)


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
