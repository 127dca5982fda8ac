"""What a swap transaction really did to the wallet, read from the confirmed transaction's meta.

Amounts come from balances before and after, never from the quote: token deltas from
pre/postTokenBalances of the accounts the wallet owns, SOL from lamports net of the network fee.
Also the wallet's half of signing a swap transaction Jupiter built.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from exchanges.errors import ExchangeUnavailable, InvalidOrder

from .tokens import EXCHANGE, SOL_MINT

FOREIGN_PAYER = "The swap transaction's fee payer is not this wallet; refusing to sign it"


@dataclass(frozen=True)
class Settlement:
    """The wallet's balance changes from one transaction, in smallest units per mint.

    Native SOL and wrapped SOL are one asset under ``SOL_MINT``; rent the wallet moved into its own
    token accounts (an associated account the swap created) stays the wallet's and is not counted.
    """

    signature: str
    succeeded: bool
    error: str
    fee_lamports: int
    deltas: dict[str, int]
    decimals: dict[str, int]
    block_time: datetime | None


@dataclass(frozen=True)
class Swap:
    side: str  # "buy" | "sell" (of the base)
    base_units: int
    quote_units: int


def settle(signature: str, confirmed, wallet: Pubkey) -> Settlement:
    """Read a getTransaction answer (json encoding) into the wallet's deltas."""
    with_meta = confirmed.transaction
    meta = with_meta.meta
    if meta is None:
        raise ExchangeUnavailable(f"Solana RPC returned transaction {signature} without meta", exchange=EXCHANGE)
    keys = [str(k) for k in with_meta.transaction.message.account_keys]
    if meta.loaded_addresses is not None:
        keys += [str(k) for k in meta.loaded_addresses.writable] + [str(k) for k in meta.loaded_addresses.readonly]
    owner = str(wallet)
    deltas: dict[str, int] = {}
    decimals: dict[str, int] = {SOL_MINT: 9}
    lamports = 0
    wallet_accounts: set[int] = set()
    if owner in keys:
        index = keys.index(owner)
        lamports += meta.post_balances[index] - meta.pre_balances[index]
    for sign, balances in ((-1, meta.pre_token_balances or []), (1, meta.post_token_balances or [])):
        for balance in balances:
            if str(balance.owner) != owner:
                continue
            wallet_accounts.add(balance.account_index)
            mint = str(balance.mint)
            decimals[mint] = balance.ui_token_amount.decimals
            if mint != SOL_MINT:  # wrapped SOL is counted through its lamports below
                deltas[mint] = deltas.get(mint, 0) + sign * int(balance.ui_token_amount.amount)
    for index in wallet_accounts:
        lamports += meta.post_balances[index] - meta.pre_balances[index]
    fee = meta.fee if keys and keys[0] == owner else 0
    deltas[SOL_MINT] = lamports + fee
    return Settlement(
        signature=signature,
        succeeded=meta.err is None,
        error="" if meta.err is None else str(meta.err),
        fee_lamports=fee,
        deltas={mint: delta for mint, delta in deltas.items() if delta},
        decimals=decimals,
        block_time=datetime.fromtimestamp(confirmed.block_time, UTC) if confirmed.block_time else None,
    )


def swap_of(settlement: Settlement, base_mint: str, quote_mint: str) -> Swap | None:
    """The trade of base against quote in this settlement, or None if it is not one."""
    base, quote = settlement.deltas.get(base_mint, 0), settlement.deltas.get(quote_mint, 0)
    if base > 0 and quote < 0:
        return Swap(side="buy", base_units=base, quote_units=-quote)
    if base < 0 and quote > 0:
        return Swap(side="sell", base_units=-base, quote_units=quote)
    return None


def decode_swap(swap_transaction: str, wallet: Pubkey) -> VersionedTransaction:
    """Decode Jupiter's base64 transaction; refuses one whose fee payer (first account) is not the
    wallet: signing it would let someone else's transaction spend from us."""
    try:
        tx = VersionedTransaction.from_bytes(base64.b64decode(swap_transaction, validate=True))
    except (binascii.Error, ValueError):
        raise ExchangeUnavailable("Jupiter returned a swap transaction that does not decode", exchange=EXCHANGE) from None
    keys = list(tx.message.account_keys)
    if not keys or keys[0] != wallet:
        raise InvalidOrder(FOREIGN_PAYER, exchange=EXCHANGE, fee_payer=str(keys[0]) if keys else "")
    return tx


def sign(tx: VersionedTransaction, keypair: Keypair) -> VersionedTransaction:
    """Add the wallet's signature in its signer slot."""
    message = tx.message
    signers = list(message.account_keys)[: message.header.num_required_signatures]
    signatures = list(tx.signatures)
    signatures[signers.index(keypair.pubkey())] = keypair.sign_message(to_bytes_versioned(message))
    return VersionedTransaction.populate(message, signatures)


def sign_swap(swap_transaction: str, keypair: Keypair) -> VersionedTransaction:
    """Decode and sign, without checking what the transaction does (checks.py does that)."""
    return sign(decode_swap(swap_transaction, keypair.pubkey()), keypair)
