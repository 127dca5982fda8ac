"""What a swap transaction from the swap API may do to the wallet, checked before the wallet signs it.

The swap API builds the transaction and the wallet's signature authorizes all of it, so a hostile or
broken API could take more than quoted, pay the output elsewhere, approve a delegate or burn SOL in
fees. Before signing:

- statically: only known programs are invoked at the top level (compute budget, system, SPL token,
  associated token accounts, Jupiter), and the priority fee is at most the one asked for;
- by simulating the unsigned transaction on the RPC node (sigVerify off, nothing signed leaves
  us) and comparing the wallet's accounts before and after: the input leaves by at most the
  quote's maximum, the output arrives by at least its minimum (the quote's slippage), no other
  token of the wallet decreases, SOL decreases only by the input (if SOL) and the network fees,
  and no account of the wallet changes owner, delegate or close authority.

The watched accounts are the wallet, every token account it holds, and its associated accounts
for the input and output mints. A transaction whose simulation fails is left to the node's
preflight: a failed transaction moves nothing but its (checked) fee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.token.state import TokenAccount
from solders.transaction import VersionedTransaction
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from exchanges.errors import InvalidOrder

from .tokens import EXCHANGE, SOL_MINT

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
JUPITER_PROGRAM = Pubkey.from_string("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4")
SWAP_PROGRAMS = frozenset({
    SYSTEM_PROGRAM, COMPUTE_BUDGET_PROGRAM, TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, ASSOCIATED_TOKEN_PROGRAM_ID,
    JUPITER_PROGRAM,
})
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
TOKEN_ACCOUNT_LEN = 165
LAMPORTS_PER_SIGNATURE = 5_000
DEFAULT_UNITS_PER_INSTRUCTION = 200_000
MAX_COMPUTE_UNITS = 1_400_000
REFUSED = "Refusing to sign the swap transaction: {why}"


@dataclass(frozen=True)
class Limits:
    """What the quote allows, in smallest units."""

    input_mint: str
    output_mint: str
    max_in: int
    min_out: int

    @classmethod
    def of(cls, quote: dict, *, mode: str, units: int, slippage_bps: int) -> Limits:
        """The limits of a quote for ``units`` (input for ExactIn, output for ExactOut); refuses a
        quote that is not for that amount or whose threshold is looser than ``slippage_bps``."""
        try:
            in_amount, out_amount = int(quote["inAmount"]), int(quote["outAmount"])
            threshold = int(quote["otherAmountThreshold"])
        except (KeyError, TypeError, ValueError):
            raise refuse("the quote lacks integer inAmount, outAmount and otherAmountThreshold") from None
        if quote.get("swapMode", "ExactIn") != mode:
            raise refuse(f"the quote is {quote.get('swapMode')}, not {mode}")
        if mode == "ExactOut":
            max_in = -(-in_amount * (10_000 + slippage_bps) // 10_000)  # rounded in the API's favour
            if out_amount != units or threshold > max_in:
                raise refuse("the quote is not for the amount asked, or allows more slippage than asked")
            return cls(quote["inputMint"], quote["outputMint"], max_in=threshold, min_out=out_amount)
        min_out = out_amount * (10_000 - slippage_bps) // 10_000  # rounded in the API's favour
        if in_amount != units or threshold < min_out:
            raise refuse("the quote is not for the amount asked, or allows more slippage than asked")
        return cls(quote["inputMint"], quote["outputMint"], max_in=in_amount, min_out=threshold)


def refuse(why: str, **fields) -> InvalidOrder:
    return InvalidOrder(REFUSED.format(why=why), exchange=EXCHANGE, code="swap_check_failed", **fields)


def check_instructions(tx: VersionedTransaction, priority_fee_lamports: int) -> int:
    """The network fee the transaction may cost at most, in lamports; refuses unknown programs and
    a priority fee above the one asked for (with a 1% rounding margin)."""
    message = tx.message
    keys = list(message.account_keys)
    unit_limit, unit_price, others = None, 0, 0
    for ix in message.instructions:
        program = keys[ix.program_id_index]
        if program not in SWAP_PROGRAMS:
            raise refuse(f"it calls program {program}, which a swap does not need")
        data = bytes(ix.data)
        if program != COMPUTE_BUDGET_PROGRAM:
            others += 1
        elif data[:1] == b"\x02" and len(data) >= 5:
            unit_limit = int.from_bytes(data[1:5], "little")
        elif data[:1] == b"\x03" and len(data) >= 9:
            unit_price = int.from_bytes(data[1:9], "little")
    if unit_limit is None:
        unit_limit = min(MAX_COMPUTE_UNITS, DEFAULT_UNITS_PER_INSTRUCTION * others)
    priority = math.ceil(unit_price * unit_limit / 1_000_000)
    if priority > priority_fee_lamports + priority_fee_lamports // 100 + 1:
        raise refuse(f"its priority fee is {priority} lamports, more than the {priority_fee_lamports} asked for")
    return priority + LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures


def watched_accounts(wallet: Pubkey, holdings: list[str], limits: Limits) -> list[Pubkey]:
    """The wallet, its token accounts, and its associated accounts for the two mints."""
    watched = [wallet] + [Pubkey.from_string(a) for a in holdings]
    for mint in (limits.input_mint, limits.output_mint):
        for program in TOKEN_PROGRAMS:
            watched.append(_associated(wallet, Pubkey.from_string(mint), program))
    return list(dict.fromkeys(watched))


def check_movements(wallet: Pubkey, watched: list[Pubkey], before: list, after: list, limits: Limits,
                    max_fee_lamports: int) -> None:
    """Refuse what the simulated transaction does beyond the quote (see the module docstring).

    ``before``/``after`` are solders Accounts (or None) of ``watched``, read before and simulated after.
    """
    _check(wallet, watched, before, after, limits, max_fee_lamports)


def _check(wallet, watched, before, after, limits: Limits, max_fee_lamports: int) -> None:
    sol = 0
    tokens: dict[str, int] = {}
    for address, pre, post in zip(watched, before, after, strict=True):
        sol += _lamports(post) - _lamports(pre)
        if address == wallet:
            if post is not None and (post.owner != SYSTEM_PROGRAM or bytes(post.data)):
                raise refuse("it hands the wallet's account to a program")
            continue
        pre_state, post_state = _token_state(pre), _token_state(post)
        if post_state is not None:
            _check_authority(address, pre_state, post_state, wallet)
        state = post_state or pre_state
        if state is None or str(state.mint) == SOL_MINT:
            continue  # wrapped SOL counts through its lamports
        delta = (post_state.amount if post_state else 0) - (pre_state.amount if pre_state else 0)
        tokens[str(state.mint)] = tokens.get(str(state.mint), 0) + delta
    tokens[SOL_MINT] = sol
    for mint, delta in tokens.items():
        allowance = max_fee_lamports if mint == SOL_MINT else 0
        if mint == limits.input_mint and -delta > limits.max_in + allowance:
            raise refuse(f"it takes {-delta} units of {mint}, more than the quote's {limits.max_in}", mint=mint)
        if mint == limits.output_mint and delta < limits.min_out - allowance:
            raise refuse(f"it pays {delta} units of {mint} to the wallet, less than the quote's {limits.min_out}",
                         mint=mint)
        if mint not in (limits.input_mint, limits.output_mint) and -delta > allowance:
            raise refuse(f"it takes {-delta} units of {mint}, which the swap does not trade", mint=mint)


def _check_authority(address: Pubkey, pre: TokenAccount | None, post: TokenAccount, wallet: Pubkey) -> None:
    if post.owner != (pre.owner if pre else wallet):
        raise refuse(f"it gives token account {address} to {post.owner}")
    if post.delegate != (pre.delegate if pre else None) or post.delegated_amount > (pre.delegated_amount if pre else 0):
        raise refuse(f"it lets {post.delegate} spend from token account {address}")
    if post.close_authority != (pre.close_authority if pre else None):
        raise refuse(f"it lets {post.close_authority} close token account {address}")


def _lamports(account) -> int:
    return account.lamports if account is not None else 0


def _token_state(account) -> TokenAccount | None:
    if account is None or account.owner not in TOKEN_PROGRAMS or len(account.data) < TOKEN_ACCOUNT_LEN:
        return None
    return TokenAccount.from_bytes(bytes(account.data)[:TOKEN_ACCOUNT_LEN])


def _associated(wallet: Pubkey, mint: Pubkey, program: Pubkey) -> Pubkey:
    if program == TOKEN_PROGRAM_ID:
        return get_associated_token_address(wallet, mint)
    return Pubkey.find_program_address([bytes(wallet), bytes(program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM_ID)[0]
