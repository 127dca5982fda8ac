"""Where an account may point a connector: https anywhere, plain http only to allow-listed hosts.

Signed requests carry API keys, and a swap API's answer is a transaction we sign, so an account's
``api_url`` / ``rpc_url`` must not send them in clear or to wherever a typo points. Local fakes and
self-hosted nodes on a private network are allowed by name in ``EXCHANGE_HTTP_HOSTS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

INSECURE_URL = "{name} must be an https:// URL (plain http only for hosts in EXCHANGE_HTTP_HOSTS)"
MALFORMED_URL = "{name} must be an http(s) URL with a host"


def check_endpoint_url(url: object, name: str = "url") -> str:
    """The URL, stripped, if a connector may send to it; ValueError naming ``name`` otherwise."""
    if not isinstance(url, str):
        raise ValueError(MALFORMED_URL.format(name=name))
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        raise ValueError(MALFORMED_URL.format(name=name)) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(MALFORMED_URL.format(name=name))
    if parts.scheme == "http" and host.lower() not in {h.lower() for h in settings.EXCHANGE_HTTP_HOSTS}:
        raise ValueError(INSECURE_URL.format(name=name))
    return url.strip()
