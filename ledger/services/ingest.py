"""Storing a bot's fills once, and keeping its FIFO state and rollups current in the same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot
from exchanges.connectors.base import TradeFill
from ledger import checkpoints, fifo, rollups
from ledger.models import BotTrade, PnlState, QuarantinedFill, _agrees
from ledger.services import fees, quarantine

logger = logging.getLogger(__name__)

BAD_SIDE = "Trade {trade_id}: side must be buy or sell, not {side!r}."
BAD_AMOUNT = "Trade {trade_id}: amount must be positive (or 0 with a fee paid) and price not negative."
NAIVE_TIME = "Trade {trade_id}: traded_at must carry a time zone."
NO_TRADE_ID = "A trade without an exchange trade id cannot be stored idempotently."
OTHER_SYMBOL = "Trade {trade_id} is on {symbol}, not on the bot's {bot_symbol}."
TOO_LARGE = "Trade {trade_id}: {name} {value} does not fit the ledger (20 integer digits at most)."
TOO_LONG = "Trade {trade_id}: {name} is longer than {length} characters."
# Whatever the venue sent, these leave validation as a quarantine, never as an error for the page.
_UNREADABLE = (ArithmeticError, TypeError, ValueError, AttributeError)
LIMIT = 10**20  # MONEY columns: 38 digits, 18 of them decimals

CHUNK = 2000
TRADE_FIELDS = ("pk", "traded_at", "side", "amount", "price", "cost", "fee", "fee_currency", "fee_quote")
TRADE_EXACT_FIELDS = (*TRADE_FIELDS, "amount_exact", "price_exact", "cost_exact", "fee_exact", "fee_quote_exact")


@dataclass(frozen=True)
class RebuildResult:
    """A rebuild's figures before and after; ``differences`` names every figure that changed."""

    before: dict
    after: dict
    differences: dict


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class IngestResult:
    new: int = 0
    quarantined: int = 0


def _fits(trade_id: str, name: str, value: Decimal) -> Decimal:
    if abs(value) >= LIMIT:
        raise ValidationError(TOO_LARGE.format(trade_id=trade_id, name=name, value=value), code="trade_too_large")
    return value


def _short(trade_id: str, name: str, value: str, length: int) -> str:
    if len(value) > length:
        raise ValidationError(TOO_LONG.format(trade_id=trade_id, name=name, length=length), code="trade_too_long")
    return value


def _validated(fill: TradeFill, bot_symbol: str) -> dict:
    trade_id = str(fill.exchange_trade_id or "").strip()
    if not trade_id:
        raise ValidationError(NO_TRADE_ID, code="trade_id_missing")
    _short(trade_id, "exchange_trade_id", trade_id, 128)
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
    if not isinstance(fill.traded_at, datetime) or timezone.is_naive(fill.traded_at):
        raise ValidationError(NAIVE_TIME.format(trade_id=trade_id), code="trade_time")
    cost = fifo.quantize(_decimal(fill.cost)) if fill.cost else fifo.quantize(fifo.EXACT.multiply(amount, price))
    for name, value in (("amount", amount), ("price", price), ("cost", cost), ("fee", fee)):
        _fits(trade_id, name, value)
    return {
        "exchange_trade_id": trade_id,
        "order_id": _short(trade_id, "order_id", str(fill.order_id or ""), 128),
        "side": side,
        "amount": amount,
        "price": price,
        "cost": cost,
        "fee": fee,
        "fee_currency": _short(trade_id, "fee_currency", (fill.fee_currency or "").strip().upper(), 20),
        "traded_at": fill.traded_at,
    }


def _split(bot: Bot, fills) -> tuple[dict, list[QuarantinedFill]]:
    """The bookable rows by key, first seen kept; and the fills that cannot be booked."""
    rows, bad = {}, []
    for fill in fills:
        try:
            row = _validated(fill, bot.symbol)
        except (ValidationError, *_UNREADABLE) as exc:
            bad.append(quarantine.unbooked(bot, fill, exc))
            continue
        rows.setdefault(_key(row), row)
    return rows, bad


def _key(row: dict) -> tuple[str, str]:
    # A self-trade is two fills with one trade id, a buy and a sell: both are the bot's.
    return row["exchange_trade_id"], row["side"]


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
    """``ingest_fills`` returning how many trades were new."""
    return ingest_fills(bot, fills).new


def ingest_fills(bot: Bot, fills: list[TradeFill]) -> IngestResult:
    """Store the fills not stored yet and bring the bot's P&L state and rollups up to date.

    Idempotent: a fill already stored (same exchange trade id and side), or repeated in ``fills``, is
    skipped, also when two workers ingest the same fills at once (the state row lock orders
    them). Fills older than the newest applied trade make the state replay from the nearest
    checkpoint before them (ledger/checkpoints.py).
    A fill that cannot be booked is quarantined (QuarantinedFill, once) and the others are
    booked: one bad row never blocks its page. Does no network I/O.
    """
    rows, bad = _split(bot, fills)
    if not rows:
        if not bad:
            return IngestResult()
        with transaction.atomic():
            return IngestResult(quarantined=quarantine.store(bad))
    _with_fee_quote(bot, list(rows.values()))
    with transaction.atomic():
        quarantined = quarantine.store(bad)
        state_row = _state_row(bot)
        ids = sorted({trade_id for trade_id, _ in rows})
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for known in BotTrade.objects.filter(bot=bot, exchange_trade_id__in=chunk).values_list(
                "exchange_trade_id", "side"
            ):
                rows.pop(known, None)
        if not rows:
            return IngestResult(quarantined=quarantined)
        ordered = sorted(rows.values(), key=lambda r: (r["traded_at"], r["exchange_trade_id"], r["side"]))
        # The values applied are those stored: the exact mirrors keep every digit on any database,
        # so no read back.
        created = _insert_trades(bot, ordered)
        first_at, newest_at = created[0][1], created[-1][1]
        is_behind = state_row.last_traded_at is not None and first_at < state_row.last_traded_at
        is_unseeded = state_row.last_trade_pk is None and BotTrade.objects.filter(bot=bot).count() > len(created)
        if is_unseeded:
            _rebuild_locked(bot, state_row)  # trades predate the state: start over
        elif is_behind:
            # An older trade arrived late: FIFO order changed from it on.
            _rebuild_from_checkpoint(bot, state_row, first_at)
        else:
            _apply_locked(bot, state_row, created)
    # After the commit, on its own: never hold the P&L lock while waiting for the bot's row.
    Bot.objects.filter(pk=bot.pk).filter(Q(last_trade_at__isnull=True) | Q(last_trade_at__lt=newest_at)).update(
        last_trade_at=newest_at
    )
    return IngestResult(new=len(created), quarantined=quarantined)


INSERT_COLUMNS = ("bot_id", "exchange_trade_id", "order_id", "side", "amount", "price", "cost", "fee", "fee_currency",
                  "fee_quote", "amount_exact", "price_exact", "cost_exact", "fee_exact", "fee_quote_exact",
                  "traded_at", "created_at")
INSERT_BATCH = 500


def _insert_trades(bot: Bot, rows: list[dict]) -> list[tuple]:
    """Insert time-ordered validated rows; the stored trades shaped like TRADE_FIELDS, same order.

    One multi-row INSERT ... RETURNING per batch with the values adapted once, no model
    instances: the ORM's per-field preparation in bulk_create was most of a page's ingest time.
    The mirrors are the exact text of the values (see ExactMirrors).
    """
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    table = ops.quote_name(BotTrade._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in INSERT_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(INSERT_COLUMNS)) + ")"
    trades = []
    for first in range(0, len(rows), INSERT_BATCH):
        part = rows[first : first + INSERT_BATCH]
        params = []
        for r in part:
            fee_quote = r["fee_quote"]
            params += (bot.pk, r["exchange_trade_id"], r["order_id"], r["side"], r["amount"], r["price"], r["cost"],
                       r["fee"], r["fee_currency"], fee_quote, str(r["amount"]), str(r["price"]), str(r["cost"]),
                       str(r["fee"]), "" if fee_quote is None else str(fee_quote),
                       ops.adapt_datetimefield_value(r["traded_at"]), now)
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))} RETURNING id", params)
            ids = [row[0] for row in cursor.fetchall()]
        for r, pk in zip(part, ids, strict=True):
            trades.append((pk, r["traded_at"], r["side"], r["amount"], r["price"], r["cost"], r["fee"],
                           r["fee_currency"], r["fee_quote"]))
    return trades


def _exact_rows(rows):
    """Rows of TRADE_EXACT_FIELDS as TRADE_FIELDS, each figure from its exact mirror."""
    for pk, traded_at, side, amount, price, cost, fee, currency, fee_quote, a, p, c, f, q in rows:
        if q and fee_quote is not None:
            exact = _agrees(q, fee_quote)  # a column written alone wins over its old mirror
            fee_quote = fee_quote if exact is None else exact
        yield (pk, traded_at, side, Decimal(a) if a else amount, Decimal(p) if p else price,
               Decimal(c) if c else cost, Decimal(f) if f else fee, currency, fee_quote)


def _apply_locked(bot: Bot, state_row: PnlState, rows: list[tuple]) -> None:
    """Apply new trades (TRADE_FIELDS rows, time-ordered, all after the state's newest)."""
    state = fifo.FifoState.from_json(state_row.engine)
    builder = rollups.RollupBuilder()
    last = checkpoints.latest(bot.pk)
    checkpointer = checkpoints.Checkpointer(bot.pk, state_row.last_traded_at, last.trade_count if last else 0)
    checkpointer.apply(state, rows, lambda s, part: _apply_rows(bot, s, builder, part))
    checkpointer.save()
    rollups.merge(bot.pk, builder)
    _save_state(state_row, state, (rows[-1][1], rows[-1][0]))


def _apply_rows(bot: Bot, state: fifo.FifoState, builder: rollups.RollupBuilder, rows: list[tuple]) -> None:
    """Apply rows shaped like TRADE_FIELDS to the state and the rollup builder."""
    raw: list[tuple[int, int]] = []
    engine_trades = fifo.engine_trades((r[2:] for r in rows), bot.base, bot.quote, raw)
    deltas: list[int] = []
    fifo.apply(state, engine_trades, deltas)
    add = builder.add
    for row, (amount, cost), engine_trade, delta in zip(rows, raw, engine_trades, deltas):
        add(row[1], row[2] == "buy", amount, cost, engine_trade[2], engine_trade[3], engine_trade[4], delta)


def _replay(bot: Bot, state: fifo.FifoState, trades, checkpointer: checkpoints.Checkpointer):
    """Apply stored trades (TRADE_EXACT_FIELDS rows, time-ordered) in chunks; the rollup builder
    and the (time, pk) of the last one."""
    builder = rollups.RollupBuilder()
    batch: list[tuple] = []
    last = None

    def apply_rows(s, part):
        _apply_rows(bot, s, builder, part)

    for row in _exact_rows(trades.iterator(chunk_size=CHUNK)):
        batch.append(row)
        if len(batch) >= CHUNK:
            checkpointer.apply(state, batch, apply_rows)
            last = (batch[-1][1], batch[-1][0])
            batch = []
    if batch:
        checkpointer.apply(state, batch, apply_rows)
        last = (batch[-1][1], batch[-1][0])
    return builder, last


def _rebuild_locked(bot: Bot, state_row: PnlState) -> fifo.FifoState:
    """Recompute state, rollups and checkpoints from every stored trade, streaming in chunks."""
    checkpoints.drop_after(bot.pk, None)
    state = fifo.FifoState()
    checkpointer = checkpoints.Checkpointer(bot.pk, None, 0)
    trades = BotTrade.objects.filter(bot=bot).order_by("traded_at", "pk").values_list(*TRADE_EXACT_FIELDS)
    builder, last = _replay(bot, state, trades, checkpointer)
    checkpointer.save()
    rollups.replace(bot.pk, builder)
    _save_state(state_row, state, last or (None, None), rebuilt_at=timezone.now())
    return state


def _rebuild_from_checkpoint(bot: Bot, state_row: PnlState, late_at: datetime) -> fifo.FifoState:
    """Recompute from the nearest checkpoint before ``late_at`` (from scratch without one): the
    state, the rollups from the checkpoint's hour on, and the checkpoints after it."""
    checkpoint = checkpoints.nearest_before(bot.pk, late_at)
    if checkpoint is None:
        return _rebuild_locked(bot, state_row)
    checkpoints.drop_after(bot.pk, checkpoint.at)
    state = fifo.FifoState.from_json(checkpoint.engine)
    checkpointer = checkpoints.Checkpointer(bot.pk, None, checkpoint.trade_count)
    trades = (BotTrade.objects.filter(bot=bot, traded_at__gte=checkpoint.at).order_by("traded_at", "pk")
              .values_list(*TRADE_EXACT_FIELDS))
    builder, last = _replay(bot, state, trades, checkpointer)
    checkpointer.save()
    rollups.replace_from(bot.pk, builder, checkpoint.at)
    _save_state(state_row, state, last)
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
