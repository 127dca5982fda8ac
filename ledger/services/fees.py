"""Valuing third-token fees at their trade's time from price history, now or when a price arrives.

A fill can arrive long after it happened (a sync backlog, a venue's late report): its fee is
converted with the price taken closest to the fill's time (within FEE_PRICE_MAX_SKEW) from the
price history the refresh keeps (PRUNE_AFTER_DAYS). A fee with no such price yet stays in
``unconverted_fees``; ``convert_pending_fees`` values it once a close price is stored and
rebuilds the bot's figures from its trades.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot
from ledger import fifo, prices
from ledger.models import BotTrade, HourlyRollup, PnlState, PriceHistory, PriceSnapshot

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


def _prices_near(symbols: set[str], moments: list[datetime]) -> dict[str, list]:
    """symbol → [(taken_at, exchange, price)] from history and latest snapshots within the skew of any moment."""
    skew = prices.FEE_PRICE_MAX_SKEW
    if not symbols or not moments:
        return {}
    ranges = sorted(moments)
    near = Q()
    # one range per cluster of moments, so a page spread over days reads only the hours it needs
    start = end = ranges[0]
    clusters = []
    for moment in ranges[1:]:
        if moment - end > 2 * skew:
            clusters.append((start, end))
            start = moment
        end = moment
    clusters.append((start, end))
    for first, last in clusters:
        near |= Q(taken_at__gte=first - skew, taken_at__lte=last + skew)
    found: dict[str, list] = {}
    for model in (PriceHistory, PriceSnapshot):
        rows = model.objects.filter(near, symbol__in=sorted(symbols))
        for row in rows.values_list("symbol", "taken_at", "exchange", "price"):
            found.setdefault(row[0], []).append(row[1:])
    return found


def rate_at(currency: str, quote: str, exchange: str, at: datetime, near: dict) -> Decimal | None:
    """Quote per unit of ``currency`` at ``at``: the closest price within the skew, the bot's venue first.

    A USD-stable quote accepts the token's USD price (stablecoins count as 1 USD).
    """
    skew = prices.FEE_PRICE_MAX_SKEW
    for symbol in prices.fee_symbols(currency, quote):
        candidates = [(abs(taken_at - at), venue != exchange, price) for taken_at, venue, price in near.get(symbol, [])]
        candidates = [c for c in candidates if c[0] <= skew]
        if candidates:
            return min(candidates, key=lambda c: (c[1], c[0]))[2]
    return None


def value_fees(bot: Bot, rows: list[dict]) -> None:
    """Set each row's ``fee_quote``: the fee in quote at its trade's time, None when it cannot be valued yet."""
    base, quote = bot.base, bot.quote

    def is_third_token(row: dict) -> bool:  # a named currency other than base and quote
        return bool(row["fee_currency"]) and fifo.fee_kind(row["fee"], row["fee_currency"], base, quote) == fifo.FEE_OTHER

    others = [r for r in rows if is_third_token(r)]
    symbols = {s for r in others for s in prices.fee_symbols(r["fee_currency"], quote)}
    near = _prices_near(symbols, [r["traded_at"] for r in others])
    exchange = prices.venue_key(bot.account.exchange, bot.account_id)
    for row in rows:
        rate = None
        if is_third_token(row):
            rate = rate_at(row["fee_currency"], quote, exchange, row["traded_at"], near)
        row["fee_quote"] = fifo.fee_in_quote(row["fee"], row["fee_currency"], row["price"], base, quote, rate)


def convert_pending_fees(bot_ids=None, *, now: datetime | None = None) -> dict[int, int]:
    """Value the third-token fees left unconverted once a close price is stored; rebuild those bots.

    Only hours whose rollups hold unconverted fees, within the price history's retention, are
    read, so bots with none cost one query in all. Returns {bot id: fees converted}.
    """
    from ledger.services.ingest import rebuild_pnl  # the one rebuild; imported late (ingest imports this module)

    now = now or timezone.now()
    states = PnlState.objects.all()
    if bot_ids is not None:
        states = states.filter(bot_id__in=list(bot_ids))
    pending = {
        row.bot_id: {c for c in (row.engine or {}).get("unconverted", {}) if c != fifo.UNKNOWN_FEE_CURRENCY}
        for row in states.only("bot_id", "engine")
    }
    converted: dict[int, int] = {}
    since = now - timedelta(days=settings.PRUNE_AFTER_DAYS) - HOUR
    for bot_id, currencies in pending.items():
        if not currencies:
            continue
        hours = [
            start for start, fees in HourlyRollup.objects.filter(bot_id=bot_id, bucket_start__gte=since)
            .exclude(unconverted_fees={}).values_list("bucket_start", "unconverted_fees")
            if set(fees) & currencies
        ]
        if not hours:
            continue
        in_hours = Q()
        for start in hours:
            in_hours |= Q(traded_at__gte=start, traded_at__lt=start + HOUR)
        unvalued = BotTrade.objects.filter(in_hours, bot_id=bot_id, fee_quote__isnull=True,
                                           fee_currency__in=sorted(currencies))
        trades = list(unvalued.exclude(fee=0).only("pk", "traded_at", "fee", "fee_currency", "price"))
        if not trades:
            continue
        bot = Bot.objects.select_related("account").get(pk=bot_id)
        rows = [{"pk": t.pk, "fee": t.fee, "fee_currency": t.fee_currency, "price": t.price, "traded_at": t.traded_at}
                for t in trades]
        value_fees(bot, rows)
        valued = {r["pk"]: r["fee_quote"] for r in rows if r["fee_quote"] is not None}
        if not valued:
            continue
        with transaction.atomic():
            # The bot's P&L lock first, as ingest takes it: no ingest interleaves with this rewrite.
            PnlState.objects.select_for_update().filter(bot_id=bot_id).first()
            for pk, fee_quote in valued.items():
                BotTrade.objects.filter(pk=pk, fee_quote__isnull=True).update(fee_quote=fee_quote, fee_quote_exact=str(fee_quote))
            rebuild_pnl(bot)
        converted[bot_id] = len(valued)
        logger.info("converted %d pending fees", len(valued), extra={"bot_id": bot_id})
    return converted
