"""Reading stored prices: marks, USD rates and fee conversions. Never calls an exchange."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ledger.models import PriceSnapshot

# Quote currencies counted as 1 USD without a price.
USD_STABLECOINS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "TUSD", "USDP", "PYUSD"})
# Quotes tried, in order, to price an asset in USD.
USD_QUOTES = ("USDT", "USDC", "USD")
# A third-token fee is converted only with a price taken this close to the trade.
FEE_PRICE_MAX_SKEW = timedelta(minutes=15)

NO_USD_PRICE = "No stored USD price for {asset}; the price refresh has not priced it."


@dataclass(frozen=True)
class Rate:
    """A price with where it came from: ``source`` is a PriceSnapshot source or 'stablecoin'."""

    value: Decimal
    source: str
    taken_at: datetime | None


def venue_key(exchange: str, account_id: int) -> str:
    """Whose prices a snapshot holds: the exchange, or one paper account (each walks its own price)."""
    return f"paper:{account_id}" if exchange == "paper" else exchange


def is_usd_stable(asset: str) -> bool:
    return asset.upper() in USD_STABLECOINS


def usd_symbols(asset: str) -> list[str]:
    return [f"{asset.upper()}/{quote}" for quote in USD_QUOTES]


def load_snapshots(symbols) -> dict[tuple[str, str], PriceSnapshot]:
    """Every stored snapshot of these symbols at any exchange, keyed (exchange, symbol): one query."""
    symbols = sorted(set(symbols))
    if not symbols:
        return {}
    return {(s.exchange, s.symbol): s for s in PriceSnapshot.objects.filter(symbol__in=symbols)}


def pick(snapshots: dict, exchange: str, symbol: str) -> PriceSnapshot | None:
    """The snapshot from the bot's own exchange, else the freshest one from any exchange."""
    own = snapshots.get((exchange, symbol))
    if own is not None:
        return own
    others = [s for (_, sym), s in snapshots.items() if sym == symbol]
    return max(others, key=lambda s: s.taken_at) if others else None


def usd_rate(asset: str, exchange: str, snapshots: dict) -> Rate | None:
    """USD per unit of ``asset``: 1 for USD stablecoins, else a stored price against a USD quote."""
    if is_usd_stable(asset):
        return Rate(Decimal(1), "stablecoin", None)
    for symbol in usd_symbols(asset):
        snapshot = pick(snapshots, exchange, symbol)
        if snapshot is not None:
            return Rate(snapshot.price, snapshot.source, snapshot.taken_at)
    return None


def fee_symbols(currency: str, quote: str) -> list[str]:
    symbols = [f"{currency.upper()}/{quote.upper()}"]
    if is_usd_stable(quote):
        symbols += usd_symbols(currency)
    return symbols


def fee_rate(currency: str, quote: str, exchange: str, at: datetime, snapshots: dict) -> Decimal | None:
    """Quote per unit of a third-token fee at time ``at``, or None when no price that close is stored.

    A USD-stable quote accepts the token's USD price (stablecoins count as 1 USD).
    """
    for symbol in fee_symbols(currency, quote):
        snapshot = pick(snapshots, exchange, symbol)
        if snapshot is not None and abs(snapshot.taken_at - at) <= FEE_PRICE_MAX_SKEW:
            return snapshot.price
    return None
