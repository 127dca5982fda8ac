"""Refreshing stored prices (order book mid, else ticker) for marks, USD values and fee conversion."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from bots.models import Bot
from exchanges.connectors.base import Connector
from exchanges.errors import ExchangeError
from ledger import fifo, prices
from ledger.models import PnlState, PriceSnapshot

logger = logging.getLogger(__name__)

NO_PRICE = "The exchange returned no bid/ask and no last price for {symbol}."


@dataclass
class PriceRefreshResult:
    stored: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)


def symbols_to_price(bot: Bot, unconverted: list[str] = ()) -> list[str]:
    """The bot's pair, USD pairs for its non-stable assets, and pairs for its unpriced fee tokens."""
    symbols = [bot.symbol]
    for asset in (bot.base, bot.quote):
        if not prices.is_usd_stable(asset):
            symbols.append(f"{asset.upper()}/USDT")
    for currency in unconverted:
        symbols.append(f"{currency.upper()}/{bot.quote.upper()}")
    return list(dict.fromkeys(symbols))


def price_of(connector: Connector, symbol: str) -> tuple:
    """(price, source, taken_at): the order book mid, else the ticker's mid, else its last price."""
    book = connector.fetch_order_book(symbol, depth=1)
    if book.bids and book.asks:
        return fifo.EXACT.divide(fifo.EXACT.add(book.bids[0][0], book.asks[0][0]), 2), PriceSnapshot.Source.MID, book.at
    ticker = connector.fetch_ticker(symbol)
    if ticker.mid is not None:
        return ticker.mid, PriceSnapshot.Source.TICKER, ticker.at
    if ticker.last is not None:
        return ticker.last, PriceSnapshot.Source.LAST_TRADE, ticker.at
    raise ExchangeError(NO_PRICE.format(symbol=symbol), exchange=connector.exchange_id)


def refresh_prices(bot_ids=None) -> PriceRefreshResult:
    """Price every symbol the given bots (default: all) need, one connector per account.

    Exchange calls run outside any transaction; each price is stored as it arrives, so one
    failing symbol or venue does not lose the others (failures are returned, not raised).
    """
    from exchanges.registry import connector_for  # the exchange layer; imported late on purpose

    bots = Bot.objects.select_related("account").order_by("pk")
    if bot_ids is not None:
        bots = bots.filter(pk__in=list(bot_ids))
    unconverted = {
        row.bot_id: list((row.engine or {}).get("unconverted", {}))
        for row in PnlState.objects.filter(bot__in=bots).only("bot_id", "engine")
    }
    wanted: dict[int, tuple] = {}  # account id → (account, [symbols])
    seen: set[tuple[str, str]] = set()
    for bot in bots:
        account, symbols = wanted.setdefault(bot.account_id, (bot.account, []))
        for symbol in symbols_to_price(bot, unconverted.get(bot.pk, [])):
            if (prices.venue_key(account.exchange, account.pk), symbol) not in seen:
                seen.add((prices.venue_key(account.exchange, account.pk), symbol))
                symbols.append(symbol)
    result = PriceRefreshResult()
    for account, symbols in wanted.values():
        venue = prices.venue_key(account.exchange, account.pk)
        try:
            connector = connector_for(account)
        except ExchangeError as exc:
            for symbol in symbols:
                result.failed[(venue, symbol)] = str(exc)
            continue
        try:
            for symbol in symbols:
                key = (venue, symbol)
                try:
                    price, source, taken_at = price_of(connector, symbol)
                except ExchangeError as exc:
                    result.failed[key] = str(exc)
                    continue
                if price <= 0:
                    result.failed[key] = NO_PRICE.format(symbol=symbol)
                    continue
                with transaction.atomic():
                    PriceSnapshot.objects.update_or_create(
                        exchange=venue, symbol=symbol,
                        defaults={"price": fifo.quantize(price), "source": source, "taken_at": taken_at},
                    )
                result.stored.append(key)
        finally:
            connector.close()
    if result.failed:
        logger.warning("price refresh: %d symbols failed", len(result.failed), extra={"failed": sorted(map(str, result.failed))})
    return result
