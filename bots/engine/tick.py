"""One tick of one bot: read the venue, ask the strategy, carry out its decision, remember.

A tick runs only while its token holds the bot's lease (bots/engine/lease.py) and writes its
results conditionally on still holding it. No transaction is open across a venue call. Its
budget: no new venue call starts after ``tick_budget_s()``, which leaves a venue call's longest
wait (the guard's order budget, or Jupiter's confirmation wait) inside the worker's timeout
(Q_TIMEOUT_S), and the lease outlives that timeout (see README, "Bot engine").
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bots import strategies
from bots.config import ConfigErrors, parse_config
from bots.engine import lease, safety
from bots.engine import state as memory
from bots.engine.orders import BotNotRunning, apply_info, cancel_order, place_order, refresh_order
from bots.models import Bot, Order
from bots.strategies.types import IOC, MarketSnapshot, RestingOrder
from exchanges.connectors.base import Market
from exchanges.errors import (AuthenticationFailed, ExchangeError, ExchangeUnavailable, InsufficientFunds, InvalidOrder,
                              RateLimited)
from pipelabs.audit import record_event
from pipelabs.logging import scrub

logger = logging.getLogger(__name__)

MISSING_API = "Missing API credentials: {detail}"
INSUFFICIENT = "Insufficient funds: {detail}"
NO_FUNDS = "NO FUNDS: the account holds no {base} and no {quote}."
NO_GAS = "NO GAS: the wallet's {sol} SOL is at or below the {kept} SOL kept for fees."
BAD_CONFIG = "The bot's config is not valid: {detail}"
OUT_OF_TIME = "Trade skipped: the tick ran out of its {budget_s:.0f} s budget."
RESUMED = "Heartbeat stale for {age_s:.0f} s (platform or worker down); resumed."
PAUSED_AFTER_DOWN = "Paused: the platform was down {age_s:.0f} s, longer than BOT_PAUSE_AFTER_DOWN_S ({limit} s)."
PAUSED_INSUFFICIENT = "Paused: Insufficient funds on {count} ticks in a row ({detail}); start the bot again once funded."
SAFETY_REFUSED = "Trade skipped: safety limit: {why}"
ORDERS_LEFT = "{count} order(s) of this bot are still open"


# PostgreSQL: this statement's own transaction commits without waiting for the WAL flush.
NO_FLUSH_WAIT = RawSQL("set_config('synchronous_commit', 'off', true) IS NOT NULL", (), output_field=BooleanField())


def tick_budget_s() -> float:
    """When a tick stops starting venue calls: the worker timeout less the longest single call."""
    longest_call_s = float(getattr(settings, "BOT_LONGEST_VENUE_CALL_S", 30))
    return max(1.0, float(settings.Q_CLUSTER["timeout"]) - longest_call_s - 5)


def min_interval_s() -> float:
    return float(getattr(settings, "BOT_MIN_INTERVAL_S", 1))


@dataclass
class TickReport:
    """What a tick did, for its log line and the bench."""

    bot_id: int
    due_at: datetime | None = None
    started_at: datetime = field(default_factory=timezone.now)
    outcome: str = ""
    placed: int = 0
    cancelled: int = 0
    venue_s: float = 0.0
    strategy_s: float = 0.0
    total_s: float = 0.0

    @property
    def engine_s(self) -> float:
        return max(0.0, self.total_s - self.venue_s - self.strategy_s)


class Timed:
    """The connector, with the time spent in it summed into the report (venue time vs engine time)."""

    def __init__(self, inner, report: TickReport):
        self._inner, self._report = inner, report

    def __getattr__(self, name):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def timed(*args, **kwargs):
            started = time.monotonic()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._report.venue_s += time.monotonic() - started

        return timed


class OutOfTime(Exception):
    pass


class TickFailed(Exception):
    """The tick could not do its work; ``message`` is what the operator reads (the venue's words)."""


def interval_s(bot: Bot, decision_next: datetime | None, now: datetime) -> float:
    config = bot.config or {}
    if bot.bot_type == Bot.Type.SPREAD:
        return max(min_interval_s(), float(config.get("poll_interval_seconds") or 30))
    # Volume and DEX bots decide when their next trade is due; they still tick at least every
    # minute so their heartbeat stays fresh and a config change reaches them.
    if decision_next is not None:
        return min(60.0, max(min_interval_s(), (decision_next - now).total_seconds()))
    return 60.0


def batch_handback_s() -> float:
    """How long into a batch a bot's tick may still start (BOT_BATCH_HANDBACK_S, default 2 s)."""
    return float(getattr(settings, "BOT_BATCH_HANDBACK_S", 2.0))


def run_batch(claimed: list[tuple[int, datetime | None]], token: str) -> list[TickReport]:
    """The ticks of the bots one dispatcher pass claimed under ``token``, one after another.

    One task per batch spreads django-q2's per-task cost over many ticks. So that one slow venue
    cannot starve the rest, a bot whose turn comes more than ``batch_handback_s()`` after the
    batch began is handed back untouched (its lease freed, its due time kept): the dispatcher's
    next pass claims it again at once for whichever worker is free. Each bot keeps its own lease,
    so exactly-once holds as for single ticks; every tick stops starting venue calls at the
    batch's budget, which keeps the whole task inside the worker's timeout.
    """
    began = time.monotonic()
    deadline = began + tick_budget_s()
    reports = []
    for index, (bot_id, due_at) in enumerate(claimed):
        if index and time.monotonic() - began >= batch_handback_s():
            rest = [pk for pk, _ in claimed[index:]]
            Bot.objects.filter(pk__in=rest, lease_owner=token).update(lease_owner="", lease_until=None)
            logger.info("tick batch handed back", extra={"bot_ids": rest[:50], "handed_back": len(rest)})
            break
        reports.append(run(bot_id, token, due_at, deadline=deadline))
    return reports


def run(bot_id: int, token: str, due_at: datetime | None = None, *, deadline: float | None = None) -> TickReport:
    """The tick the dispatcher enqueued; a tick whose lease is gone does nothing. No venue call
    starts after ``deadline`` (monotonic; default this tick's own budget)."""
    report = TickReport(bot_id=bot_id, due_at=due_at)
    started = time.monotonic()
    bot = lease.holding(bot_id, token).select_related("account", "client", "pnl_state").first()
    if bot is None:
        report.outcome = "lease lost"
        return report
    if bot.status == Bot.Status.STOPPING:
        from bots.services import finish_stop

        finish_stop(bot, token=token)
        lease.release(bot_id, token)
        report.outcome = "stop"
        return report
    if bot.status != Bot.Status.RUNNING:
        lease.release(bot_id, token, next_tick_at=None)
        report.outcome = f"not running ({bot.status})"
        return report
    now = timezone.now()
    if _came_back_paused(bot, token, now):
        report.outcome = "paused after downtime"
        return report
    deadline = min(deadline or float("inf"), started + tick_budget_s())
    try:
        fields = _tick(bot, token, report, deadline)
    except Exception as exc:  # noqa: BLE001  the failure is counted and shown; raising would only retry
        fields = _failure(bot, token, exc)
        report.outcome = f"failed: {fields.get('health_message', '')[:200]}"
    report.total_s = time.monotonic() - started
    fields.setdefault("heartbeat_at", timezone.now())
    rows = lease.holding(bot_id, token).filter(status=Bot.Status.RUNNING)
    if "status" not in fields and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # A routine tick's closing write need not wait for the WAL flush (~1-3 ms, the largest
        # part of an idle tick's database time): lost in a database crash, it costs one tick's
        # memory (recomputed next tick) and a lease that lapses by itself. Set inside the statement
        # (its own transaction), so it costs no round trip and touches nothing else; status
        # changes, orders and fills are committed durably as before.
        rows = rows.filter(NO_FLUSH_WAIT)
    if not rows.update(lease_owner="", lease_until=None, **fields):
        # Stopped or paused meanwhile: that change stands; only what the tick learned is kept.
        lease.release(bot_id, token, **{k: v for k, v in fields.items() if k in ("heartbeat_at", "state")})
    logger.info("tick", extra={"bot_id": bot_id, "worker_pid": os.getpid(), "due_at": due_at.isoformat() if due_at else None,
                               "started_at": report.started_at.isoformat(), "outcome": report.outcome[:200],
                               "engine_ms": round(report.engine_s * 1000, 2), "total_ms": round(report.total_s * 1000, 2),
                               "placed": report.placed, "cancelled": report.cancelled})
    return report


def _came_back_paused(bot: Bot, token: str, now: datetime) -> bool:
    """Resume a bot whose heartbeat went stale (recorded); pause it when the outage was too long."""
    if bot.heartbeat_at is None:
        return False
    age_s = (now - bot.heartbeat_at).total_seconds()
    limit = int(getattr(settings, "BOT_PAUSE_AFTER_DOWN_S", 600))
    if age_s > limit:
        reason = PAUSED_AFTER_DOWN.format(age_s=age_s, limit=limit)
        if lease.holding(bot.pk, token).filter(status=Bot.Status.RUNNING).update(
                status=Bot.Status.PAUSED, desired_status=Bot.Status.PAUSED, status_reason=reason,
                health_status=Bot.Health.WARNING, health_message=reason, lease_owner="", lease_until=None):
            record_event(actor="system", action="bot.pause", bot=bot, reason=reason,
                         changes={"status": [Bot.Status.RUNNING, Bot.Status.PAUSED]})
        return True
    if age_s > settings.BOT_STALE_AFTER_S:
        record_event(actor="system", action="bot.resume", bot=bot, reason=RESUMED.format(age_s=age_s))
    return False


def backoff_s(failures: int) -> float:
    """The wait after ``failures`` failed ticks in a row: 5, 10, 20, 40 s, then BOT_BACKOFF_MAX_S."""
    return min(float(getattr(settings, "BOT_BACKOFF_MAX_S", 60)), 5.0 * 2 ** min(failures - 1, 10))


def _failure(bot: Bot, token: str, exc: Exception) -> dict:
    """Count a failed tick and back off; at the limit the bot goes to error with the venue's own message.

    A venue that is down, slow or rate-limiting (ExchangeUnavailable, RateLimited) is waited out for
    BOT_MAX_TRANSIENT_FAILURES ticks (about half an hour at the 60 s cap), so a short outage needs
    no operator; anything else (a refused key, a rejected order, a bug) errors after BOT_MAX_FAILURES.
    """
    transient = isinstance(exc, (ExchangeUnavailable, RateLimited))
    if isinstance(exc, AuthenticationFailed):
        message = MISSING_API.format(detail=scrub(str(exc)))
    elif isinstance(exc, (ExchangeError, TickFailed)):
        message = scrub(str(exc))
    else:
        logger.exception("tick failed", extra={"bot_id": bot.pk})
        message = f"{type(exc).__name__}: {scrub(str(exc))}"
    failures = bot.failures + 1
    limit = int(getattr(settings, "BOT_MAX_TRANSIENT_FAILURES" if transient else "BOT_MAX_FAILURES",
                        30 if transient else 3))
    wait_s = backoff_s(failures)
    health = f"{message[:1900]} (retrying in {wait_s:.0f} s)" if transient else message[:2000]
    fields = {"failures": failures, "health_status": Bot.Health.ERROR, "health_message": health,
              "next_tick_at": timezone.now() + timedelta(seconds=wait_s)}
    if failures >= limit:
        fields.update(status=Bot.Status.ERROR, desired_status=Bot.Status.ERROR, error_message=message[:2000],
                      health_message=message[:2000], status_reason=f"{failures} ticks failed in a row",
                      next_tick_at=None)
        record_event(actor="system", action="bot.error", bot=bot, reason=message[:2000],
                     changes={"status": [Bot.Status.RUNNING, Bot.Status.ERROR], "failures": failures})
    return fields


def _check_time(deadline: float, report: TickReport) -> None:
    if time.monotonic() >= deadline:
        raise OutOfTime()


def _tick(bot: Bot, token: str, report: TickReport, deadline: float) -> dict:
    from bots.engine.reconcile import reconcile_bot
    from bots.ownership import claim_unowned_fills
    from exchanges.registry import connector_for
    from ledger.models import PnlState
    from ledger.services import sync_trades

    now = timezone.now()
    try:
        config = parse_config(bot.bot_type, bot.config, symbol=bot.symbol)
    except ConfigErrors as exc:
        raise TickFailed(BAD_CONFIG.format(detail=exc)) from None
    connector = Timed(connector_for(bot.account), report)
    try:
        raw_state = dict(bot.state or {})
        market = _market(connector, bot.symbol, raw_state, now)
        reconciled = False
        if raw_state.get("reconciled_for") != (bot.started_at.isoformat() if bot.started_at else None) \
                or _reconcile_due(raw_state, now):
            reconcile_bot(bot, connector=connector)
            raw_state["reconciled_for"] = bot.started_at.isoformat() if bot.started_at else None
            raw_state["reconciled_at"] = raw_state["synced_at"] = now.isoformat()  # it synced the fills
            reconciled = True
        _check_time(deadline, report)
        open_orders = connector.fetch_open_orders(bot.symbol)
        changed, live = _settle_missing(bot, connector, open_orders)
        book = connector.fetch_order_book(bot.symbol, 20)
        balances = {b.asset: b for b in connector.fetch_balance()}
        _check_time(deadline, report)
        # Fills come from orders that changed (seen here or when placed below), so the venue's fills
        # are read then, and at least every BOT_SYNC_EVERY_S for anything else (a partial fill).
        synced = reconciled
        if changed or not reconciled and _due(raw_state, "synced_at", "BOT_SYNC_EVERY_S", 60, now):
            sync_trades(bot)
            claim_unowned_fills(bot)
            raw_state["synced_at"] = now.isoformat()
            synced = True
        snapshot = _snapshot(bot, book, balances, open_orders, live, now)
        snapshot = _with_prices(bot, connector, config, snapshot, report)
        mid = snapshot.mid
        bot.state = raw_state
        pnl, position = _pnl(bot, fresh=synced)
        state, raw_state = memory.load(bot, now, mid, pnl_now=pnl or Decimal(0),
                                       day_volume=bot.bot_type != Bot.Type.SPREAD)
        health = _funds_health(bot, snapshot, config)
        limits = safety.limits_for(bot)
        stop_why = safety.stop_reason(limits, raw_state, pnl=pnl or Decimal(0), day_pnl=state.day_pnl_quote)
        if stop_why:
            return _safety_stop(bot, token, stop_why, raw_state)
        if health is not None:  # nothing to trade with: say so, place nothing
            report.outcome = health[1]
            return {"state": raw_state, "failures": 0, "health_status": health[0], "health_message": health[1],
                    "next_tick_at": now + timedelta(seconds=interval_s(bot, None, now))}
        clock = time.monotonic()
        decision = strategies.decide(bot.bot_type, snapshot, state, config, random.Random(), now)
        report.strategy_s += time.monotonic() - clock
        skipped = decision.skipped
        # Cancels first, so funds they free are there for the placements.
        by_exchange_id = {o.exchange_order_id: o for o in bot.orders.filter(status__in=Order.LIVE)} \
            if decision.cancel else {}
        filled_any = False  # did an order this tick touched fill (then its fills are read now)
        for order_id in decision.cancel:
            _check_time(deadline, report)
            order = by_exchange_id.get(order_id)
            if order is not None:
                filled_before = order.filled
                cancel_order(connector, order)
                report.cancelled += 1
                filled_any = filled_any or order.filled != filled_before
        placed_sides, placed_base = [], Decimal(0)
        placed_last_minute = 0 if limits.max_orders_per_minute is None or not decision.place else \
            bot.orders.filter(created_at__gte=now - timedelta(minutes=1)).count()
        for intent in decision.place:
            _check_time(deadline, report)
            price = intent.price if intent.price is not None else mid
            amount = intent.amount
            if amount is None and intent.quote_amount is not None and price:
                amount = intent.quote_amount / price
            if not amount or not price:
                continue
            why = safety.refusal(limits, intent, amount=amount, price=price, reference=mid, position=position or 0,
                                 base_available=snapshot.base_available, quote_available=snapshot.quote_available,
                                 placed_last_minute=placed_last_minute)
            if why:
                skipped = SAFETY_REFUSED.format(why=why)
                record_event(actor="system", action="safety.refused", bot=bot, reason=why,
                             changes={"side": intent.side, "amount": str(amount), "price": str(price)})
                continue
            try:
                order = place_order(connector, account=bot.account, bot=bot, symbol=bot.symbol, side=intent.side,
                                    kind=intent.kind, amount=amount, price=intent.price, market=market,
                                    note=intent.note, reference_price=mid)
            except InvalidOrder as exc:
                skipped = f"Trade skipped: {scrub(str(exc))}"
                continue
            except InsufficientFunds as exc:
                return _short_of_funds(bot, token, raw_state, str(exc))
            placed_last_minute += 1
            report.placed += 1
            placed_sides.append(intent.side)
            placed_base += order.amount
            if intent.time_in_force == IOC and order.status == Order.Status.OPEN:
                cancel_order(connector, order)  # IOC: what did not fill now does not rest
            # A swap may book its fill later than its answer (or only its fee): always read it.
            filled_any = filled_any or bool(order.filled) or order.kind == Order.Kind.MARKET \
                or order.status != Order.Status.OPEN
        raw_state = memory.remember(raw_state, mid=mid, next_trade_at=decision.next_trade_at,
                                    placed_sides=placed_sides, placed_base=placed_base)
        raw_state.pop("short_of_funds", None)
        # An order that rests untouched has no fills to read yet: the venue is asked only when one filled.
        if filled_any:
            sync_trades(bot)
            raw_state["synced_at"] = timezone.now().isoformat()
        if skipped:
            health = (Bot.Health.WARNING, skipped)
        report.outcome = health[1] if health else f"placed {report.placed}, cancelled {report.cancelled}"
        return {"state": raw_state, "failures": 0, "health_status": health[0] if health else Bot.Health.OK,
                "health_message": (health[1] if health else "")[:2000],
                "next_tick_at": now + timedelta(seconds=interval_s(bot, decision.next_trade_at, now))}
    except OutOfTime:
        report.outcome = OUT_OF_TIME.format(budget_s=tick_budget_s())
        return {"health_status": Bot.Health.WARNING, "health_message": report.outcome,
                "next_tick_at": timezone.now()}
    except BotNotRunning:
        report.outcome = "stopped meanwhile"
        return {}
    finally:
        connector.close()


def _pnl(bot: Bot, *, fresh: bool) -> tuple[Decimal, Decimal]:
    """(realized P&L, position): as loaded with the bot, or read again after this tick synced fills."""
    from ledger.models import PnlState

    if not fresh:
        try:
            row = bot.pnl_state
        except PnlState.DoesNotExist:
            return Decimal(0), Decimal(0)
        return row.realized_pnl or Decimal(0), row.position or Decimal(0)
    pnl_row = PnlState.objects.filter(bot=bot).values_list("realized_pnl", "position").first()
    return pnl_row or (Decimal(0), Decimal(0))


def _reconcile_due(raw_state: dict, now: datetime) -> bool:
    return _due(raw_state, "reconciled_at", "BOT_RECONCILE_EVERY_S", 300, now)


def _due(raw_state: dict, key: str, setting: str, default_s: float, now: datetime) -> bool:
    last = raw_state.get(key)
    every_s = float(getattr(settings, setting, default_s))
    return last is None or (now - datetime.fromisoformat(last)).total_seconds() >= every_s


MARKET_FIELDS = ("symbol", "base", "quote", "exchange_symbol", "price_step", "amount_step", "min_amount",
                 "min_notional", "active")


def _market(connector, symbol: str, raw_state: dict, now: datetime) -> Market:
    """The market's rules, read from the venue at most every BOT_MARKET_EVERY_S (they rarely change)."""
    cached = raw_state.get("market")
    if cached and not _due(raw_state, "market_at", "BOT_MARKET_EVERY_S", 600, now):
        return Market(**{k: (Decimal(v) if k in ("price_step", "amount_step", "min_amount", "min_notional") else v)
                         for k, v in cached.items()})
    market = connector.market(symbol)
    raw_state["market"] = {k: (str(getattr(market, k)) if isinstance(getattr(market, k), Decimal)
                               else getattr(market, k)) for k in MARKET_FIELDS}
    raw_state["market_at"] = now.isoformat()
    return market


def _settle_missing(bot: Bot, connector, open_orders) -> tuple[int, list[Order]]:
    """Bring the bot's live rows in line with the venue's open list: a listed order whose answer was
    lost (pending or unknown, no exchange id) is taken as the venue shows it; an unlisted one is
    asked about (filled, cancelled). Returns how many changed, and the rows as they now are."""
    by_client_id = {o.client_order_id: o for o in open_orders if o.client_order_id}
    listed = {o.exchange_order_id for o in open_orders}
    changed = 0
    live = list(bot.orders.filter(status__in=Order.LIVE))
    for order in live:
        info = by_client_id.get(order.client_order_id)
        if info is not None:
            if order.status != Order.Status.OPEN or order.exchange_order_id != info.exchange_order_id \
                    or order.filled != info.filled:
                apply_info(order, info)
                changed += 1
        elif not order.exchange_order_id or order.exchange_order_id not in listed:
            refresh_order(connector, order)
            changed += 1
    return changed, live


def _snapshot(bot: Bot, book, balances, open_orders, live: list[Order], now: datetime) -> MarketSnapshot:
    # The bot's own live rows name most resting orders; only the rest (another bot's or an
    # operator's on the same account) are looked up.
    owners = {o.exchange_order_id: bot.pk for o in live if o.exchange_order_id}
    others = [o.exchange_order_id for o in open_orders if o.exchange_order_id not in owners]
    if others:
        owners.update(Order.objects.filter(account_id=bot.account_id, symbol=bot.symbol, exchange_order_id__in=others)
                      .values_list("exchange_order_id", "bot_id"))
    resting = tuple(
        RestingOrder(order_id=o.exchange_order_id, side=o.side, price=o.price, remaining=o.amount - o.filled,
                     bot_id=owners.get(o.exchange_order_id), placed_at=o.created_at)
        for o in open_orders if o.price is not None
    )
    base, quote = balances.get(bot.base), balances.get(bot.quote)
    sol = balances.get("SOL")
    return MarketSnapshot(
        symbol=bot.symbol, at=now, bids=tuple(book.bids), asks=tuple(book.asks), account_orders=resting,
        base_available=base.available if base else Decimal(0), quote_available=quote.available if quote else Decimal(0),
        base_total=base.total if base else Decimal(0), quote_total=quote.total if quote else Decimal(0),
        sol_available=sol.available if sol else None,
    )


def _with_prices(bot: Bot, connector, config, snapshot: MarketSnapshot, report: TickReport) -> MarketSnapshot:
    """The last price, or another account's mid, when the config prices from it (one more read)."""
    import dataclasses

    from exchanges.models import ExchangeAccount
    from exchanges.registry import connector_for

    source = getattr(config, "price_source", "mid")
    if source == "last":
        return dataclasses.replace(snapshot, last=connector.fetch_ticker(bot.symbol).last)
    if source == "reference" and config.reference_account:
        # The reference is one of the client's accounts (checked when the config was saved).
        account = ExchangeAccount.objects.filter(pk=config.reference_account, client_id=bot.client_id).first()
        if account is None:
            raise TickFailed(f"The reference account {config.reference_account} is gone.")
        reference = Timed(connector_for(account), report)
        try:
            book = reference.fetch_order_book(bot.symbol, 1)
        finally:
            reference.close()
        if book.bids and book.asks:
            return dataclasses.replace(snapshot, reference_mid=(book.bids[0][0] + book.asks[0][0]) / 2)
    return snapshot


def _funds_health(bot: Bot, snapshot: MarketSnapshot, config) -> tuple[str, str] | None:
    if not snapshot.base_total and not snapshot.quote_total:
        return Bot.Health.WARNING, NO_FUNDS.format(base=bot.base, quote=bot.quote)
    kept = getattr(config, "min_sol_kept", None)
    if bot.bot_type == Bot.Type.DEX and kept is not None and snapshot.sol_available is not None \
            and snapshot.sol_available <= kept:
        return Bot.Health.WARNING, NO_GAS.format(sol=snapshot.sol_available, kept=kept)
    return None


def _short_of_funds(bot: Bot, token: str, raw_state: dict, detail: str) -> dict:
    """Retry on the next ticks, never switch sides; after a few in a row pause with the reason."""
    count = int(raw_state.get("short_of_funds") or 0) + 1
    raw_state["short_of_funds"] = count
    message = INSUFFICIENT.format(detail=scrub(detail))
    fields = {"state": raw_state, "failures": 0, "health_status": Bot.Health.WARNING, "health_message": message[:2000],
              "next_tick_at": timezone.now() + timedelta(seconds=interval_s(bot, None, timezone.now()))}
    if count >= int(getattr(settings, "BOT_MAX_FAILURES", 3)):
        reason = PAUSED_INSUFFICIENT.format(count=count, detail=scrub(detail))
        fields.update(status=Bot.Status.PAUSED, desired_status=Bot.Status.PAUSED, status_reason=reason[:2000],
                      health_message=reason[:2000])
        record_event(actor="system", action="bot.pause", bot=bot, reason=reason,
                     changes={"status": [Bot.Status.RUNNING, Bot.Status.PAUSED]})
    return fields


def _safety_stop(bot: Bot, token: str, reason: str, raw_state: dict) -> dict:
    """A loss limit: the bot goes to stopping (its orders cancelled by the next pass), recorded."""
    record_event(actor="system", action="safety.stop", bot=bot, reason=reason,
                 changes={"status": [Bot.Status.RUNNING, Bot.Status.STOPPING]})
    return {"state": raw_state, "status": Bot.Status.STOPPING, "desired_status": Bot.Status.STOPPED,
            "status_reason": reason, "keep_orders_on_stop": False, "health_status": Bot.Health.ERROR,
            "health_message": reason, "next_tick_at": timezone.now()}
