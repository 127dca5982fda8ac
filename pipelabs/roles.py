"""Operator roles as Django groups: what each kind of staff user may do in the admin.

- support: looks at everything, changes nothing.
- trader: support, plus creating bots, editing their config and starting / stopping them.
- admin: everything in the platform's apps, exchange credentials and wallet keys included.

The groups are (re)written after every migrate, so a new model's permissions reach its role
without a data migration, and an operator's hand edits to a group are put back to this table.
"""
from django.apps import apps
from django.contrib.auth.models import Group, Permission

APPS = ("clients", "bots", "exchanges", "ledger", "pipelabs", "django_q")
TRADER_EXTRA = ("bots.add_bot", "bots.change_bot")
ROLES = ("support", "trader", "admin")


def _permissions(role: str):
    perms = Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
    if role == "admin":
        return list(perms)
    wanted = {f"{p.content_type.app_label}.{p.codename}" for p in perms if p.codename.startswith("view_")}
    if role == "trader":
        wanted.update(TRADER_EXTRA)
    return [p for p in perms if f"{p.content_type.app_label}.{p.codename}" in wanted]


def ensure_roles() -> dict[str, Group]:
    groups = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(role))
        groups[role] = group
    return groups


def sync_roles(sender=None, **kwargs):
    """post_migrate receiver. It is sent once per app; permissions are created app by app in the
    same signal, so the groups are written at the last app, when every permission exists."""
    if sender is list(apps.get_app_configs())[-1]:
        ensure_roles()
