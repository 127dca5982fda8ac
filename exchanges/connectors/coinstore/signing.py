"""Coinstore's request signature (https://coinstore-openapi.github.io/en/#signature-authentication).

The secret never signs the payload directly: it first signs the 30-second bucket of the request
time, and that hex digest is the key that signs the payload. A signature is therefore valid only
while the server's clock is in the same bucket as ``X-CS-EXPIRES``.
"""

from __future__ import annotations

import hashlib
import hmac

EXPIRY_BUCKET_MS = 30_000


def expires_key(expires_ms: int) -> str:
    """The bucket string Coinstore derives from ``X-CS-EXPIRES``: floor(expires / 30000)."""
    return str(expires_ms // EXPIRY_BUCKET_MS)


def signature(secret: str, expires_ms: int, payload: bytes) -> str:
    """Hex ``X-CS-SIGN`` for ``payload`` (raw query string for GET, raw JSON body for POST)."""
    key = hmac.new(secret.encode(), expires_key(expires_ms).encode(), hashlib.sha256).hexdigest()
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()
