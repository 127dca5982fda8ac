"""What every API view shares: root routes with and without a trailing slash, admin-only access."""

from django.urls import re_path
from rest_framework.permissions import BasePermission

ADMIN_ONLY = "Only an admin may do this."


def route(pattern: str, view, name: str):
    """``pattern`` answered with and without a trailing slash, never redirected (a redirect breaks
    the browser's preflight and drops a POST's body)."""
    return re_path(rf"^{pattern}/?$", view, name=name)


class IsAdmin(BasePermission):
    message = ADMIN_ONLY

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


def deleted(id_, key: str = "id") -> dict:
    return {"status": "deleted", key: id_}


def paths_without_trailing_slash(endpoints):
    """drf-spectacular hook: ``/bots/`` (from ``^bots/?$``) documented as ``/bots``."""
    return [(path.rstrip("/") if regex.endswith("/?$") else path, regex, method, callback)
            for path, regex, method, callback in endpoints]
