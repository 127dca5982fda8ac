"""Coinstore's answers turned into base.py dataclasses, exactly (Decimal from the wire text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from exchanges.connectors.base import AssetBalance, Market, OrderInfo, TradeFill
from exchanges.connectors.coinstore.transport import EXCHANGE
from exchanges.errors import ExchangeUnavailable

# accountList row types: 1 available, 4 frozen (locked in orders). Others are not spot funds.
BALANCE_AVAILABLE = 1
BALANCE_FROZEN = 4

# Every status Coinstore documents or was seen sending. EXPIRED (a time-in-force ran out) and
# STOPPED (the venue took the order off the book, e.g. an IOC/FOK remainder) are off the book
# like a cancel: whatever filled stays in ``filled``. Anything else is an unexpected answer,
# never a guess of "open".
ORDER_STATUS = {
    "SUBMITTING": "open",
    "SUBMITTED": "open",
    "PARTIAL_FILLED": "open",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "CANCELLED": "canceled",
    "PARTIAL_CANCELED": "canceled",
    "EXPIRED": "canceled",
    "STOPPED": "canceled",
    "REJECTED": "rejected",
}

# No price, amount or balance is near 10**100 or 10**-100; beyond that sums would overflow.
MAX_EXPONENT = 100

# Messages tests check.
UNEXPECTED = "Coinstore sent an unexpected answer: {what}"
NO_TRADE_ID = "Coinstore sent a fill without a trade id"
NO_TRADE_TIME = "Coinstore sent fill {trade_id} without a match time"


def unexpected(what: str) -> ExchangeUnavailable:
    return ExchangeUnavailable(UNEXPECTED.format(what=what), exchange=EXCHANGE)


@dataclass(frozen=True)
class SymbolRules:
    """What one Coinstore symbol allows, beyond what ``Market`` carries."""

    market: Market
    price_decimals: int  # tickSz
    amount_decimals: int  # lotSz
    min_price: Decimal  # minLmtPr
    min_market_amount: Decimal  # minMktSz (base, market sells)
    min_market_value: Decimal  # minMktVa (quote, market buys)
    base_currency_id: str = ""
    quote_currency_id: str = ""


def dec(value, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """A finite Decimal from a wire value (string, int or parse_float Decimal); ``default`` when
    empty. Anything else (text, NaN, Infinity, a list) is ExchangeUnavailable, never a plain error."""
    if value is None or value == "":
        return default
    if isinstance(value, bool | dict | list):
        raise unexpected(f"{type(value).__name__} where a number belongs")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise unexpected(f"{str(value)[:40]!r} is not a number") from None
    if not number.is_finite() or (number and abs(number.adjusted()) > MAX_EXPONENT):
        raise unexpected(f"{str(value)[:40]!r} is not a finite number in range")
    return number


def integer(value, default: int = 0) -> int:
    """An int from a wire value (int or digit text); ``default`` when empty; else ExchangeUnavailable."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise unexpected(f"{type(value).__name__} where an integer belongs")
    number = dec(value)
    if number != number.to_integral_value():
        raise unexpected(f"{str(value)[:40]!r} is not an integer")
    return int(number)


def step(decimals) -> Decimal:
    """10 ** -decimals: 0 -> 1, 4 -> 0.0001."""
    return Decimal(1).scaleb(-integer(decimals))


def parse_symbol(row: dict) -> SymbolRules:
    base = str(row["tradeCurrencyCode"]).upper()
    quote = str(row["quoteCurrencyCode"]).upper()
    price_decimals = integer(row.get("tickSz"))
    amount_decimals = integer(row.get("lotSz"))
    market = Market(
        symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        exchange_symbol=str(row["symbolCode"]).upper(),
        price_step=step(price_decimals),
        amount_step=step(amount_decimals),
        min_amount=dec(row.get("minLmtSz")),
        # The only notional minimum Coinstore publishes is the market order's (minMktVa).
        min_notional=dec(row.get("minMktVa")),
        active=row.get("openTrade") is not False,
    )
    return SymbolRules(
        market=market,
        price_decimals=price_decimals,
        amount_decimals=amount_decimals,
        min_price=dec(row.get("minLmtPr")),
        min_market_amount=dec(row.get("minMktSz")),
        min_market_value=dec(row.get("minMktVa")),
    )


def parse_balances(rows: list[dict]) -> list[AssetBalance]:
    """Sum the rows of each currency per type (one currency may have several rows of a type)."""
    available: dict[str, Decimal] = {}
    locked: dict[str, Decimal] = {}
    for row in rows or []:
        asset = str(row.get("currency", "")).upper()
        if not asset:
            continue
        available.setdefault(asset, Decimal(0))
        locked.setdefault(asset, Decimal(0))
        kind = integer(row.get("type"))
        if kind == BALANCE_AVAILABLE:
            available[asset] += dec(row.get("balance"))
        elif kind == BALANCE_FROZEN:
            locked[asset] += dec(row.get("balance"))
    return [AssetBalance(asset=a, available=available[a], locked=locked[a]) for a in sorted(available)]


def from_ms(value) -> datetime | None:
    number = integer(value)
    if number <= 0:
        return None
    return _at(Decimal(number) / 1000)


def from_match_time(value) -> datetime | None:
    """accountMatches' matchTime is documented in seconds; accept milliseconds too. None when absent."""
    number = integer(value)
    if number <= 0:
        return None
    return _at(Decimal(number) / 1000 if number > 10**11 else Decimal(number))


def _at(seconds: Decimal) -> datetime:
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC).replace(microsecond=int(seconds % 1 * 1_000_000))
    except (OverflowError, OSError, ValueError):
        raise unexpected(f"time {seconds} is out of range") from None


def parse_order(row: dict, symbol: str) -> OrderInfo:
    """An order row of orderInfo (v1 ``ordState``, v2 ``ordStatus``) or active orders."""
    status_text = str(row.get("ordStatus") or row.get("ordState") or "").upper()
    if status_text not in ORDER_STATUS:
        raise unexpected(f"order status {status_text[:40]!r}")
    kind = "market" if str(row.get("ordType", "")).upper() == "MARKET" else "limit"
    filled = dec(row.get("cumQty"))
    amount = dec(row.get("ordQty"))
    if amount == 0:
        # A market buy is sized in quote (ordAmt): its base amount is what filled.
        amount = filled
    price = dec(row.get("ordPrice"), None)
    if price is not None and price == 0:
        price = None
    return OrderInfo(
        exchange_order_id=str(row.get("ordId", "")),
        client_order_id=str(row.get("clOrdId") or row.get("clientOrderId") or ""),
        symbol=symbol,
        side=str(row.get("side", "")).lower(),
        kind=kind,
        amount=amount,
        price=price,
        filled=filled,
        status=ORDER_STATUS[status_text],
        created_at=from_ms(row.get("timestamp")),
    )


def parse_fill(row: dict, rules: SymbolRules) -> TradeFill:
    """One accountMatches row. ``id`` is our own match (unique even when we traded with ourselves,
    where both sides share one ``tradeId``); the fee currency is named by currency id."""
    market = rules.market
    amount = dec(row.get("execQty"))
    cost = dec(row.get("execAmt"))
    price = dec(row.get("execPrice") or row.get("price"), None)
    if price is None:
        # Not in the documented answer: derive it, on the tick when that is exact.
        price = cost / amount if amount else Decimal(0)
        on_tick = price.quantize(market.price_step, rounding=ROUND_HALF_EVEN)
        if on_tick * amount == cost:
            price = on_tick
    fee_currency = str(row.get("feeCurrency") or "").upper()
    fee_currency_id = str(row.get("feeCurrencyId", ""))
    if not fee_currency:
        if fee_currency_id and fee_currency_id == str(row.get("baseCurrencyId", "")):
            fee_currency = market.base
        elif fee_currency_id and fee_currency_id == str(row.get("quoteCurrencyId", "")):
            fee_currency = market.quote
    side = {"1": "buy", "-1": "sell"}.get(str(row.get("side")), str(row.get("side", "")).lower())
    # A made-up id would merge different fills on de-duplication; a made-up time would misplace one.
    trade_id = row.get("id") or row.get("tradeId") or row.get("matchId")
    if trade_id is None or str(trade_id).strip() == "":
        raise ExchangeUnavailable(NO_TRADE_ID, exchange=EXCHANGE, order_id=str(row.get("orderId", "")))
    traded_at = from_match_time(row.get("matchTime"))
    if traded_at is None:
        raise ExchangeUnavailable(NO_TRADE_TIME.format(trade_id=trade_id), exchange=EXCHANGE)
    return TradeFill(
        exchange_trade_id=str(trade_id),
        order_id=str(row.get("orderId", "")),
        symbol=market.symbol,
        side=side,
        amount=amount,
        price=price,
        cost=cost,
        fee=dec(row.get("fee")),
        fee_currency=fee_currency,
        traded_at=traded_at,
    )
