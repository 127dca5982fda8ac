"""``Idempotency-Key`` for POSTs with side effects: a retried request gets the first answer again
instead of doing the thing twice (a second bot, a second order)."""

from __future__ import annotations

import functools
import hashlib
from datetime import timedelta

import simplejson
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from pipelabs.api.exceptions import Conflict
from pipelabs.api.wire import dumps

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
TOO_LONG = "Idempotency-Key is at most 100 characters."
REUSED = "This Idempotency-Key was already used for a different request."
IN_PROGRESS = "A request with this Idempotency-Key is still in progress."


def idempotent(view_method):
    """Decorate an APIView's post(): same key + same request → the stored answer; key reused for
    another request or still running → 409. Only successful answers are kept (a 4xx can be fixed
    and retried under the same key)."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        from clients.models import IdempotentRequest
        from rest_framework.exceptions import ValidationError

        key = request.headers.get(HEADER, "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 100:
            raise ValidationError({"idempotency_key": TOO_LONG})
        owner = f"{request.user.user_id or ''}:{request.user.client_id or ''}"
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.path.rstrip("/").encode() + b" " + dumps(request.data)
        ).hexdigest()
        found = IdempotentRequest.objects.filter(owner=owner, key=key).first()
        if found is not None and found.created_at < timezone.now() - KEPT_FOR:
            found.delete()
            found = None
        if found is not None:
            if found.fingerprint != fingerprint:
                raise Conflict(REUSED)
            if found.status_code is None:
                raise Conflict(IN_PROGRESS)
            replay = Response(simplejson.loads(found.body, use_decimal=True), status=found.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            with transaction.atomic():
                claim = IdempotentRequest.objects.create(owner=owner, key=key, fingerprint=fingerprint)
        except IntegrityError:
            raise Conflict(IN_PROGRESS) from None
        IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            IdempotentRequest.objects.filter(pk=claim.pk).delete()
            raise
        if 200 <= response.status_code < 300 and isinstance(response, Response):
            IdempotentRequest.objects.filter(pk=claim.pk).update(status_code=response.status_code,
                                                                  body=dumps(response.data).decode())
        else:
            IdempotentRequest.objects.filter(pk=claim.pk).delete()
        return response

    return wrapper
