"""Django's PostgreSQL backend, plus two time limits.

- Connecting has a wall-clock deadline in seconds (``DB_CONNECT_TIMEOUT_S``, or a shorter one
  for a block of code through ``connect_budget``). libpq's own ``connect_timeout`` is whole
  seconds and at least 2, too coarse for a health check that must answer within 2 s when the
  database accepts connections and never answers: the connection is opened in a helper thread
  and abandoned at the deadline (the thread ends at libpq's timeout and closes what it got).
- Every session starts with ``statement_timeout`` and ``lock_timeout``: the web process's limits
  when it serves requests (``pipelabs.wsgi`` marks it), the workers' and commands' otherwise,
  since migrations and long commands need more.
"""

import math
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db.backends.postgresql import base

from pipelabs import env

# Connection attempts under way in this process, including those whose caller gave up; past this
# many no new one starts (a flood of requests against a hung database must not pile up threads).
MAX_PENDING_CONNECTS = 8
_pending = threading.BoundedSemaphore(MAX_PENDING_CONNECTS)


def session_timeouts() -> tuple[float, float]:
    """(statement_timeout, lock_timeout) in seconds for this process's sessions; 0 is no limit."""
    if env.is_web_process():
        return settings.WEB_STATEMENT_TIMEOUT_S, settings.WEB_LOCK_TIMEOUT_S
    return settings.WORKER_STATEMENT_TIMEOUT_S, settings.WORKER_LOCK_TIMEOUT_S


class DatabaseWrapper(base.DatabaseWrapper):
    connect_deadline_s: float | None = None

    @contextmanager
    def connect_budget(self, seconds: float):
        """A connection opened inside this block must be up within ``seconds``."""
        previous, self.connect_deadline_s = self.connect_deadline_s, seconds
        try:
            yield
        finally:
            self.connect_deadline_s = previous

    def get_connection_params(self):
        params = super().get_connection_params()
        statement_s, lock_s = session_timeouts()
        options = [params.get("options") or ""]
        if statement_s:
            options.append(f"-c statement_timeout={math.ceil(statement_s * 1000)}")
        if lock_s:
            options.append(f"-c lock_timeout={math.ceil(lock_s * 1000)}")
        params["options"] = " ".join(option for option in options if option)
        if not params["options"]:
            del params["options"]
        return params

    def get_new_connection(self, conn_params):
        budget = self.connect_deadline_s or settings.DB_CONNECT_TIMEOUT_S
        if not budget:
            return super().get_new_connection(conn_params)
        if not _pending.acquire(blocking=False):
            raise self.Database.OperationalError(
                f"{MAX_PENDING_CONNECTS} connection attempts to the database are still pending"
            )
        outcome: dict = {}
        done = threading.Event()
        lock = threading.Lock()

        def attempt():
            try:
                connection = super(DatabaseWrapper, self).get_new_connection(conn_params)
            except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                outcome["error"] = exc
            else:
                with lock:
                    if outcome.get("abandoned"):
                        connection.close()
                    else:
                        outcome["connection"] = connection
            finally:
                done.set()
                _pending.release()

        started = time.monotonic()
        threading.Thread(target=attempt, name="pipelabs-db-connect", daemon=True).start()
        done.wait(budget)
        with lock:
            if "connection" in outcome:
                return outcome["connection"]
            if "error" in outcome:
                raise outcome["error"]
            outcome["abandoned"] = True
        raise self.Database.OperationalError(
            f"connection to the database timed out after {time.monotonic() - started:.1f}s"
        )
