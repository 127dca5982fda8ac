"""Refreshing stored prices (order book mid, else ticker) for marks, USD values and fee conversion."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from bots.models import Bot
from exchanges.connectors.base import Connector
from exchanges.errors import ExchangeError
from ledger import fifo, prices
from ledger.models import PnlState, PriceHistory, PriceSnapshot
from pipelabs.logging import scrub

logger = logging.getLogger(__name__)

NO_PRICE = "The exchange returned no bid/ask and no last price for {symbol}."
NOT_LISTED = "{symbol} is not listed at {venue}."


@dataclass
class PriceRefreshResult:
    stored: list[tuple[str, str]] = field(default_factory=list)
    # (venue, symbol) → why it could not be priced: the bot's own pair not listed, or the venue's error
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    # (venue, asset or fee token) with no USD / quote pair listed there: not a failure, the
    # figures that need it say so (usd_reason, unconverted_fees)
    unlisted: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Need:
    """One price a bot needs: the first of ``symbols`` its venue lists; ``required`` when it is the bot's pair."""

    symbols: tuple[str, ...]
    required: bool = False
    asset: str = ""


def needs_of(bot: Bot, unconverted: list[str] = ()) -> list[Need]:
    """The bot's pair, a USD pair for each non-stable asset, and a pair for each unpriced fee token."""
    needs = [Need((bot.symbol,), required=True, asset=bot.symbol)]
    for asset in (bot.base, bot.quote):
        if not prices.is_usd_stable(asset):
            needs.append(Need(tuple(prices.usd_symbols(asset)), asset=asset.upper()))
    for currency in unconverted:
        if currency != fifo.UNKNOWN_FEE_CURRENCY:
            needs.append(Need(tuple(prices.fee_symbols(currency, bot.quote)), asset=currency.upper()))
    return needs


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
    """Price what the given bots (default: all) need and their venue lists, one connector per account.

    Each venue is asked for its markets first, so a pair it does not list is never requested
    (the bot's own pair not listed is a failure; a missing USD or fee pair is only noted).
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
    wanted: dict[int, tuple] = {}  # account id → (account, {need: None})
    for bot in bots:
        _, needs = wanted.setdefault(bot.account_id, (bot.account, {}))
        for need in needs_of(bot, unconverted.get(bot.pk, [])):
            needs.setdefault(need, None)
    result = PriceRefreshResult()
    for account, needs in wanted.values():
        venue = prices.venue_key(account.exchange, account.pk)
        connector = None
        try:
            connector = connector_for(account)
            listed = connector.load_markets()
        except Exception as exc:  # noqa: BLE001  one account's venue failing is that account's failure only
            reason = scrub(str(exc)) if isinstance(exc, ExchangeError) else f"{type(exc).__name__}: {scrub(str(exc))}"
            for need in needs:
                result.failed[(venue, need.symbols[0])] = reason
            if connector is not None:
                connector.close()
            continue
        try:
            symbols = []
            for need in needs:
                symbol = next((s for s in need.symbols if s in listed), None)
                if symbol is None and need.required:
                    result.failed[(venue, need.symbols[0])] = NOT_LISTED.format(symbol=need.symbols[0], venue=venue)
                elif symbol is None:
                    result.unlisted.append((venue, need.asset))
                elif symbol not in symbols:
                    symbols.append(symbol)
            for symbol in symbols:
                key = (venue, symbol)
                try:
                    price, source, taken_at = price_of(connector, symbol)
                except ExchangeError as exc:
                    result.failed[key] = scrub(str(exc))
                    continue
                if price <= 0:
                    result.failed[key] = NO_PRICE.format(symbol=symbol)
                    continue
                store_price(venue, symbol, fifo.quantize(price), source, taken_at)
                result.stored.append(key)
        finally:
            connector.close()
    if result.failed:
        logger.warning("price refresh: %d symbols failed", len(result.failed),
                       extra={"failed": sorted(f"{s} at {v}: {r}" for (v, s), r in result.failed.items())})
    return result


def store_price(venue: str, symbol: str, price, source: str, taken_at) -> None:
    """The latest price of the symbol at the venue (one row per pair), and the same in the history."""
    with transaction.atomic():
        PriceSnapshot.objects.update_or_create(
            exchange=venue, symbol=symbol, defaults={"price": price, "source": source, "taken_at": taken_at},
        )
        PriceHistory.objects.bulk_create(
            [PriceHistory(exchange=venue, symbol=symbol, price=price, source=source, taken_at=taken_at)],
            ignore_conflicts=True,  # the same quote stored twice (a retried task)
        )
