import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from clients.models import Client, Wallet
from clients.validators import validate_wallet_address


@transaction.atomic
def create_client(*, name: str, role: str = Client.Role.CLIENT, wallets: list[tuple[str, str]] = (),
                  email: str = "", management_mode: str = Client.ManagementMode.MANAGED) -> Client:
    """A client with its (chain, address) wallets; invalid input raises ValidationError, nothing written."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A client needs a name."})
    if role not in Client.Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Client.Role.values)}."})
    if management_mode not in Client.ManagementMode.values:
        raise ValidationError({"management_mode": "management_mode is self or managed."})
    client = Client(name=name, role=role, email=(email or "").strip(), management_mode=management_mode)
    client.full_clean(exclude=["user"])
    client.save()
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


def create_operator(username: str, *, password: str | None = None, superuser: bool = True):
    """A staff login for the admin; returns (user, password). A generated password is returned once."""
    password = password or secrets.token_urlsafe(12)
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"Operator {username!r} already exists."})
    if superuser:
        user = User.objects.create_superuser(username=username, password=password, email="")
    else:
        user = User.objects.create_user(username=username, password=password, is_staff=True)
    return user, password
