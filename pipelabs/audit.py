"""The audit trail's one writer, importable by every app (a venue need not know bots exist)."""

from __future__ import annotations

from pipelabs.models import AuditEvent

MASK = "***"
# Keys whose values never reach the trail, at any depth of `changes`.
SECRET_WORDS = ("secret", "password", "passphrase", "private_key", "api_key", "token", "memo", "seed")


def masked(value):
    """`value` with every secret-looking key's value replaced by MASK (dicts and lists, any depth)."""
    if isinstance(value, dict):
        return {key: MASK if _is_secret(key) and item not in (None, "") else masked(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    return value


def _is_secret(key) -> bool:
    key = str(key).lower()
    return any(word in key for word in SECRET_WORDS)


def record_event(*, actor: str, action: str, bot=None, client=None, client_id: int | None = None,
                 target: str = "", changes: dict | None = None, reason: str = "") -> AuditEvent:
    """An audit row, secrets masked; callers write it inside the transaction of the change it records."""
    if client is None and client_id is None and bot is not None:
        client_id = bot.client_id
    return AuditEvent.objects.create(
        actor=str(actor)[:200] or "system",
        action=action,
        bot=bot,
        client_id=client.pk if client is not None else client_id,
        target=(target or (str(bot) if bot is not None else (str(client) if client is not None else "")))[:200],
        changes=masked(changes or {}),
        reason=reason,
    )
