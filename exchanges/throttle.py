"""A request throttle shared by every process, kept in Django's cache.

Two budgets per call: one per exchange account (the venue's per-key limit) and one per exchange
for this server (every bot on the server shares one IP, and a venue bans the IP, not the bot).
Counters are fixed windows in the default cache (the database cache, or Redis with REDIS_URL),
so every web and worker process counts against the same numbers. When the cache cannot be
reached the call goes ahead: a missing counter must not stop trading.

Limits come from ``settings.EXCHANGE_RATE_LIMITS``: ``{exchange_id: {"account": "10/s",
"ip": "20/s"}}`` with a ``"default"`` entry for every other venue; ``None`` turns a scope off.
The database cache's increment is a read then a write, so under heavy contention it can
under-count a little; Redis counts exactly.
"""

from __future__ import annotations

import logging
import time
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
            from django.core.cache import cache

            return cache
        return self._cache

    def wait_needed(self, key: str, rate: Rate) -> float:
        """Count one call in the current window; 0 when allowed, else seconds until the next window."""
        return self._take(key, rate)[0]

    def _take(self, key: str, rate: Rate) -> tuple[float, int]:
        """Count one call in the current window: (seconds to wait, 0 when allowed; the window)."""
        now = self.clock()
        window = int(now // rate.period_s)
        cache_key = f"xthrottle:{key}:{rate.period_s}:{window}"
        try:
            try:
                count = self.cache.incr(cache_key)
            except ValueError:  # first call of the window (one round trip on the usual path)
                count = 1 if self.cache.add(cache_key, 1, timeout=rate.period_s * 2) else self.cache.incr(cache_key)
        except Exception as exc:  # any cache outage: let the call through
            logger.warning("exchange throttle cache unavailable, call not throttled: %s", type(exc).__name__)
            return 0.0, window
        if count <= rate.limit:
            return 0.0, window
        return (window + 1) * rate.period_s - now, window

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
                continue  # a window turned over while counting: count again in the new one
            if self.clock() + wait > deadline:
                raise RateLimited(THROTTLED.format(scope=refused.split(":")[0]), exchange=exchange, local=True)
            self.sleep(wait)
