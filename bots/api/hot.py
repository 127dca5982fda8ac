"""The two reads the frontend polls (``GET /bots`` and ``GET /bots/{id}``) answered from rendered
bytes whenever the rows behind them are unchanged.

Each request still asks the database one precompiled question (the bot's row, or the listed
rows' count and last change), scoped to the caller in SQL, so a write through the API is seen by
the next read and another client's bot is never answered; only the ORM, the figures and the JSON
are skipped. A caller whose token this process has checked recently skips DRF's request
machinery too (authentication, negotiation, rendering); anything else takes the ordinary path.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection
from django.http import Http404, HttpResponse

from bots.models import Bot
from bots.selectors import BOT_NOT_FOUND
from clients.principal import remembered_principal
from exchanges.models import ExchangeAccount

logger = logging.getLogger(__name__)

_bot_columns = ", ".join(f'b."{field.column}"' for field in Bot._meta.concrete_fields)
# Where the bot's client id sits in that row.
BOT_CLIENT = [field.name for field in Bot._meta.concrete_fields].index("client")
_BOT_ROW = (
    f'SELECT {_bot_columns}, a."name", a."exchange" FROM "{Bot._meta.db_table}" b '
    f'JOIN "{ExchangeAccount._meta.db_table}" a ON a."id" = b."account_id" WHERE b."id" = %s'
)


def bot_id_from(raw) -> int:
    """A path's bot id as selectors.access_bot reads it; anything else is a 404."""
    raw = str(raw)
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise Http404(BOT_NOT_FOUND)
    return int(raw)


def bot_row(principal, bot_id: int) -> tuple | None:
    """The bot's whole row (and its account's name and venue) if the caller may see it: the stamp
    of its rendered answer, since every field it shows is in it."""
    sql, params = _BOT_ROW, [bot_id]
    if not principal.sees_all_clients:
        sql, params = sql + ' AND b."client_id" = %s', [bot_id, principal.client_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


_stamp_sql: dict = {}
_stamp_lock = threading.Lock()


def list_stamp(key, queryset) -> tuple:
    """(count, last change) of the rows ``queryset`` lists; its SQL is compiled once per key."""
    with _stamp_lock:
        compiled = _stamp_sql.get(key)
    if compiled is None:
        inner, params = queryset.order_by().values("id", "updated_at").query.sql_with_params()
        compiled = (f'SELECT COUNT(*), MAX(s."updated_at") FROM ({inner}) s', params)
        with _stamp_lock:
            if len(_stamp_sql) > 1024:
                _stamp_sql.clear()
            _stamp_sql[key] = compiled
    with connection.cursor() as cursor:
        cursor.execute(*compiled)
        count, changed = cursor.fetchone()
    return count, changed


def json_bytes(answer: bytes) -> HttpResponse:
    return HttpResponse(answer, content_type="application/json")


class HotGetMixin:
    """GET tries ``hot_get(request, principal, **kwargs)`` first for a remembered caller; it returns
    a response, or None to take DRF's path (an unknown token, bad input, a 404: the ordinary
    answer, through the one exception handler)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET":
            principal = remembered_principal(request)
            if principal is not None:
                try:
                    answer = self.hot_get(request, principal, **kwargs)
                except Exception:
                    # The ordinary path runs the same reads and answers the error in the API's shape.
                    logger.warning("hot read failed; answering through DRF", exc_info=True)
                    answer = None
                if answer is not None:
                    answer["Allow"] = ", ".join(self.allowed_methods)  # as DRF's answer says it
                    return answer
        return super().dispatch(request, *args, **kwargs)
