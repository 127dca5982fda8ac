"""The Jupiter connector's memory of sent swaps, in the database so every process shares it.

Each method is one short statement in autocommit: the connector calls them around RPC calls and
never inside a transaction of its own.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from exchanges.connectors.jupiter.swaps import NEVER_LANDS, PENDING, SETTLED, DuplicateSwap, SentSwap
from exchanges.errors import ExchangeError, ExchangeUnavailable
from exchanges.models import PendingSwap

logger = logging.getLogger(__name__)

NOT_RECORDED = "The swap could not be recorded before sending, so it was not sent"
NOT_READ = "The record of sent swaps could not be read"


class DbSwapStore:
    """``SwapStore`` over ``PendingSwap`` rows of one account."""

    def __init__(self, account_id: int):
        self.account_id = account_id

    def add(self, swap: SentSwap) -> None:
        fields = {
            "signature": swap.signature, "symbol": swap.symbol, "side": swap.side, "amount": swap.amount,
            "last_valid_block_height": swap.last_valid_block_height, "state": PENDING, "fee_lamports": None,
            "updated_at": timezone.now(),
        }
        try:
            with transaction.atomic():  # a savepoint, so a caller's transaction survives a duplicate
                rows = PendingSwap.objects.filter(account_id=self.account_id)
                if swap.client_order_id:
                    # A client order id whose swap can never land may be used again.
                    if rows.filter(client_order_id=swap.client_order_id, state__in=NEVER_LANDS).update(**fields):
                        return
                PendingSwap.objects.create(account_id=self.account_id, client_order_id=swap.client_order_id, **fields)
        except IntegrityError:
            known = self.get(client_order_id=swap.client_order_id)
            raise DuplicateSwap(known.signature if known else "") from None
        except DatabaseError as exc:
            raise ExchangeError(
                NOT_RECORDED, exchange="jupiter", code="swap_not_recorded", reason=type(exc).__name__
            ) from None

    def get(self, *, signature: str = "", client_order_id: str = "") -> SentSwap | None:
        if not (signature or client_order_id):
            return None
        lookup = {"signature": signature} if signature else {"client_order_id": client_order_id}
        try:
            row = PendingSwap.objects.filter(account_id=self.account_id, **lookup).first()
        except DatabaseError as exc:
            raise ExchangeUnavailable(NOT_READ, exchange="jupiter", reason=type(exc).__name__) from None
        return _sent(row) if row else None

    def pending(self, symbol: str) -> list[SentSwap]:
        try:
            rows = PendingSwap.objects.filter(account_id=self.account_id, symbol=symbol, state=PENDING).order_by("id")
            return [_sent(row) for row in rows]
        except DatabaseError as exc:
            raise ExchangeUnavailable(NOT_READ, exchange="jupiter", reason=type(exc).__name__) from None

    def settle(self, signature: str, state: str, fee_lamports: int | None = None) -> None:
        try:
            PendingSwap.objects.filter(account_id=self.account_id, signature=signature).exclude(
                state__in=SETTLED
            ).update(state=state, fee_lamports=fee_lamports, updated_at=timezone.now())
        except DatabaseError:
            # The chain keeps the truth: a swap left PENDING is resolved again by the next lookup.
            logger.warning("could not record swap %s as %s", signature, state, exc_info=True)


def _sent(row: PendingSwap) -> SentSwap:
    return SentSwap(
        signature=row.signature, client_order_id=row.client_order_id, symbol=row.symbol, side=row.side,
        amount=row.amount, last_valid_block_height=row.last_valid_block_height, state=row.state,
        fee_lamports=row.fee_lamports,
    )
