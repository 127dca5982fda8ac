"""Coinstore's answers turned into base.py dataclasses, exactly (Decimal from the wire text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from exchanges.connectors.base import AssetBalance, Market, OrderInfo, TradeFill

# accountList row types: 1 available, 4 frozen (locked in orders). Others are not spot funds.
BALANCE_AVAILABLE = 1
BALANCE_FROZEN = 4

ORDER_STATUS = {
    "SUBMITTING": "open",
    "SUBMITTED": "open",
    "PARTIAL_FILLED": "open",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "CANCELLED": "canceled",
    "PARTIAL_CANCELED": "canceled",
    "REJECTED": "rejected",
}


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
    """A Decimal from a wire value (string, int or parse_float Decimal); ``default`` when empty."""
    if value is None or value == "":
        return default
    return Decimal(str(value))


def step(decimals) -> Decimal:
    """10 ** -decimals: 0 -> 1, 4 -> 0.0001."""
    return Decimal(1).scaleb(-int(decimals))


def parse_symbol(row: dict) -> SymbolRules:
    base = str(row["tradeCurrencyCode"]).upper()
    quote = str(row["quoteCurrencyCode"]).upper()
    price_decimals = int(row.get("tickSz") or 0)
    amount_decimals = int(row.get("lotSz") or 0)
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
        kind = int(row.get("type", 0))
        if kind == BALANCE_AVAILABLE:
            available[asset] += dec(row.get("balance"))
        elif kind == BALANCE_FROZEN:
            locked[asset] += dec(row.get("balance"))
    return [AssetBalance(asset=a, available=available[a], locked=locked[a]) for a in sorted(available)]


def from_ms(value) -> datetime | None:
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def from_match_time(value) -> datetime:
    """accountMatches' matchTime is documented in seconds; accept milliseconds too."""
    number = int(value or 0)
    if number > 10**11:
        return datetime.fromtimestamp(number / 1000, tz=UTC)
    return datetime.fromtimestamp(number, tz=UTC)


def parse_order(row: dict, symbol: str) -> OrderInfo:
    """An order row of orderInfo (v1 ``ordState``, v2 ``ordStatus``) or active orders."""
    status_text = str(row.get("ordStatus") or row.get("ordState") or "").upper()
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
        status=ORDER_STATUS.get(status_text, "open"),
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
    return TradeFill(
        exchange_trade_id=str(row.get("id") or row.get("tradeId") or row.get("matchId")),
        order_id=str(row.get("orderId", "")),
        symbol=market.symbol,
        side=side,
        amount=amount,
        price=price,
        cost=cost,
        fee=dec(row.get("fee")),
        fee_currency=fee_currency,
        traded_at=from_match_time(row.get("matchTime")),
    )
