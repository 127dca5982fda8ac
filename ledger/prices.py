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
# A third-token fee is converted only with a price taken this close to the trade (services/fees.py).
FEE_PRICE_MAX_SKEW = timedelta(minutes=15)

NO_USD_PRICE = "No stored USD price for {asset}; the price refresh has not priced it."


@dataclass(frozen=True)
class Rate:
    """A price with where it came from: ``source`` is a PriceSnapshot source or 'stablecoin'.

    ``is_stale`` says it is older than its figure's age limit (settings *_MAX_AGE_S).
    """

    value: Decimal
    source: str
    taken_at: datetime | None
    is_stale: bool = False
    exchange: str = ""

    def age_s(self, now: datetime) -> int | None:
        """Whole seconds since it was taken (0 for a time ahead of ``now``)."""
        return None if self.taken_at is None else max(0, int((now - self.taken_at).total_seconds()))


def max_age(name: str) -> timedelta:
    """A figure's age limit from settings (MARK_MAX_AGE_S, USD_RATE_MAX_AGE_S, BALANCE_MAX_AGE_S)."""
    from django.conf import settings

    return timedelta(seconds=getattr(settings, name))


def rate_of(snapshot, limit: timedelta, now: datetime) -> Rate:
    return Rate(snapshot.price, snapshot.source, snapshot.taken_at, now - snapshot.taken_at > limit, snapshot.exchange)


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


def freshest(candidates: list, exchange: str, limit: timedelta, now: datetime):
    """The snapshot to use among ``candidates`` (in order of preference at one venue).

    The bot's own venue while its price is within ``limit``; else the freshest one anywhere, so
    a month-old price at the bot's venue never beats a fresh one elsewhere.
    """
    own = [s for s in candidates if s.exchange == exchange]
    for snapshot in own:
        if now - snapshot.taken_at <= limit:
            return snapshot
    return max(candidates, key=lambda s: s.taken_at, default=None)


def pick(snapshots: dict, exchange: str, symbol: str, *, limit: timedelta | None = None,
         now: datetime | None = None) -> PriceSnapshot | None:
    """The symbol's snapshot from the bot's own exchange while fresh, else the freshest anywhere."""
    from django.utils import timezone

    candidates = [s for (_, sym), s in snapshots.items() if sym == symbol]
    return freshest(candidates, exchange, limit or max_age("USD_RATE_MAX_AGE_S"), now or timezone.now())


def usd_rate(asset: str, exchange: str, snapshots: dict, now: datetime | None = None) -> Rate | None:
    """USD per unit of ``asset``: 1 for USD stablecoins, else a stored price against a USD quote.

    Every USD pair at every venue is a candidate: the bot's venue (USDT, then USDC, then USD)
    while fresh, else the freshest; ``is_stale`` past USD_RATE_MAX_AGE_S.
    """
    from django.utils import timezone

    if is_usd_stable(asset):
        return Rate(Decimal(1), "stablecoin", None)
    now = now or timezone.now()
    limit = max_age("USD_RATE_MAX_AGE_S")
    symbols = usd_symbols(asset)
    candidates = sorted(
        (s for (_, sym), s in snapshots.items() if sym in symbols), key=lambda s: symbols.index(s.symbol)
    )
    snapshot = freshest(candidates, exchange, limit, now)
    return None if snapshot is None else rate_of(snapshot, limit, now)


def fee_symbols(currency: str, quote: str) -> list[str]:
    symbols = [f"{currency.upper()}/{quote.upper()}"]
    if is_usd_stable(quote):
        symbols += usd_symbols(currency)
    return symbols
