"""A small per-process memory of rendered answers, valid while their stamp is unchanged and for a
few seconds at most."""

from __future__ import annotations

import threading
import time

from django.conf import settings

MAX_ENTRIES = 512


class ListCache:
    """Rendered answers keyed by the request, each kept with the stamp (e.g. count and last change of
    the rows listed) it was computed under; a different stamp or an expired entry is a miss."""

    def __init__(self, setting: str):
        self.setting = setting
        self.entries: dict = {}
        self.lock = threading.Lock()

    @property
    def ttl_s(self) -> float:
        return float(getattr(settings, self.setting, 0) or 0)

    def get(self, key, stamp) -> bytes | None:
        if self.ttl_s <= 0:
            return None
        with self.lock:
            entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic() or entry[1] != stamp:
            return None
        return entry[2]

    def put(self, key, stamp, answer: bytes) -> None:
        ttl = self.ttl_s
        if ttl <= 0:
            return
        with self.lock:
            if len(self.entries) >= MAX_ENTRIES:
                now = time.monotonic()
                self.entries = {k: v for k, v in self.entries.items() if v[0] >= now}
                if len(self.entries) >= MAX_ENTRIES:
                    self.entries.clear()
            self.entries[key] = (time.monotonic() + ttl, stamp, answer)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
