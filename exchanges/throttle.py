"""A request throttle shared by every process, kept in Django's cache.

Two budgets per call: one per exchange account (the venue's per-key limit) and one per exchange
for this server (every bot on the server shares one IP, and a venue bans the IP, not the bot).
Counters are fixed windows in the default cache (the database cache, or Redis with REDIS_URL),
so every web and worker process counts against the same numbers.

When the shared budget cannot be read (the cache fails, or answers slower than
``SLOW_CACHE_S``) the throttle fails open to a budget of its own: for ``CACHE_RETRY_S`` this
process leaves the cache alone and counts the same limits in memory, then asks the cache again.
Open, because failing closed would stop every exchange call, cancels included, for as long as
the cache is down: a cache outage must not stop the platform from getting out of the market.
Counted in memory, because going ahead uncounted would let each bot's loop hammer the venue
into an IP ban. The cost: while the cache is down each process has the whole budget to itself
(N processes may send N times the budget), and the window the outage began in may count twice.

``acquire`` is bounded: it returns or raises RateLimited within ``max_wait_s`` plus at most one
cache operation's own timeout (Redis ``socket_timeout``, 2 s in settings), since a hung cache is
asked once and then left alone. A cache without its own timeout could still block that one call.

Limits come from ``settings.EXCHANGE_RATE_LIMITS``: ``{exchange_id: {"account": "10/s",
"ip": "20/s"}}`` with a ``"default"`` entry for every other venue; ``None`` turns a scope off.
The database cache's increment is a read then a write, so under heavy contention it can
under-count a little; Redis counts exactly.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from exchanges.errors import RateLimited

logger = logging.getLogger(__name__)

DEFAULT_RATE_LIMITS = {
    "default": {"account": "10/s", "ip": "20/s"},
    # BitMart: 12 requests per 2 s per key on most private endpoints; 150 per 5 s per IP
    # (ccxt's figure). Kept at ~80% so other tools on the same key have room.
    "bitmart": {"account": "5/s", "ip": "25/s"},
    # Coinstore's docs: 120 requests per 3 s per user, 300 per 3 s per IP.
    "coinstore": {"account": "30/s", "ip": "80/s"},
    # Solana's public RPC allows 100 requests per 10 s per IP; a private RPC allows far more
    # (raise it with EXCHANGE_RATE_LIMITS).
    "jupiter": {"account": "5/s", "ip": "10/s"},
    # The paper exchange is our own database: no venue to protect, so no budget.
    "paper": {"account": None, "ip": None},
}
PERIODS_S = {"s": 1, "m": 60, "h": 3600}
THROTTLED = "Throttled locally: the shared request budget for {scope} is spent."
CACHE_RETRY_S = 5.0  # after the shared cache failed or was slow, count in memory this long
SLOW_CACHE_S = 0.5  # a cache answer slower than this is an outage (a window is 1 s)

# Per cache backend instance (Django keeps one per thread): until when it is left alone.
_cache_down_until: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_local_counts: dict[str, int] = {}  # this process's own counters while the cache is down
_local_lock = threading.Lock()


def _count_locally(cache_key: str, window: int) -> int:
    with _local_lock:
        count = _local_counts[cache_key] = _local_counts.get(cache_key, 0) + 1
        if len(_local_counts) > 10_000:  # forget finished windows (keys end with their window)
            for key in [k for k in _local_counts if int(k.rsplit(":", 1)[1]) < window - 1]:
                del _local_counts[key]
        return count


@dataclass(frozen=True)
class Rate:
    limit: int
    period_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"10/s"``, ``"600/m"``, ``"5/2s"``."""
        count, _, period = str(text).partition("/")
        unit = period[-1:] or "s"
        return cls(int(count), int(period[:-1] or 1) * PERIODS_S[unit])


def rate_limits() -> dict:
    return getattr(settings, "EXCHANGE_RATE_LIMITS", DEFAULT_RATE_LIMITS)


def rates_for(exchange: str) -> dict[str, Rate | None]:
    """The account and ip rates of a venue; None means that scope is not throttled."""
    limits = rate_limits()
    entry = {
        **DEFAULT_RATE_LIMITS["default"],
        **limits.get("default", {}),
        **DEFAULT_RATE_LIMITS.get(exchange, {}),
        **limits.get(exchange, {}),
    }
    return {scope: None if text is None else Rate.parse(text) for scope, text in entry.items()}


class Throttle:
    """Blocks a call until both its budgets allow it, for at most ``max_wait_s``."""

    def __init__(self, cache=None, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self._cache = cache
        self.sleep = sleep
        self.clock = clock

    @property
    def cache(self):
        if self._cache is None:
            from django.core.cache import caches

            return caches["default"]  # the backend itself (not the proxy): outages are kept per backend
        return self._cache

    def wait_needed(self, key: str, rate: Rate) -> float:
        """Count one call in the current window; 0 when allowed, else seconds until the next window."""
        return self._take(key, rate)[0]

    def _take(self, key: str, rate: Rate) -> tuple[float, int]:
        """Count one call in the current window: (seconds to wait, 0 when allowed; the window)."""
        now = self.clock()
        window = int(now // rate.period_s)
        cache_key = f"xthrottle:{key}:{rate.period_s}:{window}"
        count = self._count_shared(cache_key, rate, now)
        if count is None:
            count = _count_locally(cache_key, window)
        if count <= rate.limit:
            return 0.0, window
        return (window + 1) * rate.period_s - self.clock(), window

    def _count_shared(self, cache_key: str, rate: Rate, now: float) -> int | None:
        """The shared count after this call, or None when the cache is (or just went) down."""
        cache = self.cache
        try:
            if _cache_down_until.get(cache, 0.0) > now:
                return None
        except TypeError:  # a cache object that cannot be weakly referenced: always asked
            pass
        started = time.monotonic()
        try:
            try:
                count = cache.incr(cache_key)
            except ValueError:  # first call of the window (one round trip on the usual path)
                count = 1 if cache.add(cache_key, 1, timeout=rate.period_s * 2) else cache.incr(cache_key)
        except Exception as exc:  # any cache outage: count in memory for a while
            self._down(cache, now, type(exc).__name__)
            return None
        took = time.monotonic() - started
        if took > SLOW_CACHE_S:
            self._down(cache, now, f"slow ({took:.2f}s)")
        return count

    @staticmethod
    def _down(cache, now: float, why: str) -> None:
        logger.warning(
            "exchange throttle cache unavailable: %s; calls counted per process for %.0fs", why, CACHE_RETRY_S,
        )
        try:
            _cache_down_until[cache] = now + CACHE_RETRY_S
        except TypeError:
            pass

    def acquire(self, exchange: str, account_id, *, max_wait_s: float = 10.0) -> None:
        """Wait for the account's and the server IP's budget; RateLimited if that takes too long.

        Returns only when every budget has counted this request in the window it is sent in: the
        account slot is taken first (waiting for it costs the shared IP budget nothing), then the
        IP slot; when the IP budget is spent, or a window turns over meanwhile, it waits and counts
        both again. Slots counted in a window the request then misses are lost (over-counting),
        never the other way round.
        """
        rates = rates_for(exchange)
        deadline = self.clock() + max_wait_s
        scopes = [
            (key, rate)
            for key, rate in ((f"account:{exchange}:{account_id}", rates["account"]), (f"ip:{exchange}", rates["ip"]))
            if rate is not None
        ]
        while scopes:
            counted, wait, refused = [], 0.0, ""
            for key, rate in scopes:
                wait, window = self._take(key, rate)
                if wait > 0:
                    refused = key
                    break
                counted.append((rate, window))
            else:
                now = self.clock()
                if all(int(now // rate.period_s) == window for rate, window in counted):
                    return
                if now >= deadline:  # counting itself outlasts the windows: never loop for ever
                    raise RateLimited(THROTTLED.format(scope="this server"), exchange=exchange, local=True)
                continue  # a window turned over while counting: count again in the new one
            if self.clock() + wait > deadline:
                raise RateLimited(THROTTLED.format(scope=refused.split(":")[0]), exchange=exchange, local=True)
            self.sleep(wait)
