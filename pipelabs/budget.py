"""Database work that must finish within a short time or fail, for /health and the rate limiter.

A web request has generous limits (``WEB_STATEMENT_TIMEOUT_S``); a health probe and a rate-limit
counter must not wait that long on a sick database: a probe that answers late is as bad as none,
and the limiter fails open instead of holding every request.
"""

import math
import time
from contextlib import contextmanager, nullcontext

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction


@contextmanager
def db_budget(seconds: float, using: str = DEFAULT_DB_ALIAS):
    """Queries inside the block fail (a ``DatabaseError``) rather than take longer than ``seconds``.

    PostgreSQL: connecting within ``seconds`` (``pipelabs.postgresql``), then ``statement_timeout``
    and ``lock_timeout`` for the rest of the budget, set LOCAL to a transaction around the block.
    SQLite: the busy timeout (how long to wait for another process's lock) is cut to the budget.
    """
    connection = connections[using]
    deadline = time.monotonic() + seconds
    if connection.vendor == "postgresql":
        budget = getattr(connection, "connect_budget", None)
        nested = connection.in_atomic_block
        with budget(seconds) if budget else nullcontext(), transaction.atomic(using=using):
            remaining_ms = max(1, math.ceil((deadline - time.monotonic()) * 1000))
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                    [f"{remaining_ms}ms", f"{remaining_ms}ms"],
                )
            yield
            if nested:  # LOCAL lasts to the end of the enclosing transaction: give it its limits back
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT; SET LOCAL lock_timeout TO DEFAULT")
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        usual_ms = round(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5) * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {max(1, math.ceil(seconds * 1000))}")
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"PRAGMA busy_timeout = {usual_ms}")
            except DatabaseError:  # the block's own error is the one to report
                connection.close_if_unusable_or_obsolete()
    else:
        yield
