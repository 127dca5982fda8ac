"""What every API view shares: root routes with and without a trailing slash, deleted answers, the
documented error answers. Who may call what: clients/api/permissions.py."""

from django.urls import re_path
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from pipelabs.api.memo import note_write


def route(pattern: str, view, name: str):
    """``pattern`` answered with and without a trailing slash, never redirected (a redirect breaks
    the browser's preflight and drops a POST's body)."""
    return re_path(rf"^{pattern}/?$", view, name=name)


class ApiView(APIView):
    """Every API view: a request that may have written (any method but GET/HEAD/OPTIONS, answered
    or refused) makes every process re-read the stamps of the answers it remembers."""

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method not in SAFE_METHODS:
            note_write()
        return super().finalize_response(request, response, *args, **kwargs)


def deleted(id_, key: str = "id") -> dict:
    return {"status": "deleted", key: id_}


def paths_without_trailing_slash(endpoints):
    """drf-spectacular hook: ``/bots/`` (from ``^bots/?$``) documented as ``/bots``."""
    return [(path.rstrip("/") if regex.endswith("/?$") else path, regex, method, callback)
            for path, regex, method, callback in endpoints]


ERROR_STATUSES = {
    "400": "Invalid input: `detail` names the first problem, `errors` lists them by field.",
    "401": "No valid token or wallet sign-in.",
    "403": "Signed in but not allowed: an admin-only route, an operator role without this right, or a managed client changing its bots or keys.",
    "404": "No such object, or it is another client's.",
    "409": "The request conflicts with the object's current state.",
    "429": "Rate limited; retry later.",
    "503": "The exchange did not answer usably; nothing was changed.",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "exchange_code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail", "code"],
}


def error_responses(result, generator, request, public):
    """drf-spectacular hook: the one exception handler's answers (pipelabs/api/exceptions.py),
    documented on every operation so a client (and the fuzz test) knows every status it can get."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in result.get("paths", {}).items():
        if path == "/api/schema/":
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, {**error, "description": description})
    return result
