"""Wallet sign-in: issue a message to sign (EIP-4361 for EVM, Sign-In with Solana for Solana),
check the signature against the wallet, burn the nonce, and hand out an API token."""

from __future__ import annotations

import re
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clients.models import Client, SignInNonce, Wallet
from clients.principal import canonical_wallet

# Messages the frontend and tests match.
NOT_REGISTERED = "This wallet is not registered with any client; ask the agency to add it."
BAD_ADDRESS = "Not an EVM (0x…) or Solana (base58) wallet address."
BAD_SIGNATURE = "The signature does not match the wallet and message."
MALFORMED_SIGNATURE = "The signature is not a valid {kind} signature."
NOT_ISSUED = "This message was not issued by this server for this wallet."
EXPIRED = "The sign-in message has expired; request a new one."
USED = "This sign-in message was already used; request a new one."
STATEMENT = "Sign in to pipelabs."
_NONCE_LINE = re.compile(r"^Nonce: ([A-Za-z0-9]{8,64})$", re.MULTILINE)


class SignInRefused(Exception):
    """Sign-in refused; ``status`` is 401 (bad proof) or 403 (a valid proof of an unknown wallet)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def _iso(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _evm_message(address: str, nonce: str, issued_at: datetime, expires_at: datetime) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # abnf's grammar warnings on import
        from eth_utils import to_checksum_address
        from siwe import SiweMessage
    return SiweMessage(
        domain=settings.SIGN_IN_DOMAIN, address=to_checksum_address(address), statement=STATEMENT,
        uri=settings.SIGN_IN_URI, version="1", chain_id=1, nonce=nonce,
        issued_at=_iso(issued_at), expiration_time=_iso(expires_at),
    ).prepare_message()


def _solana_message(address: str, nonce: str, issued_at: datetime, expires_at: datetime) -> str:
    # The Sign-In with Solana text form (the EIP-4361 layout with the Solana account header).
    return (
        f"{settings.SIGN_IN_DOMAIN} wants you to sign in with your Solana account:\n{address}\n\n{STATEMENT}\n\n"
        f"URI: {settings.SIGN_IN_URI}\nVersion: 1\nChain ID: mainnet\nNonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\nExpiration Time: {_iso(expires_at)}"
    )


def issue_message(address: str) -> SignInNonce:
    """A fresh single-use message for ``address`` to sign; ValidationError for a malformed address."""
    found = canonical_wallet(address)
    if found is None:
        raise ValidationError({"wallet_address": BAD_ADDRESS})
    chain, address = found
    nonce = secrets.token_hex(16)
    issued_at = timezone.now()
    expires_at = issued_at + timedelta(seconds=settings.SIGN_IN_MESSAGE_TTL_S)
    write = _evm_message if chain == Wallet.Chain.EVM else _solana_message
    # Old unused nonces go as new ones come: the table stays the size of the sign-ins in flight.
    SignInNonce.objects.filter(expires_at__lt=issued_at - timedelta(hours=1)).delete()
    return SignInNonce.objects.create(nonce=nonce, chain=chain, address=address, issued_at=issued_at,
                                      expires_at=expires_at, message=write(address, nonce, issued_at, expires_at))


def _signature_is_valid(chain: str, address: str, message: str, signature: str) -> bool:
    if chain == Wallet.Chain.EVM:
        from eth_account import Account
        from eth_account.messages import encode_defunct

        try:
            recovered = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception:  # noqa: BLE001  any undecodable signature is the same refusal
            raise SignInRefused(MALFORMED_SIGNATURE.format(kind="EIP-191")) from None
        return recovered.lower() == address
    from solders.pubkey import Pubkey
    from solders.signature import Signature

    try:
        parsed = Signature.from_string(signature.strip())
    except Exception:  # noqa: BLE001
        raise SignInRefused(MALFORMED_SIGNATURE.format(kind="base58 ed25519")) from None
    return parsed.verify(Pubkey.from_string(address), message.encode())


@dataclass(frozen=True)
class SignIn:
    client: Client
    token: str
    expires_at: datetime | None


def verify_sign_in(*, address: str, message: str, signature: str) -> SignIn:
    """Check a signed message we issued; burn its nonce and return a new token for the wallet's client.

    Raises SignInRefused (401 for a bad proof, 403 NOT_REGISTERED for a wallet no client has).
    """
    found = canonical_wallet(address)
    if found is None:
        raise ValidationError({"wallet_address": BAD_ADDRESS})
    chain, address = found
    match = _NONCE_LINE.search(message or "")
    issued = SignInNonce.objects.filter(nonce=match.group(1)).first() if match else None
    if issued is None or issued.message != message or issued.address != address or issued.chain != chain:
        raise SignInRefused(NOT_ISSUED)
    if not _signature_is_valid(chain, address, message, signature or ""):
        raise SignInRefused(BAD_SIGNATURE)
    now = timezone.now()
    if issued.expires_at <= now:
        raise SignInRefused(EXPIRED)
    wallet = Wallet.objects.select_related("client").filter(chain=chain, address=address).first()
    if wallet is None or not wallet.client.is_active:
        raise SignInRefused(NOT_REGISTERED, status=403)
    # The conditional update decides between two requests racing with one signed message.
    if not SignInNonce.objects.filter(pk=issued.pk, used_at__isnull=True).update(used_at=now):
        raise SignInRefused(USED)
    token, expires_at = issue_token(wallet.client)
    return SignIn(wallet.client, token, expires_at)


@transaction.atomic
def user_for_client(client: Client):
    """The Django user that owns the client's API tokens, made on first use."""
    if client.user_id:
        return client.user
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=f"client-{client.account_identifier}")
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Client.objects.filter(pk=client.pk).update(user=user)
    client.user = user
    return user


def issue_token(client_or_user, *, ttl: timedelta | None = None) -> tuple[str, datetime | None]:
    """A new API token (returned once; only its digest is stored) and its expiry."""
    from knox.models import AuthToken
    from knox.settings import knox_settings

    user = user_for_client(client_or_user) if isinstance(client_or_user, Client) else client_or_user
    instance, token = AuthToken.objects.create(user, expiry=ttl or knox_settings.TOKEN_TTL)
    return token, instance.expiry


def revoke_tokens(user) -> int:
    """Delete every token of ``user``; each process forgets its cached ones within API_TOKEN_CACHE_S."""
    from knox.models import AuthToken

    from clients.principal import forget_all

    count, _ = AuthToken.objects.filter(user=user).delete()
    forget_all()
    return count
