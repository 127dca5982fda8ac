"""What the ledger shows: P&L, volume, stats and balances, read from state rows, rollups and snapshots.

Every figure is a Decimal. Reads never call an exchange and never scan trades; each function
costs a fixed number of queries whatever the number of trades, and the ``*_for_bots`` variants
a fixed number whatever the number of bots.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from bots.models import Bot
from exchanges.models import ExchangeAccount
from ledger import fifo, prices
from ledger.models import BalanceRefresh, BalanceSnapshot, DailyRollup, HourlyRollup, PnlState, PriceSnapshot
from ledger.rollups import COUNTS, SUMS, day_start, hour_start

NO_MARK = "No price is known for {symbol}: no stored snapshot and no trade yet."
NO_USD = "Cannot convert {quote} to USD: no stored {quote}/USD price."
NO_SNAPSHOT = "No balance snapshot yet: the background refresh has not succeeded for this account."
NO_ASSETS = "The exchange reported no assets for this account."
UNKNOWN_WINDOW = "Unknown window {window!r}; use 24h, 7d, 30d, all or a timedelta."

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
# Windows up to this long are summed from hourly buckets, longer ones from daily buckets.
HOURLY_UP_TO = timedelta(days=7)
ZERO = fifo.from_units(0)


def _exchanges(bots) -> dict[int, str]:
    """bot id → whose prices mark it (prices.venue_key), from the cached account when loaded, else one query."""
    missing = [b.account_id for b in bots if not Bot._meta.get_field("account").is_cached(b)]
    known = dict(ExchangeAccount.objects.filter(pk__in=missing).values_list("pk", "exchange")) if missing else {}
    return {
        b.pk: prices.venue_key(b.account.exchange if b.account_id not in known else known[b.account_id], b.account_id)
        for b in bots
    }


def _snapshots_for(bots) -> dict:
    symbols = set()
    for bot in bots:
        symbols.add(bot.symbol)
        symbols.update(prices.usd_symbols(bot.quote))
    return prices.load_snapshots(symbols)


def _usd(value: Decimal | None, rate: prices.Rate | None) -> Decimal | None:
    if value is None or rate is None:
        return None
    return fifo.quantize(fifo.EXACT.multiply(value, rate.value))


def _rate_json(rate: prices.Rate | None) -> dict | None:
    return None if rate is None else {"price": rate.value, "source": rate.source, "taken_at": rate.taken_at}


def _divide(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return fifo.quantize(fifo.EXACT.divide(numerator, denominator)) if denominator else None


# --- P&L ----------------------------------------------------------------------------------------
def _pnl(bot: Bot, row: PnlState | None, exchange: str, snapshots: dict) -> dict:
    state = fifo.FifoState.from_json(row.engine if row else None)
    quote = bot.quote.upper()
    mark = None
    snapshot = snapshots.get((exchange, bot.symbol))  # the bot's own venue: another one's price is not its mark
    if snapshot is not None:
        mark = prices.Rate(snapshot.price, snapshot.source, snapshot.taken_at)
    elif state.last_price is not None:
        mark = prices.Rate(fifo.from_units(state.last_price), PriceSnapshot.Source.LAST_TRADE, row.last_traded_at)
    realized = fifo.from_units(state.realized)
    if state.position == 0:
        unrealized, reason = fifo.from_units(-state.basis), None
    elif mark is None:
        unrealized, reason = None, NO_MARK.format(symbol=bot.symbol)
    else:
        unrealized, reason = fifo.quantize(fifo.unrealized(state, mark.value)), None
    total = None if unrealized is None else fifo.quantize(fifo.EXACT.add(realized, unrealized))
    usd_rate = prices.usd_rate(quote, exchange, snapshots)
    return {
        "currency": quote,
        "realized": realized,
        "unrealized": unrealized,
        "total": total,
        "unrealized_reason": reason,
        "mark": _rate_json(mark),
        "position": fifo.from_units(state.position),
        "open_cost": fifo.from_units(state.basis),
        "open_lots": len(state.lots),
        "fees": fifo.from_units(state.fees),
        "unconverted_fees": {k: fifo.from_units(v) for k, v in sorted(state.unconverted.items())},
        "oversold": fifo.from_units(state.oversold),
        "trade_count": state.trade_count,
        "last_traded_at": row.last_traded_at if row else None,
        "usd": None if usd_rate is None else {
            "realized": _usd(realized, usd_rate), "unrealized": _usd(unrealized, usd_rate), "total": _usd(total, usd_rate),
        },
        "usd_rate": _rate_json(usd_rate),
        "usd_reason": None if usd_rate else NO_USD.format(quote=quote),
    }


def pnl_for_bots(bots) -> dict[int, dict]:
    """P&L of each bot (see pnl_for_bot), in three queries at most whatever the number of bots."""
    bots = list(bots)
    if not bots:
        return {}
    exchanges = _exchanges(bots)
    rows = {r.bot_id: r for r in PnlState.objects.filter(bot_id__in=[b.pk for b in bots])}
    snapshots = _snapshots_for(bots)
    return {b.pk: _pnl(b, rows.get(b.pk), exchanges[b.pk], snapshots) for b in bots}


def pnl_for_bot(bot: Bot) -> dict:
    """Realized (FIFO, fees included) and unrealized P&L in quote, and in USD when convertible.

    ``mark`` says which price marked the open lots (order book mid, ticker, or the last trade
    as a fallback) and when it was taken; ``unrealized`` is None with ``unrealized_reason`` when
    the bot holds a position and no price is known. Fees in a third token with no price are in
    ``unconverted_fees``, not in the P&L.
    """
    return pnl_for_bots([bot])[bot.pk]


# --- volume ---------------------------------------------------------------------------------------
def _window(window, now: datetime) -> tuple[str, timedelta | None, type, datetime | None]:
    """(label, length, rollup model, first bucket start) of a window; buckets align to UTC hours/days."""
    if isinstance(window, timedelta):
        label, length = f"{int(window.total_seconds())}s", window
    elif window in WINDOWS:
        label, length = window, WINDOWS[window]
    else:
        raise ValueError(UNKNOWN_WINDOW.format(window=window))
    if length is None:
        return label, None, DailyRollup, None
    if length <= HOURLY_UP_TO:
        hours = max(1, -(-int(length.total_seconds()) // 3600))
        return label, length, HourlyRollup, hour_start(now) - timedelta(hours=hours - 1)
    days = max(1, -(-int(length.total_seconds()) // 86400))
    return label, length, DailyRollup, day_start(now) - timedelta(days=days - 1)


def _sum_rows(rows) -> dict:
    sums = {name: 0 for name in (*COUNTS, *SUMS)}
    unconverted: dict[str, int] = {}
    for row in rows:
        for name in COUNTS:
            sums[name] += getattr(row, name)
        for name in SUMS:
            sums[name] += fifo.to_units(getattr(row, name))
        for currency, amount in row.unconverted_fees.items():
            unconverted[currency] = unconverted.get(currency, 0) + fifo.to_units(Decimal(amount))
    for name in SUMS:
        sums[name] = fifo.from_units(sums[name])
    sums["unconverted_fees"] = {k: fifo.from_units(v) for k, v in sorted(unconverted.items())}
    return sums


def _volume(bot: Bot, label: str, since: datetime | None, now: datetime, rows, usd_rate) -> dict:
    s = _sum_rows(rows)
    quote_volume = fifo.EXACT.add(s["buy_quote"], s["sell_quote"])
    return {
        "window": label,
        "since": since,
        "until": now,
        "base_currency": bot.base.upper(),
        "quote_currency": bot.quote.upper(),
        "base_volume": fifo.EXACT.add(s["buy_base"], s["sell_base"]),
        "quote_volume": quote_volume,
        "usd_volume": _usd(quote_volume, usd_rate),
        "usd_rate": _rate_json(usd_rate),
        "usd_reason": None if usd_rate else NO_USD.format(quote=bot.quote.upper()),
        "trade_count": s["trade_count"],
        "buy_count": s["buy_count"],
        "sell_count": s["sell_count"],
        "buy_base": s["buy_base"],
        "sell_base": s["sell_base"],
        "avg_buy_price": _divide(s["buy_quote"], s["buy_base"]),
        "avg_sell_price": _divide(s["sell_quote"], s["sell_base"]),
        "fees": s["fees_quote"],
        "unconverted_fees": s["unconverted_fees"],
        "realized_pnl": s["realized_pnl"],
    }


def volume_for_bots(bots, window="24h", *, now: datetime | None = None) -> dict[int, dict]:
    """Volume of each bot over ``window`` (see volume_for_bot), in three queries at most."""
    bots = list(bots)
    if not bots:
        return {}
    now = now or timezone.now()
    label, _, model, since = _window(window, now)
    rows: dict[int, list] = {b.pk: [] for b in bots}
    queryset = model.objects.filter(bot_id__in=list(rows))
    if since is not None:
        queryset = queryset.filter(bucket_start__gte=since)
    for row in queryset:
        rows[row.bot_id].append(row)
    exchanges = _exchanges(bots)
    snapshots = prices.load_snapshots(s for b in bots for s in prices.usd_symbols(b.quote))
    return {
        b.pk: _volume(b, label, since, now, rows[b.pk], prices.usd_rate(b.quote, exchanges[b.pk], snapshots))
        for b in bots
    }


def volume_for_bot(bot: Bot, window="24h", *, now: datetime | None = None) -> dict:
    """Base, quote and USD volume, buy/sell counts, average prices and fees over ``window``.

    Windows are whole UTC buckets: 24h is the current hour and the 23 before it, 7d the last
    168 hours, 30d today and the 29 days before it, all every trade. ``usd_volume`` is None with
    ``usd_reason`` when the quote has no stored USD price (USD stablecoins count as 1).
    """
    return volume_for_bots([bot], window, now=now)[bot.pk]


# --- stats ----------------------------------------------------------------------------------------
def stats_for_bot(bot: Bot, *, now: datetime | None = None, days: int = 30) -> dict:
    """Volume for 24h, 7d, 30d and all time, the P&L, and a daily series of the last ``days`` days.

    Costs a fixed number of queries (hourly rows for 7 days, every daily row, state, prices).
    """
    now = now or timezone.now()
    exchange = _exchanges([bot])[bot.pk]
    snapshots = _snapshots_for([bot])
    usd_rate = prices.usd_rate(bot.quote, exchange, snapshots)
    first_hour = _window("7d", now)[3]
    hourly = list(HourlyRollup.objects.filter(bot_id=bot.pk, bucket_start__gte=first_hour))
    daily = list(DailyRollup.objects.filter(bot_id=bot.pk).order_by("bucket_start"))
    windows = {}
    for name in WINDOWS:
        label, _, model, since = _window(name, now)
        source = hourly if model is HourlyRollup else daily
        picked = [r for r in source if since is None or r.bucket_start >= since]
        windows[name] = _volume(bot, label, since, now, picked, usd_rate)
    first_day = day_start(now) - timedelta(days=days - 1)
    by_day = {r.bucket_start: r for r in daily if r.bucket_start >= first_day}
    series = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        row = by_day.get(day)
        series.append({
            "day": day.date(),
            "realized_pnl": row.realized_pnl if row else ZERO,
            "trade_count": row.trade_count if row else 0,
            "quote_volume": fifo.EXACT.add(row.buy_quote, row.sell_quote) if row else ZERO,
            "fees": row.fees_quote if row else ZERO,
        })
    row = PnlState.objects.filter(bot_id=bot.pk).first()
    return {"windows": windows, "daily": series, "pnl": _pnl(bot, row, exchange, snapshots)}


# --- balances -------------------------------------------------------------------------------------
def balances_for_bots(bots) -> dict[int, dict]:
    """Balances of each bot's account (see balances_for_bot), in two queries whatever the number of bots."""
    bots = list(bots)
    if not bots:
        return {}
    account_ids = {b.account_id for b in bots}
    refreshes = {r.account_id: r for r in BalanceRefresh.objects.filter(account_id__in=account_ids)}
    current = BalanceSnapshot.objects.filter(
        account_id__in=account_ids, taken_at=F("account__balance_refresh__last_success_at")
    ).order_by("account_id", "asset")
    assets: dict[int, list] = {}
    for snapshot in current:
        assets.setdefault(snapshot.account_id, []).append(snapshot)
    return {b.pk: _balances(b, refreshes.get(b.account_id), assets.get(b.account_id, [])) for b in bots}


def _balances(bot: Bot, refresh: BalanceRefresh | None, snapshots: list) -> dict:
    if not snapshots:
        error = refresh.last_error if refresh and refresh.is_stale else ""
        taken_at = refresh.last_success_at if refresh else None
        return {
            "account_id": bot.account_id,
            "assets": [
                {"asset": asset.upper(), "available": ZERO, "locked": ZERO, "total": ZERO, "usd_value": None}
                for asset in dict.fromkeys((bot.base, bot.quote))
            ],
            "total_usd": None,
            "taken_at": taken_at,
            "is_stale": bool(refresh and refresh.is_stale),
            "error": error,
            "reason": NO_ASSETS if taken_at else NO_SNAPSHOT,
        }
    values = [s.usd_value for s in snapshots]
    return {
        "account_id": bot.account_id,
        "assets": [
            {"asset": s.asset, "available": s.available, "locked": s.locked, "total": s.total, "usd_value": s.usd_value}
            for s in snapshots
        ],
        "total_usd": None if None in values else fifo.from_units(sum(fifo.to_units(v) for v in values)),
        "taken_at": snapshots[0].taken_at,
        "is_stale": refresh.is_stale,
        "error": refresh.last_error if refresh.is_stale else "",
        "reason": None,
    }


def balances_for_bot(bot: Bot) -> dict:
    """The account's latest good balances per asset (available, locked, total, USD value).

    ``is_stale`` and ``error`` say the last refresh failed and these are older; with no snapshot
    at all, the bot's two assets read as 0 with ``reason``.
    """
    return balances_for_bots([bot])[bot.pk]


# --- the bot list -----------------------------------------------------------------------------------
def summaries_for_bots(bots, window="24h", *, now: datetime | None = None) -> dict[int, dict]:
    """P&L, volume over ``window`` and balances per bot, for a list screen: a fixed number of queries."""
    bots = list(bots)
    pnl, volume, balances = pnl_for_bots(bots), volume_for_bots(bots, window, now=now), balances_for_bots(bots)
    return {b.pk: {"pnl": pnl[b.pk], "volume": volume[b.pk], "balances": balances[b.pk]} for b in bots}


# --- portfolios -------------------------------------------------------------------------------------
def current_balances(account_ids) -> list[dict]:
    """Each account's latest good snapshot per asset, with its exchange and age: two queries."""
    accounts = {a.pk: a for a in ExchangeAccount.objects.filter(pk__in=list(account_ids))}
    refreshes = {r.account_id: r for r in BalanceRefresh.objects.filter(account_id__in=list(accounts))}
    rows = BalanceSnapshot.objects.filter(
        account_id__in=list(accounts), taken_at=F("account__balance_refresh__last_success_at")
    ).order_by("account_id", "asset")
    return [
        {
            "asset": s.asset, "total": s.total, "available": s.available, "locked": s.locked, "usd_value": s.usd_value,
            "exchange": accounts[s.account_id].exchange, "account": accounts[s.account_id].name,
            "account_id": s.account_id, "taken_at": s.taken_at,
            "is_stale": bool(refreshes.get(s.account_id) and refreshes[s.account_id].is_stale),
        }
        for s in rows
    ]


def portfolio(account_ids) -> dict:
    """Balances per exchange and asset over the accounts, with USD totals where every price is known."""
    balances = current_balances(account_ids)
    by_exchange: dict[str, dict[str, dict]] = {}
    for row in balances:
        assets = by_exchange.setdefault(row["exchange"], {})
        held = assets.setdefault(row["asset"], {"asset": row["asset"], "total": ZERO, "available": ZERO,
                                                "locked": ZERO, "usd_value": ZERO})
        for name in ("total", "available", "locked"):
            held[name] = fifo.EXACT.add(held[name], row[name])
        held["usd_value"] = None if held["usd_value"] is None or row["usd_value"] is None else \
            fifo.EXACT.add(held["usd_value"], row["usd_value"])
    values = [row["usd_value"] for row in balances]
    return {
        "exchanges": [{"exchange": name, "assets": list(assets.values())} for name, assets in sorted(by_exchange.items())],
        "balances": balances,
        "total_usd": None if None in values else fifo.from_units(sum(fifo.to_units(v) for v in values)),
    }


def stored_price(exchange: str, symbol: str, *, account_ids=()) -> PriceSnapshot | None:
    """The stored price of ``symbol`` at ``exchange`` (for paper: at one of ``account_ids``), else None."""
    venues = [prices.venue_key("paper", pk) for pk in account_ids] if exchange == "paper" else [exchange]
    return PriceSnapshot.objects.filter(exchange__in=venues, symbol=symbol).order_by("-taken_at").first()
