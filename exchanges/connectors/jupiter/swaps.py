"""Swaps this wallet sent, remembered from before sending until they land or can no longer land.

A swap whose confirmation was not seen (a timeout, a crash, the next task's new connector) may
still land until its blockhash expires, so "not found" is only said once the chain has passed its
``last_valid_block_height`` without it. The connector reads and writes through a ``SwapStore``:
the registry hands it one backed by the database (``exchanges.pending_swaps``), so any process can
answer for a swap another one sent; ``MemorySwapStore`` serves a connector built on its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

PENDING = "pending"  # recorded, maybe sent: may still land
LANDED = "landed"  # confirmed and succeeded
FAILED = "failed"  # confirmed and failed on chain; its network fee was paid
EXPIRED = "expired"  # its blockhash expired unseen: it can never land
REFUSED = "refused"  # the node refused it before forwarding: it can never land
NEVER_LANDS = (EXPIRED, REFUSED)
SETTLED = (LANDED, FAILED)


class DuplicateSwap(Exception):
    """The client order id belongs to a swap that landed or may still land."""


@dataclass(frozen=True)
class SentSwap:
    signature: str
    client_order_id: str
    symbol: str
    side: str
    amount: Decimal  # base, as requested
    last_valid_block_height: int
    state: str = PENDING
    fee_lamports: int | None = None  # once settled: the network fee paid


class SwapStore(Protocol):
    def add(self, swap: SentSwap) -> None:
        """Record ``swap`` before it is sent. A client order id may be reused only after its swap
        can no longer land; otherwise DuplicateSwap. Must raise rather than return if not stored."""

    def get(self, *, signature: str = "", client_order_id: str = "") -> SentSwap | None: ...

    def pending(self, symbol: str) -> list[SentSwap]:
        """Swaps of ``symbol`` still PENDING, oldest first."""

    def settle(self, signature: str, state: str, fee_lamports: int | None = None) -> None:
        """Move a swap to ``state``; a LANDED or FAILED swap stays so (the chain said it)."""


class MemorySwapStore:
    """The store of one connector object: what it forgets when the object goes."""

    def __init__(self):
        self._swaps: dict[str, SentSwap] = {}
        self._lock = threading.Lock()

    def add(self, swap: SentSwap) -> None:
        with self._lock:
            known = self._by_client_id(swap.client_order_id)
            if known is not None:
                if known.state not in NEVER_LANDS:
                    raise DuplicateSwap(known.signature)
                del self._swaps[known.signature]
            self._swaps[swap.signature] = swap

    def get(self, *, signature: str = "", client_order_id: str = "") -> SentSwap | None:
        with self._lock:
            if signature:
                return self._swaps.get(signature)
            return self._by_client_id(client_order_id)

    def pending(self, symbol: str) -> list[SentSwap]:
        with self._lock:
            return [s for s in self._swaps.values() if s.symbol == symbol and s.state == PENDING]

    def settle(self, signature: str, state: str, fee_lamports: int | None = None) -> None:
        with self._lock:
            known = self._swaps.get(signature)
            if known is not None and known.state not in SETTLED:
                self._swaps[signature] = replace(known, state=state, fee_lamports=fee_lamports)

    def _by_client_id(self, client_order_id: str) -> SentSwap | None:
        if not client_order_id:
            return None
        return next((s for s in self._swaps.values() if s.client_order_id == client_order_id), None)
