"""The one DRF exception handler: every error is ``{"detail": ..., "code": ...}``.

Statuses: validation 400, unauthenticated 401, forbidden 403, not found 404, conflicting state
409, rate limited 429, exchange unavailable 503.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from exchanges.errors import ExchangeError

logger = logging.getLogger(__name__)

NOT_FOUND = "Not found."
METHOD_NOT_ALLOWED = "Method not allowed."
SERVER_ERROR = "Internal server error; the error was logged."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if field in ("non_field_errors", "__all__", "detail") else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def handle_exception(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(errors)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        # Our selectors' texts ("Client not found") are what the frontend matches.
        exc = exceptions.NotFound(str(exc) or NOT_FOUND)
    elif isinstance(exc, ExchangeError):
        body = {"detail": str(exc), "code": exc.code}
        if exc.exchange_code:
            body["exchange_code"] = exc.exchange_code
        return Response(body, status=exc.http_status)

    response = exception_handler(exc, context)
    if response is None:
        return None  # Django's handler500 answers, in JSON
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "code": "invalid", "errors": exc.detail}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        response.data = {"detail": str(getattr(exc, "detail", exc)), "code": codes if isinstance(codes, str) else "error"}
    return response


def json_404(request, exception=None):
    return JsonResponse({"detail": NOT_FOUND, "code": "not_found"}, status=404)


def json_500(request):
    return JsonResponse({"detail": SERVER_ERROR, "code": "server_error"}, status=500)
