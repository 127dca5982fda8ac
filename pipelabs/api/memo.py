"""Rendered answers kept in memory (per process) and in the shared cache (Redis in production), each
valid while its stamp is unchanged and for a few seconds at most.

A stamp is read from the database (one cheap query: the rows' count and last change, or the row
itself) unless no write went through the API since this process last read it: every write
request changes a shared version (``note_write``), so a write through the API is seen by the next
read in any process. Other writers (the engine's heartbeats, a new balance snapshot, the admin)
are seen within the TTL.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connections

logger = logging.getLogger(__name__)

MAX_ENTRIES = 512
# An expired answer whose stamp still holds is served while one thread builds its successor, for at
# most this many TTLs; past that (builds failing) the request builds it itself.
MAX_STALE_TTLS = 5
REFRESH_LOCK_S = 30
# While the next answer is built elsewhere, an expired one is served from this process's memory for
# this long before the shared cache is asked again (not on every request: it is ~100 KB).
GRACE_S = 0.2
WRITES_KEY = "api:writes"
# A shared cache that failed (down, or hung past its socket timeout) is left alone by this process's
# reads for this long: they ask the database instead, rather than each waiting on the cache.
BACKOFF_S = 5.0
UNAVAILABLE = object()
_down_until = 0.0


def _shared(method: str, *args, always: bool = False):
    """``caches["default"].method(*args)``, or UNAVAILABLE when it fails or failed recently; the cache
    is an accelerator, so its failure costs speed, never an answer."""
    global _down_until
    if not always and time.monotonic() < _down_until:
        return UNAVAILABLE
    try:
        return getattr(caches["default"], method)(*args)
    except Exception as exc:
        _down_until = time.monotonic() + BACKOFF_S
        logger.warning("shared answer cache unavailable (%s); reads ask the database for %.0f s",
                       type(exc).__name__, BACKOFF_S)
        return UNAVAILABLE


def writes_version() -> str | None:
    """A token that changes with every write request to the API; None when the cache cannot say
    (then every read asks the database)."""
    version = _shared("get", WRITES_KEY)
    if version is None:
        _shared("add", WRITES_KEY, uuid.uuid4().hex, None)
        version = _shared("get", WRITES_KEY)
    return None if version is UNAVAILABLE else version


def note_write() -> None:
    """After a write request: every process asks the database again before answering from memory.
    A random token rather than a counter, so a cache that lost the key cannot repeat an old value.
    Tried even while reads leave the cache alone: writes are rare and must reach other processes."""
    _shared("set", WRITES_KEY, uuid.uuid4().hex, None, always=True)


class ListCache:
    """Rendered answers keyed by the request, each kept with the stamp (e.g. count and last change of
    the rows listed) it was computed under; a different stamp or an expired entry is a miss.

    ``shared`` also keeps each answer in the default cache under its key and stamp, so the first
    process to build an answer spares the others (a 100-bot list costs ~100 ms to build); a cache
    that fails or hangs (past its socket timeout) is only a miss.
    """

    # Tests that check a synchronous build turn this off.
    background = True

    def __init__(self, setting: str, *, shared: bool = False):
        self.setting = setting
        self.shared = shared
        self.entries: dict = {}
        self.checked: dict = {}  # key -> (writes version, owner, stamp) when the stamp was last read
        self.refreshing: set = set()
        self.lock = threading.Lock()

    @property
    def ttl_s(self) -> float:
        return float(getattr(settings, self.setting, 0) or 0)

    def _shared_key(self, key, stamp) -> str:
        return "answer:" + self.setting + ":" + hashlib.sha256(repr((key, stamp)).encode()).hexdigest()

    def unchanged(self, key, version, may_see=lambda owner: True) -> bytes | None:
        """The fresh answer for ``key`` if no write went through the API since its stamp was read
        here (``version``) and the caller ``may_see`` its owner; else None (read the stamp)."""
        if version is None:
            return None
        with self.lock:
            checked = self.checked.get(key)
        if checked is None or checked[0] != version or not may_see(checked[1]):
            return None
        found = self._lookup(key, checked[2], shared=False)
        return found[1] if found is not None and found[0] >= time.time() else None

    def stamp_read(self, key, version, owner, stamp) -> None:
        """``stamp`` was read from the database for ``key`` after ``version`` was read."""
        if version is None or self.ttl_s <= 0:
            return
        with self.lock:
            if len(self.checked) >= MAX_ENTRIES:
                self.checked.clear()
            self.checked[key] = (version, owner, stamp)

    def get(self, key, stamp) -> bytes | None:
        """The fresh answer for ``key`` under ``stamp``, else None."""
        found = self._lookup(key, stamp)
        return found[1] if found is not None and found[0] >= time.time() else None

    def answer(self, key, stamp, build: Callable[[], tuple[object, bytes]]) -> bytes:
        """The answer for ``key`` under ``stamp``: fresh from memory; else, if only its TTL has run
        out (its rows unchanged), the expired one while a background thread builds the next; else
        built here. ``build`` returns (its own stamp, answer), read together, so an answer is never
        filed under a stamp it was not built from."""
        found = self._lookup(key, stamp)
        now = time.time()
        if found is not None and found[0] >= now:
            return found[1]
        if found is not None and self.background and now - found[2] < MAX_STALE_TTLS * self.ttl_s:
            self._refresh_in_background(key, build)
            self._remember(key, stamp, found[1], found[2], fresh_until=now + min(GRACE_S, self.ttl_s))
            return found[1]
        built_stamp, answer = build()
        self.put(key, built_stamp, answer)
        return answer

    def _lookup(self, key, stamp, *, shared: bool = True) -> tuple[float, bytes, float] | None:
        """(served until, answer, expiry) kept for ``key`` under ``stamp``, fresh or not; None when
        none is. An answer is served past its expiry only for a grace while its successor is built."""
        if self.ttl_s <= 0:
            return None
        with self.lock:
            entry = self.entries.get(key)
        mine = (entry[0], entry[2], entry[3]) if entry is not None and entry[1] == stamp else None
        if not (shared and self.shared) or (mine is not None and mine[0] >= time.time()):
            return mine
        found = _shared("get", self._shared_key(key, stamp))
        if found is UNAVAILABLE:
            return mine
        if found and (mine is None or found[0] > mine[2]):
            self._remember(key, stamp, found[1], found[0])
            return found[0], found[1], found[0]
        return mine

    def _refresh_in_background(self, key, build) -> None:
        with self.lock:
            if key in self.refreshing:
                return
            self.refreshing.add(key)
        lock_key = self._shared_key(key, "refreshing")
        if self.shared and not _shared("add", lock_key, 1, REFRESH_LOCK_S):
            with self.lock:
                self.refreshing.discard(key)
            return  # another process builds it and shares it (a cache that is unavailable lets each build)

        def refresh():
            try:
                built_stamp, answer = build()
                self.put(key, built_stamp, answer)
            except Exception:
                logger.warning("background answer build failed", exc_info=True)
            finally:
                with self.lock:
                    self.refreshing.discard(key)
                if self.shared:
                    _shared("delete", lock_key)  # else it expires after REFRESH_LOCK_S
                connections.close_all()  # this thread's own connections

        threading.Thread(target=refresh, name="answer-refresh", daemon=True).start()

    def put(self, key, stamp, answer: bytes) -> None:
        ttl = self.ttl_s
        if ttl <= 0:
            return
        expires = time.time() + ttl
        self._remember(key, stamp, answer, expires)
        if self.shared:
            _shared("set", self._shared_key(key, stamp), (expires, answer), max(1, int(ttl) + 1))

    def _remember(self, key, stamp, answer: bytes, expires: float, *, fresh_until: float | None = None) -> None:
        with self.lock:
            if len(self.entries) >= MAX_ENTRIES:
                now = time.time()
                self.entries = {k: v for k, v in self.entries.items() if v[0] >= now}
                if len(self.entries) >= MAX_ENTRIES:
                    self.entries.clear()
            self.entries[key] = (fresh_until or expires, stamp, answer, expires)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.checked.clear()
