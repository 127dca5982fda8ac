import logging
import re
import uuid

from django.conf import settings
from django.http import JsonResponse

from pipelabs.api.exceptions import METHOD_NOT_ALLOWED, NOT_FOUND, SERVER_ERROR
from django_ratelimit.core import is_ratelimited

from pipelabs.logging import request_id_var

logger = logging.getLogger(__name__)

RATE_LIMITED = "Too many requests; slow down and retry shortly."
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Paths that carry their own, higher limit (the seed's /health: 1000/minute).
_HEALTH_PREFIXES = ("/health", "/egress-ip", "/railway-ip")
_UNLIMITED_PREFIXES = ("/static/",)


_JSON_ERRORS = {
    404: (NOT_FOUND, "not_found"),
    405: (METHOD_NOT_ALLOWED, "method_not_allowed"),
    500: (SERVER_ERROR, "server_error"),
}


class JsonErrorsMiddleware:
    """Outside the admin, a 404, 405 or 500 that is not JSON yet becomes ``{"detail", "code"}``.

    handler404/handler500 cover DEBUG=False; this also replaces Django's debug pages (DEBUG=True)
    and the empty 405 of ``require_GET``, so the API's clients get one error shape everywhere.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = _JSON_ERRORS.get(response.status_code)
        if error is None or request.path.startswith("/admin/"):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        detail, code = error
        replacement = JsonResponse({"detail": detail, "code": code}, status=response.status_code)
        if response.has_header("Allow"):
            replacement["Allow"] = response["Allow"]
        return replacement


class RequestIdMiddleware:
    """Tags the request and its log lines with an id, taken from X-Request-ID when sane."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.id
        return response


def client_ip(request) -> str:
    """The caller's address: the peer, or the configured proxy header's trusted entry."""
    if settings.CLIENT_IP_HEADER:
        meta_key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
        hops = [hop.strip() for hop in request.META.get(meta_key, "").split(",") if hop.strip()]
        if hops:
            return hops[-min(max(settings.PROXY_COUNT, 1), len(hops))]
    return request.META.get("REMOTE_ADDR", "")


def _ip_key(group, request):
    return client_ip(request)


class RateLimitMiddleware:
    """Per-IP limits through django-ratelimit, counted in the shared cache.

    If the cache itself is down (the database cache during a database outage) requests pass:
    refusing everything would turn a cache problem into a full outage, and /health must answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.RATELIMIT_ENABLE and not request.path.startswith(_UNLIMITED_PREFIXES):
            health = request.path.startswith(_HEALTH_PREFIXES)
            try:
                limited = is_ratelimited(
                    request,
                    group="health" if health else "api",
                    key=_ip_key,
                    rate=settings.HEALTH_RATE_LIMIT if health else settings.API_RATE_LIMIT,
                    increment=True,
                )
            except Exception as exc:
                logger.warning("rate limit cache unavailable (%s); request let through", type(exc).__name__)
                limited = False
            if limited:
                return JsonResponse({"detail": RATE_LIMITED, "code": "rate_limited"}, status=429)
        return self.get_response(request)
