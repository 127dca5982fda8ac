"""Who is calling the API: a client (acting on its own objects) or an admin (acting on all).

Tokens are django-rest-knox's (random, stored as SHA-512 digests, expiring, revocable) sent as
``Authorization: Bearer``. A checked token is remembered in this process for API_TOKEN_CACHE_S,
so a busy list screen costs no token query per request; revoking forgets it here at once and
elsewhere within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from clients.models import Client, Wallet
from clients.validators import validate_wallet_address

UNKNOWN_WALLET = "No client has this wallet."
NO_CLIENT = "This login belongs to no client."


# What a caller is in the API. Operators are staff logins in a group of pipelabs/roles.py; who may
# do what is decided in clients/selectors.py (write_refusal), and the README lists it.
ADMIN, CLIENT, SUPPORT, TRADER = "admin", "client", "support", "trader"
NO_ROLE = ""  # a staff login in no role group: sees no client's data


@dataclass(frozen=True)
class Principal:
    """The caller: ``client_id`` is None for a staff operator without a client row."""

    user_id: int | None
    client_id: int | None
    client_name: str
    is_admin: bool
    actor: str  # what audit rows say
    role: str = CLIENT

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def sees_all_clients(self) -> bool:
        """Admins and the support and trader operators read every client's objects."""
        return self.is_admin or self.role in (SUPPORT, TRADER)

    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def pk(self):
        return self.user_id

    @property
    def client(self) -> Client | None:
        return Client.objects.filter(pk=self.client_id).first() if self.client_id else None


def operator_role(user) -> str:
    """A staff login's role: admin (superusers too) over trader over support."""
    if user.is_superuser:
        return ADMIN
    groups = set(user.groups.values_list("name", flat=True))
    return next((role for role in (ADMIN, TRADER, SUPPORT) if role in groups), NO_ROLE)


def principal_for_user(user) -> Principal:
    """A Django user as a caller: its client's role decides, and a staff operator its group's."""
    client = Client.objects.filter(user=user).first()
    if client is not None:
        if not client.is_active:
            raise exceptions.AuthenticationFailed("This client is deactivated.")
        return principal_for_client(client)
    if user.is_staff:
        role = operator_role(user)
        return Principal(user.pk, None, user.get_username(), role == ADMIN, user.get_username(), role)
    raise exceptions.AuthenticationFailed(NO_CLIENT)


def principal_for_client(client: Client) -> Principal:
    return Principal(client.user_id, client.pk, client.name, client.is_admin, f"client:{client.account_identifier}",
                     ADMIN if client.is_admin else CLIENT)


_cache: dict[str, tuple[float, Principal, object]] = {}
_lock = threading.Lock()


def _key(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def forget_token(token: str | bytes) -> None:
    """Drop a token from this process's cache (after a logout or revocation)."""
    with _lock:
        _cache.pop(_key(token.encode() if isinstance(token, str) else token), None)


def forget_all() -> None:
    with _lock:
        _cache.clear()


def remembered_principal(request) -> Principal | None:
    """The caller of ``request`` if its bearer token is in this process's cache and unexpired, else
    None (the full check then runs): lets a hot GET skip DRF's authentication machinery."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    prefix, _, token = header.partition(" ")
    if prefix.lower() != "bearer" or not token or " " in token:
        return None
    with _lock:
        hit = _cache.get(_key(token.encode()))
    if hit is None or hit[0] <= time.monotonic():
        return None
    expiry = hit[2].expiry
    if expiry is not None and expiry.timestamp() <= time.time():
        return None
    return hit[1]


class BearerTokenAuthentication(TokenAuthentication):
    """knox's token check, then the caller as a Principal, both cached briefly per process."""

    def authenticate_credentials(self, token: bytes):
        key, now = _key(token), time.monotonic()
        with _lock:
            hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            principal, auth_token = hit[1], hit[2]
            if auth_token.expiry is None or auth_token.expiry.timestamp() > time.time():
                return principal, auth_token
        user, auth_token = super().authenticate_credentials(token)
        principal = principal_for_user(user)
        with _lock:
            if len(_cache) > 10000:
                _cache.clear()
            _cache[key] = (now + settings.API_TOKEN_CACHE_S, principal, auth_token)
        return principal, auth_token


class WalletHeaderAuthentication(BaseAuthentication):
    """The earlier frontend's bare ``X-Wallet-Address``: only with API_ALLOW_WALLET_HEADER (never in
    production), since anyone can write any address into a header."""

    def authenticate(self, request):
        address = request.headers.get("X-Wallet-Address", "").strip()
        if not address or not settings.API_ALLOW_WALLET_HEADER:
            return None
        client = client_for_wallet(address)
        if client is None or not client.is_active:
            raise exceptions.AuthenticationFailed(UNKNOWN_WALLET)
        return principal_for_client(client), None

    def authenticate_header(self, request):
        return "Bearer"


def canonical_wallet(address: str) -> tuple[str, str] | None:
    """(chain, canonical address) of an EVM or Solana address; None when it is neither."""
    address = (address or "").strip()
    chain = Wallet.Chain.EVM if address.lower().startswith("0x") else Wallet.Chain.SOLANA
    try:
        return chain, validate_wallet_address(chain, address)
    except ValueError:
        return None


def client_for_wallet(address: str) -> Client | None:
    found = canonical_wallet(address)
    if found is None:
        return None
    wallet = Wallet.objects.select_related("client").filter(chain=found[0], address=found[1]).first()
    return wallet.client if wallet else None
