"""Storing a bot's fills once, and keeping its FIFO state and rollups current in the same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot
from exchanges.connectors.base import TradeFill
from ledger import fifo, rollups
from ledger.services import fees
from ledger.models import BotTrade, PnlState

logger = logging.getLogger(__name__)

BAD_SIDE = "Trade {trade_id}: side must be buy or sell, not {side!r}."
BAD_AMOUNT = "Trade {trade_id}: amount must be positive (or 0 with a fee paid) and price not negative."
NAIVE_TIME = "Trade {trade_id}: traded_at must carry a time zone."
NO_TRADE_ID = "A trade without an exchange trade id cannot be stored idempotently."
OTHER_SYMBOL = "Trade {trade_id} is on {symbol}, not on the bot's {bot_symbol}."

CHUNK = 2000
TRADE_FIELDS = ("pk", "traded_at", "side", "amount", "price", "cost", "fee", "fee_currency", "fee_quote")


@dataclass(frozen=True)
class RebuildResult:
    """A rebuild's figures before and after; ``differences`` names every figure that changed."""

    before: dict
    after: dict
    differences: dict


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _validated(fill: TradeFill, bot_symbol: str) -> dict:
    trade_id = str(fill.exchange_trade_id or "").strip()
    if not trade_id:
        raise ValidationError(NO_TRADE_ID, code="trade_id_missing")
    if fill.symbol and fill.symbol.upper() != bot_symbol.upper():
        # another pair's fill would corrupt this bot's lots
        raise ValidationError(
            OTHER_SYMBOL.format(trade_id=trade_id, symbol=fill.symbol, bot_symbol=bot_symbol), code="trade_symbol"
        )
    side = str(fill.side or "").strip().lower()
    if side not in ("buy", "sell"):
        raise ValidationError(BAD_SIDE.format(trade_id=trade_id, side=fill.side), code="trade_side")
    amount, price = fifo.quantize(_decimal(fill.amount)), fifo.quantize(_decimal(fill.price))
    fee = fifo.quantize(_decimal(fill.fee or 0))
    # amount 0 only for a fee-only fill: a swap that failed on chain still paid its network fee
    if amount < 0 or (amount == 0 and fee <= 0) or price < 0:
        raise ValidationError(BAD_AMOUNT.format(trade_id=trade_id), code="trade_amount")
    if timezone.is_naive(fill.traded_at):
        raise ValidationError(NAIVE_TIME.format(trade_id=trade_id), code="trade_time")
    cost = fifo.quantize(_decimal(fill.cost)) if fill.cost else fifo.quantize(fifo.EXACT.multiply(amount, price))
    return {
        "exchange_trade_id": trade_id,
        "order_id": str(fill.order_id or ""),
        "side": side,
        "amount": amount,
        "price": price,
        "cost": cost,
        "fee": fee,
        "fee_currency": (fill.fee_currency or "").strip().upper(),
        "traded_at": fill.traded_at,
    }


def _with_fee_quote(bot: Bot, rows: list[dict]) -> None:
    """Value each fee in quote at its trade's time (price history); a third token with no close price stays None."""
    fees.value_fees(bot, rows)


def _state_row(bot: Bot) -> PnlState:
    """The bot's state row, locked for this transaction (PostgreSQL row lock; SQLite's write lock)."""
    PnlState.objects.get_or_create(bot=bot)  # its own savepoint: a concurrent creator just wins
    return PnlState.objects.select_for_update().get(bot=bot)


def _save_state(row: PnlState, state: fifo.FifoState, last: tuple[datetime, int] | None, **extra) -> None:
    row.engine = state.to_json()
    row.realized_pnl = fifo.from_units(state.realized)
    row.position = fifo.from_units(state.position)
    row.fees_quote = fifo.from_units(state.fees)
    row.trade_count = state.trade_count
    if last is not None:
        row.last_traded_at, row.last_trade_pk = last
    for name, value in extra.items():
        setattr(row, name, value)
    row.save()


def ingest_trades(bot: Bot, fills: list[TradeFill]) -> int:
    """Store the fills not stored yet and bring the bot's P&L state and rollups up to date.

    Idempotent: a fill already stored (same exchange trade id), or repeated in ``fills``, is
    skipped, also when two workers ingest the same fills at once (the state row lock orders
    them). Fills older than the newest applied trade make the state rebuild from all trades.
    Returns how many trades were new. Does no network I/O.
    """
    rows = {}
    for fill in fills:
        row = _validated(fill, bot.symbol)
        rows.setdefault(row["exchange_trade_id"], row)
    if not rows:
        return 0
    _with_fee_quote(bot, list(rows.values()))
    with transaction.atomic():
        state_row = _state_row(bot)
        ids = list(rows)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for known in BotTrade.objects.filter(bot=bot, exchange_trade_id__in=chunk).values_list(
                "exchange_trade_id", flat=True
            ):
                rows.pop(known, None)
        if not rows:
            return 0
        ordered = sorted(rows.values(), key=lambda r: (r["traded_at"], r["exchange_trade_id"]))
        inserted = BotTrade.objects.bulk_create([BotTrade(bot=bot, **r) for r in ordered], batch_size=1000)
        # Apply what the database stored (SQLite keeps ~15 digits), so a rebuild reads the same values.
        pks = [t.pk for t in inserted]
        created = [t for i in range(0, len(pks), CHUNK) for t in BotTrade.objects.filter(pk__in=pks[i : i + CHUNK])]
        created.sort(key=lambda t: (t.traded_at, t.pk))
        first, newest = created[0], created[-1]
        is_behind = state_row.last_traded_at is not None and first.traded_at < state_row.last_traded_at
        is_unseeded = state_row.last_trade_pk is None and BotTrade.objects.filter(bot=bot).count() > len(pks)
        if is_behind or is_unseeded:
            # An older trade arrived late (or trades predate the state): FIFO order changed, start over.
            _rebuild_locked(bot, state_row)
        else:
            _apply_locked(bot, state_row, created)
    # After the commit, on its own: never hold the P&L lock while waiting for the bot's row.
    Bot.objects.filter(pk=bot.pk).filter(Q(last_trade_at__isnull=True) | Q(last_trade_at__lt=newest.traded_at)).update(
        last_trade_at=newest.traded_at
    )
    return len(created)


def _apply_locked(bot: Bot, state_row: PnlState, trades: list[BotTrade]) -> None:
    state = fifo.FifoState.from_json(state_row.engine)
    rows = [(t.pk, t.traded_at, t.side, t.amount, t.price, t.cost, t.fee, t.fee_currency, t.fee_quote) for t in trades]
    builder = rollups.RollupBuilder()
    _apply_rows(bot, state, builder, rows)
    rollups.merge(bot.pk, builder)
    _save_state(state_row, state, (trades[-1].traded_at, trades[-1].pk))


def _apply_rows(bot: Bot, state: fifo.FifoState, builder: rollups.RollupBuilder, rows: list[tuple]) -> None:
    """Apply rows shaped like TRADE_FIELDS to the state and the rollup builder."""
    raw: list[tuple[int, int]] = []
    engine_trades = fifo.engine_trades((r[2:] for r in rows), bot.base, bot.quote, raw)
    deltas: list[int] = []
    fifo.apply(state, engine_trades, deltas)
    add = builder.add
    for row, (amount, cost), engine_trade, delta in zip(rows, raw, engine_trades, deltas):
        add(row[1], row[2] == "buy", amount, cost, engine_trade[2], engine_trade[3], engine_trade[4], delta)


def _rebuild_locked(bot: Bot, state_row: PnlState) -> fifo.FifoState:
    """Recompute state and rollups from every stored trade, streaming in chunks."""
    state = fifo.FifoState()
    builder = rollups.RollupBuilder()
    batch: list[tuple] = []
    last = None
    trades = BotTrade.objects.filter(bot=bot).order_by("traded_at", "pk").values_list(*TRADE_FIELDS)
    for row in trades.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            _apply_rows(bot, state, builder, batch)
            last = (batch[-1][1], batch[-1][0])
            batch = []
    if batch:
        _apply_rows(bot, state, builder, batch)
        last = (batch[-1][1], batch[-1][0])
    rollups.replace(bot.pk, builder)
    _save_state(state_row, state, last or (None, None), rebuilt_at=timezone.now())
    return state


def _figures(row: PnlState) -> dict:
    state = fifo.FifoState.from_json(row.engine)
    return {
        "realized": fifo.from_units(state.realized),
        "position": fifo.from_units(state.position),
        "open_cost": fifo.from_units(state.basis),
        "fees": fifo.from_units(state.fees),
        "unconverted_fees": {k: fifo.from_units(v) for k, v in sorted(state.unconverted.items())},
        "oversold": fifo.from_units(state.oversold),
        "trade_count": state.trade_count,
        "open_lots": [[fifo.from_units(q), fifo.from_units(b)] for q, b in state.lots],
    }


def rebuild_pnl(bot: Bot) -> RebuildResult:
    """Recompute the bot's FIFO state and rollups from scratch; report what differed."""
    with transaction.atomic():
        row = _state_row(bot)
        before = _figures(row) | {"rollups": rollups.snapshot(bot.pk)}
        _rebuild_locked(bot, row)
        after = _figures(row) | {"rollups": rollups.snapshot(bot.pk)}
    differences = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    if "rollups" in differences and not rollups.differ(before["rollups"], after["rollups"]):
        del differences["rollups"]
    if differences:
        logger.warning("P&L rebuild of bot %s changed %s", bot.pk, sorted(differences))
    return RebuildResult(before=before, after=after, differences=differences)
