"""The tokens a Jupiter account trades: symbol, mint and decimals, and exact unit conversion."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solders.pubkey import Pubkey

from exchanges.errors import ExchangeError, InvalidOrder

EXCHANGE = "jupiter"
SOL_MINT = "So11111111111111111111111111111111111111112"  # wrapped SOL; Jupiter's name for native SOL
LAMPORTS_DECIMALS = 9
DEFAULT_TOKENS = {
    "SOL": {"mint": SOL_MINT, "decimals": LAMPORTS_DECIMALS},
    "USDC": {"mint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "decimals": 6},
    "USDT": {"mint": "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", "decimals": 6},
}


@dataclass(frozen=True)
class Token:
    symbol: str
    mint: str
    decimals: int | None  # None: read from the chain (getTokenSupply) on first use


def parse_tokens(tokens: dict | None) -> dict[str, Token]:
    """The configured tokens over the defaults; a configured mint replaces a default using it."""
    configured = {str(symbol).upper(): spec for symbol, spec in (tokens or {}).items()}
    mints = {str((spec or {}).get("mint", "")) for spec in configured.values()}
    merged = {s: spec for s, spec in DEFAULT_TOKENS.items() if s not in configured and spec["mint"] not in mints}
    merged.update(configured)
    parsed = {}
    for symbol, spec in merged.items():
        spec = spec or {}
        mint = str(spec.get("mint", ""))
        try:
            Pubkey.from_string(mint)
        except ValueError:
            raise ExchangeError(f"Token {symbol} has an invalid mint address {mint!r}", exchange=EXCHANGE) from None
        decimals = spec.get("decimals")
        if decimals is not None and (not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 18):
            raise ExchangeError(f"Token {symbol} has invalid decimals {decimals!r}", exchange=EXCHANGE)
        parsed[symbol] = Token(symbol=symbol, mint=mint, decimals=decimals)
    return parsed


def from_units(units: int, decimals: int) -> Decimal:
    """``units`` smallest units as an exact Decimal amount (1500000, 6 -> 1.500000)."""
    return Decimal(int(units)).scaleb(-decimals)


def to_units(amount: Decimal, decimals: int, *, symbol: str = "") -> int:
    """The exact number of smallest units in ``amount``; refuses amounts finer than the token allows."""
    units = Decimal(amount).scaleb(decimals)
    if units != units.to_integral_value():
        raise InvalidOrder(
            f"Amount {amount} has more than {decimals} decimals",
            exchange=EXCHANGE,
            symbol=symbol,
        )
    return int(units)
