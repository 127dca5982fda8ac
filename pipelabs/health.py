"""Health endpoints. Plain Django views: they must answer even when the database does not."""

import ipaddress
import json
import logging
import time
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max, Q
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from bots.models import Bot
from exchanges.connectors.http import read_within
from pipelabs.budget import db_budget
from pipelabs.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

EGRESS_CACHE_KEY = "pipelabs:egress-ip"
STALE_IDS_SHOWN = 100
EGRESS_CACHE_S = 300
EGRESS_FAILURE_CACHE_S = 30


def _database_status(budget_s: float) -> dict:
    started = time.perf_counter()
    try:
        with db_budget(budget_s), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Drop the broken connection so the next request reconnects instead of reusing it.
        connection.close_if_unusable_or_obsolete()
        logger.error("health: database unreachable", exc_info=True)
        return {"ok": False, "error": type(exc).__name__, "vendor": connection.vendor}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2), "vendor": connection.vendor}


def _workers_status(now) -> dict:
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if beat is None:
        return {"alive": False, "last_seen_s": None}
    age = (now - beat.seen_at).total_seconds()
    return {"alive": age <= settings.WORKER_STALE_AFTER_S, "last_seen_s": round(age, 1)}


def _deadline():
    """Seconds left of this probe's HEALTH_TIMEOUT_S, shared by its steps (a little at least)."""
    end = time.monotonic() + settings.HEALTH_TIMEOUT_S
    return lambda: max(0.05, end - time.monotonic())


@require_GET
def health(request):
    now = timezone.now()
    remaining = _deadline()
    database = _database_status(remaining())
    body = {
        "status": "healthy",
        "version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
        "time": now.isoformat(),
        "database": database,
    }
    if not database["ok"]:
        body["status"] = "unhealthy"
        body["workers"] = {"alive": None, "last_seen_s": None}
        return JsonResponse(body, status=503)
    try:
        with db_budget(remaining()):
            body["workers"] = _workers_status(now)
    except Exception as exc:  # a locked table, or the release step's migrations have not run
        connection.close_if_unusable_or_obsolete()
        logger.error("health: worker heartbeat unreadable", exc_info=True)
        body.update(status="unhealthy", workers={"alive": None, "error": type(exc).__name__})
        return JsonResponse(body, status=503)
    if not body["workers"]["alive"]:
        body["status"] = "degraded"
    return JsonResponse(body)


@require_GET
def bot_runner(request):
    now = timezone.now()
    try:
        with db_budget(settings.HEALTH_TIMEOUT_S):
            return _bot_runner_status(now)
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        logger.error("health: bot runner status unavailable", exc_info=True)
        return JsonResponse({"status": "unhealthy", "detail": f"Database unavailable ({type(exc).__name__})."}, status=503)


def _bot_runner_status(now) -> JsonResponse:
    workers = _workers_status(now)
    running = Bot.objects.filter(status=Bot.Status.RUNNING)
    stale_before = now - timezone.timedelta(seconds=settings.BOT_STALE_AFTER_S)
    stale = running.filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before))
    stale_count = stale.count()
    stale_ids = list(stale.order_by("id").values_list("id", flat=True)[:STALE_IDS_SHOWN])
    # NULLs sort first in a descending PostgreSQL order: a never-ticked bot must not hide the rest.
    newest_tick = running.aggregate(newest=Max("heartbeat_at"))["newest"]
    running_count = running.count()
    status = "healthy" if workers["alive"] and not stale_count else "degraded"
    return JsonResponse(
        {
            "status": status,
            "workers": workers,
            "running_bots": running_count,
            "stale_bots": stale_count,
            "stale_bot_ids": stale_ids,
            "last_tick_age_s": round((now - newest_tick).total_seconds(), 1) if newest_tick else None,
        }
    )


def _lookup_egress_ip() -> str:
    timeout = settings.EGRESS_IP_TIMEOUT_S
    started = time.monotonic()
    response = requests.get(settings.EGRESS_IP_URL, timeout=(timeout, timeout), stream=True)
    # The whole answer within the timeout: a lookup service trickling bytes must not hold a worker.
    body = read_within(response, started + timeout).decode("utf-8", "replace").strip()
    response.raise_for_status()
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    value = payload.get("ip") if isinstance(payload, dict) else body
    return str(ipaddress.ip_address(str(value).strip()))


@require_GET
def egress_ip(request):
    """The server's outbound IP, which operators whitelist at exchanges (BitMart, Coinstore)."""
    try:
        cached = cache.get(EGRESS_CACHE_KEY)
    except Exception:
        cached = None
    if cached:
        return JsonResponse(cached, status=503 if "detail" in cached else 200)
    source = urlparse(settings.EGRESS_IP_URL).netloc
    try:
        ip = _lookup_egress_ip()
    except requests.Timeout:
        reason = f"the lookup at {source} timed out after {settings.EGRESS_IP_TIMEOUT_S:g}s"
    except requests.RequestException as exc:
        reason = f"the lookup at {source} failed ({type(exc).__name__})"
    except ValueError:
        reason = f"the lookup at {source} did not answer with an IP address"
    else:
        body = {"ip": ip, "source": source, "checked_at": timezone.now().isoformat()}
        try:
            cache.set(EGRESS_CACHE_KEY, body, EGRESS_CACHE_S)
        except Exception:
            pass
        return JsonResponse(body)
    logger.warning("egress ip lookup failed: %s", reason)
    body = {"detail": f"Could not determine the egress IP: {reason}.", "code": "egress_ip_unavailable"}
    try:  # briefly, so a slow lookup service is not asked again by every caller at once
        cache.set(EGRESS_CACHE_KEY, body, EGRESS_FAILURE_CACHE_S)
    except Exception:
        pass
    return JsonResponse(body, status=503)
