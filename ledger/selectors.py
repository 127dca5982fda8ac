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
from ledger import fifo, prices, windows
from ledger.models import BalanceRefresh, BalanceSnapshot, PnlState, PriceSnapshot
from ledger.rollups import day_start

NO_MARK = "No price is known for {symbol}: no stored snapshot and no trade yet."
NO_USD = "Cannot convert {quote} to USD: no stored {quote}/USD price."
NO_SNAPSHOT = "No balance snapshot yet: the background refresh has not succeeded for this account."
NO_ASSETS = "The exchange reported no assets for this account."
BALANCES_TOO_OLD = (
    "Last confirmed {age} s ago, over the {limit} s limit (BALANCE_MAX_AGE_S): the refresh is not running."
)
UNKNOWN_WINDOW = "Unknown window {window!r}; use 24h, 7d, 30d, all or a timedelta."

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
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


def _rate_json(rate: prices.Rate | None, now: datetime) -> dict | None:
    """A price as shown: value, source, when taken, its age in seconds and whether past its limit."""
    if rate is None:
        return None
    return {"price": rate.value, "source": rate.source, "taken_at": rate.taken_at, "age_s": rate.age_s(now),
            "is_stale": rate.is_stale}


def _mark(bot: Bot, state: fifo.FifoState, row: PnlState | None, exchange: str, snapshots: dict,
          now: datetime) -> prices.Rate | None:
    """The bot's own venue's snapshot while fresh, else the fresher of it and the bot's last trade."""
    limit = prices.max_age("MARK_MAX_AGE_S")
    snapshot = snapshots.get((exchange, bot.symbol))  # another venue's price is not this bot's mark
    candidates = []
    if snapshot is not None:
        candidates.append(prices.rate_of(snapshot, limit, now))
    if state.last_price is not None and row.last_traded_at is not None:
        candidates.append(prices.Rate(fifo.from_units(state.last_price), PriceSnapshot.Source.LAST_TRADE,
                                      row.last_traded_at, now - row.last_traded_at > limit))
    if not candidates or not candidates[0].is_stale:
        return candidates[0] if candidates else None
    return max(candidates, key=lambda r: r.taken_at)


def _divide(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return fifo.quantize(fifo.EXACT.divide(numerator, denominator)) if denominator else None


# --- P&L ----------------------------------------------------------------------------------------
def _pnl(bot: Bot, row: PnlState | None, exchange: str, snapshots: dict, now: datetime) -> dict:
    state = fifo.FifoState.from_json(row.engine if row else None)
    quote = bot.quote.upper()
    mark = _mark(bot, state, row, exchange, snapshots, now)
    realized = fifo.from_units(state.realized)
    if state.position == 0:
        unrealized, reason = fifo.from_units(-state.basis), None
    elif mark is None:
        unrealized, reason = None, NO_MARK.format(symbol=bot.symbol)
    else:
        unrealized, reason = fifo.quantize(fifo.unrealized(state, mark.value)), None
    total = None if unrealized is None else fifo.quantize(fifo.EXACT.add(realized, unrealized))
    usd_rate = prices.usd_rate(quote, exchange, snapshots, now)
    return {
        "currency": quote,
        "realized": realized,
        "unrealized": unrealized,
        "total": total,
        "unrealized_reason": reason,
        "mark": _rate_json(mark, now),
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
        "usd_rate": _rate_json(usd_rate, now),
        "usd_reason": None if usd_rate else NO_USD.format(quote=quote),
    }


def pnl_for_bots(bots, *, now: datetime | None = None) -> dict[int, dict]:
    """P&L of each bot (see pnl_for_bot), in three queries at most whatever the number of bots."""
    bots = list(bots)
    if not bots:
        return {}
    now = now or timezone.now()
    exchanges = _exchanges(bots)
    rows = {r.bot_id: r for r in PnlState.objects.filter(bot_id__in=[b.pk for b in bots])}
    snapshots = _snapshots_for(bots)
    return {b.pk: _pnl(b, rows.get(b.pk), exchanges[b.pk], snapshots, now) for b in bots}


def pnl_for_bot(bot: Bot, *, now: datetime | None = None) -> dict:
    """Realized (FIFO, fees included) and unrealized P&L in quote, and in USD when convertible.

    ``mark`` says which price marked the open lots (order book mid, ticker, or the last trade
    as a fallback) and when it was taken; ``unrealized`` is None with ``unrealized_reason`` when
    the bot holds a position and no price is known. Fees in a third token with no price are in
    ``unconverted_fees``, not in the P&L. ``mark`` and ``usd_rate`` give their ``age_s`` and
    ``is_stale`` (past MARK_MAX_AGE_S / USD_RATE_MAX_AGE_S).
    """
    return pnl_for_bots([bot], now=now)[bot.pk]


# --- volume ---------------------------------------------------------------------------------------
def _since(window, now: datetime) -> tuple[str, datetime | None]:
    """(label, start) of a window ending at ``now``; ``all`` has no start."""
    if isinstance(window, timedelta):
        return f"{int(window.total_seconds())}s", now - window
    if window in WINDOWS:
        length = WINDOWS[window]
        return window, None if length is None else now - length
    raise ValueError(UNKNOWN_WINDOW.format(window=window))


def _volume(bot: Bot, label: str, window: windows.Plan, rows: windows.Rows, usd_rate, now: datetime) -> dict:
    s = windows.sums(window, bot, rows)
    quote_volume = fifo.EXACT.add(s["buy_quote"], s["sell_quote"])
    return {
        "window": label,
        "since": window.since,
        "until": window.until,
        "base_currency": bot.base.upper(),
        "quote_currency": bot.quote.upper(),
        "base_volume": fifo.EXACT.add(s["buy_base"], s["sell_base"]),
        "quote_volume": quote_volume,
        "usd_volume": _usd(quote_volume, usd_rate),
        "usd_rate": _rate_json(usd_rate, now),
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
        "realized_since": window.realized_since,
    }


def volume_for_bots(bots, window="24h", *, now: datetime | None = None) -> dict[int, dict]:
    """Volume of each bot over ``window`` (see volume_for_bot), in five queries at most."""
    bots = list(bots)
    if not bots:
        return {}
    now = now or timezone.now()
    label, since = _since(window, now)
    span = windows.plan(since, now)
    rows = windows.load([b.pk for b in bots], [span])
    exchanges = _exchanges(bots)
    snapshots = prices.load_snapshots(s for b in bots for s in prices.usd_symbols(b.quote))
    return {
        b.pk: _volume(b, label, span, rows, prices.usd_rate(b.quote, exchanges[b.pk], snapshots, now), now)
        for b in bots
    }


def volume_for_bot(bot: Bot, window="24h", *, now: datetime | None = None) -> dict:
    """Base, quote and USD volume, buy/sell counts, average prices and fees over ``window``.

    Windows are exact: 24h is every trade from ``now`` − 24 h to ``now`` (whole hourly buckets
    plus the trades of the two partial hours), 7d and 30d alike, ``all`` every trade.
    ``realized_pnl`` counts the hours from ``realized_since`` (P&L is kept per hour).
    ``usd_volume`` is None with ``usd_reason`` when the quote has no stored USD price (USD
    stablecoins count as 1).
    """
    return volume_for_bots([bot], window, now=now)[bot.pk]


# --- stats ----------------------------------------------------------------------------------------
def stats_for_bot(bot: Bot, *, now: datetime | None = None, days: int = 30) -> dict:
    """Volume for 24h, 7d, 30d and all time, the P&L, and a daily series of the last ``days`` days.

    Costs a fixed number of queries: the windows share one query for edge trades, one for
    hourly rows and one for daily rows, plus state and prices.
    """
    now = now or timezone.now()
    exchange = _exchanges([bot])[bot.pk]
    snapshots = _snapshots_for([bot])
    usd_rate = prices.usd_rate(bot.quote, exchange, snapshots, now)
    first_day = day_start(now) - timedelta(days=days - 1)
    spans = {name: windows.plan(_since(name, now)[1], now) for name in WINDOWS}
    series_span = windows.Plan(first_day, now, daily=((first_day, None),))
    rows = windows.load([bot.pk], [*spans.values(), series_span])
    result = {name: _volume(bot, name, span, rows, usd_rate, now) for name, span in spans.items()}
    by_day = {r.bucket_start: r for r in rows.daily[bot.pk] if r.bucket_start >= first_day}
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
    return {"windows": result, "daily": series, "pnl": _pnl(bot, row, exchange, snapshots, now)}


# --- balances -------------------------------------------------------------------------------------
def balances_for_bots(bots, *, now: datetime | None = None) -> dict[int, dict]:
    """Balances of each bot's account (see balances_for_bot), in two queries whatever the number of bots."""
    bots = list(bots)
    if not bots:
        return {}
    now = now or timezone.now()
    account_ids = {b.account_id for b in bots}
    refreshes = {r.account_id: r for r in BalanceRefresh.objects.filter(account_id__in=account_ids)}
    current = BalanceSnapshot.objects.filter(
        account_id__in=account_ids, confirmed_at=F("account__balance_refresh__last_success_at")
    ).order_by("account_id", "asset")
    assets: dict[int, list] = {}
    for snapshot in current:
        assets.setdefault(snapshot.account_id, []).append(snapshot)
    return {b.pk: _balances(b, refreshes.get(b.account_id), assets.get(b.account_id, []), now) for b in bots}


def _freshness(refresh: BalanceRefresh | None, now: datetime) -> dict:
    """Age of the account's balances (from the heartbeat) and whether they are stale: failed or too old."""
    confirmed = refresh.last_success_at if refresh else None
    age_s = None if confirmed is None else max(0, int((now - confirmed).total_seconds()))
    limit = prices.max_age("BALANCE_MAX_AGE_S")
    error = refresh.last_error if refresh and refresh.is_stale else ""
    too_old = age_s is not None and age_s > limit.total_seconds()
    if too_old and not error:
        error = BALANCES_TOO_OLD.format(age=age_s, limit=int(limit.total_seconds()))
    return {"taken_at": confirmed, "age_s": age_s, "is_stale": bool(refresh and refresh.is_stale) or too_old,
            "error": error}


def _balances(bot: Bot, refresh: BalanceRefresh | None, snapshots: list, now: datetime) -> dict:
    freshness = _freshness(refresh, now)
    if not snapshots:
        taken_at = freshness["taken_at"]
        return {
            "account_id": bot.account_id,
            "assets": [
                {"asset": asset.upper(), "available": ZERO, "locked": ZERO, "total": ZERO, "usd_value": None}
                for asset in dict.fromkeys((bot.base, bot.quote))
            ],
            "total_usd": None,
            **freshness,
            "changed_at": None,
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
        **freshness,
        "changed_at": max(s.taken_at for s in snapshots),
        "reason": None,
    }


def balances_for_bot(bot: Bot, *, now: datetime | None = None) -> dict:
    """The account's latest good balances per asset (available, locked, total, USD value).

    ``taken_at`` is when the venue last confirmed them and ``age_s`` how long ago; ``is_stale``
    and ``error`` say the last refresh failed or they are older than BALANCE_MAX_AGE_S; with no
    snapshot at all, the bot's two assets read as 0 with ``reason``.
    """
    return balances_for_bots([bot], now=now)[bot.pk]


# --- the bot list -----------------------------------------------------------------------------------
def summaries_for_bots(bots, window="24h", *, now: datetime | None = None) -> dict[int, dict]:
    """P&L, volume over ``window`` and balances per bot, for a list screen: a fixed number of queries."""
    bots = list(bots)
    now = now or timezone.now()
    pnl, volume = pnl_for_bots(bots, now=now), volume_for_bots(bots, window, now=now)
    balances = balances_for_bots(bots, now=now)
    return {b.pk: {"pnl": pnl[b.pk], "volume": volume[b.pk], "balances": balances[b.pk]} for b in bots}


# --- portfolios -------------------------------------------------------------------------------------
def current_balances(account_ids) -> list[dict]:
    """Each account's latest good snapshot per asset, with its exchange and age: two queries."""
    accounts = {a.pk: a for a in ExchangeAccount.objects.filter(pk__in=list(account_ids))}
    refreshes = {r.account_id: r for r in BalanceRefresh.objects.filter(account_id__in=list(accounts))}
    rows = BalanceSnapshot.objects.filter(
        account_id__in=list(accounts), confirmed_at=F("account__balance_refresh__last_success_at")
    ).order_by("account_id", "asset")
    return [
        {
            "asset": s.asset, "total": s.total, "available": s.available, "locked": s.locked, "usd_value": s.usd_value,
            "exchange": accounts[s.account_id].exchange, "account": accounts[s.account_id].name,
            "account_id": s.account_id, "taken_at": s.confirmed_at,
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
