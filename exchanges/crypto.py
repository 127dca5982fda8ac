"""Encryption at rest for API keys, secrets, memos and wallet private keys.

MultiFernet over ``settings.ENCRYPTION_KEYS``: the first key encrypts, every key decrypts, so a
new key can be put in front and ``manage.py rotate_keys`` re-encrypts under it. Decrypted values
are registered with the log scrubber the moment they exist.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from pipelabs.logging import register_secret

DECRYPT_FAILED = "A stored secret could not be decrypted with the configured ENCRYPTION_KEYS."


class DecryptionError(Exception):
    pass


def dev_key(secret_key: str) -> str:
    """The key local development uses when ENCRYPTION_KEYS is unset (production refuses that)."""
    return base64.urlsafe_b64encode(hashlib.sha256(("pipelabs-dev:" + secret_key).encode()).digest()).decode()


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("ENCRYPTION_KEYS holds a value that is not a Fernet key.") from exc


def fernet() -> MultiFernet:
    keys = tuple(settings.ENCRYPTION_KEYS) or (dev_key(settings.SECRET_KEY),)
    return _fernet(keys)


@sensitive_variables()
def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        value = fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(DECRYPT_FAILED) from None
    register_secret(value)
    return value


def rotate(token: str) -> str:
    """The same secret encrypted under the first (newest) key."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(DECRYPT_FAILED) from None


@sensitive_variables()
def hint(plaintext: str) -> str:
    """What an operator may see of a secret: its last 4 characters."""
    return plaintext[-4:] if len(plaintext) > 8 else ""
