import functools
import ipaddress
import logging
import re
import uuid
from contextlib import nullcontext

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import router
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django_ratelimit.core import get_usage

from pipelabs.api.exceptions import METHOD_NOT_ALLOWED, NOT_FOUND, SERVER_ERROR
from pipelabs.budget import db_budget
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


def _trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> list:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def client_ip(request) -> str:
    """The caller's address: the peer, or the proxy header's trusted entry when the peer is one
    of ``TRUSTED_PROXIES`` (a client reaching the app directly could write any header)."""
    peer = request.META.get("REMOTE_ADDR", "")
    if settings.CLIENT_IP_HEADER and _trusted_proxy(peer):
        meta_key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
        hops = [hop.strip() for hop in request.META.get(meta_key, "").split(",") if hop.strip()]
        if hops:
            return hops[-min(max(settings.PROXY_COUNT, 1), len(hops))]
    return peer


def client_key(request) -> str:
    """What a limit counts: an IPv4 address, or an IPv6 address's network prefix (a /64 by
    default, which one subscriber gets whole and can rotate through freely)."""
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{settings.RATELIMIT_IPV6_PREFIX}", strict=False))
    return str(ip)


def _cache_budget():
    """The database cache's queries get RATELIMIT_DB_TIMEOUT_S, connecting included: a locked
    cache table or a hung database lets the request through quickly instead of holding it."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    if isinstance(cache, DatabaseCache):
        return db_budget(settings.RATELIMIT_DB_TIMEOUT_S, using=router.db_for_write(cache.cache_model_class))
    return nullcontext()


def _limited(request, *, group: str, key: str, rate: str, increment: bool) -> bool:
    """django-ratelimit on ``key``, failing open: if the cache is down (the database cache during a
    database outage) requests pass, since refusing everything would turn a cache problem into an
    outage. The key is computed by the caller, so a bug there is not mistaken for an outage.

    Counting (``increment``) limits past the rate's count; peeking limits at it, so that after
    five counted failures of ``5/15m`` the sixth attempt is refused before it runs.
    """
    try:
        with _cache_budget():
            usage = get_usage(request, group=group, key=lambda group, request: key, rate=rate, increment=increment)
    except Exception as exc:
        logger.warning("rate limit cache unavailable (%s); request let through", type(exc).__name__)
        return False
    if usage is None:  # the cache answered nothing (RATELIMIT_FAIL_OPEN)
        return False
    return usage["count"] > usage["limit"] if increment else usage["count"] >= usage["limit"]


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
            limited = _limited(
                request,
                group="health" if health else "api",
                key=client_key(request),
                rate=settings.HEALTH_RATE_LIMIT if health else settings.API_RATE_LIMIT,
                increment=True,
            )
            if limited:
                return JsonResponse({"detail": RATE_LIMITED, "code": "rate_limited"}, status=429)
        return self.get_response(request)


ADMIN_LOGIN_PATH = "/admin/login/"


class AdminLoginLimitMiddleware:
    """Failed admin sign-ins are limited per client (IP, or IPv6 prefix) and per username
    (``ADMIN_LOGIN_FAILURE_LIMIT``); once over, every attempt is refused, the right password too,
    until the window passes. Django's login view answers a failure with the form again (200) and
    a success with a redirect, which is what is counted.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or request.path != ADMIN_LOGIN_PATH or not settings.RATELIMIT_ENABLE:
            return self.get_response(request)
        username = request.POST.get("username", "")[:150]
        keys = [("admin-login-ip", client_key(request)), ("admin-login-user", username)]
        rate = settings.ADMIN_LOGIN_FAILURE_LIMIT
        if any(_limited(request, group=group, key=key, rate=rate, increment=False) for group, key in keys):
            logger.warning("admin login refused: too many failed attempts", extra={"client": client_key(request)})
            return _login_refused(rate)
        response = self.get_response(request)
        if response.status_code == 200:  # the form again: a failed attempt
            for group, key in keys:
                _limited(request, group=group, key=key, rate=rate, increment=True)
        return response


def _login_refused(rate: str) -> HttpResponse:
    from django_ratelimit.core import _split_rate

    minutes = max(1, round(_split_rate(rate)[1] / 60))
    message = f"Too many failed sign-in attempts; try again in {minutes} minutes."
    page = f"<!DOCTYPE html><title>Sign-in refused</title><h1>Sign-in refused</h1><p>{escape(message)}</p>"
    response = HttpResponse(page, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
