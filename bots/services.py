from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bots.config import config_errors
from bots.models import Bot, KillSwitch, Order
from clients.models import Client
from exchanges.models import ExchangeAccount
from ledger.models import PnlState
from pipelabs.api.exceptions import Conflict
from pipelabs.audit import record_event
from pipelabs.logging import scrub

# What an operator may change on a bot; status, desired status and the lease belong to the lifecycle
# services and the engine.
EDITABLE_FIELDS = ("account", "name", "bot_type", "symbol", "config")
# A bot in these states may have orders at the exchange: stop it before deleting or moving it.
UNDELETABLE_STATUSES = (Bot.Status.RUNNING, Bot.Status.STOPPING)
# A bot's trades, FIFO lots, sync cursor and orders belong to one venue and market: moving it would
# let another market's fills close its lots or be dropped as duplicates of its own trade ids.
LEDGER_FIELDS = ("account", "symbol")
NOT_CLIENTS_ACCOUNT = "No exchange account of this client has this id."
BOT_HAS_TRADES = "This bot has trades or orders on its {field}, so it cannot change. Make a new bot instead."


def normalise_symbol(symbol: str | None) -> str:
    """The unified BASE/QUOTE form of `symbol` (stripped, upper case); not validated."""
    return (symbol or "").strip().upper()


def bot_field_errors(*, client: Client | None, account: ExchangeAccount | None, name: str, bot_type: str,
                     symbol: str, config, markets=None) -> dict:
    """Field name → message(s) for every rule a bot's fields break; empty when they are valid.

    `config` is checked against its bot type's schema (bots/config.py), one "key: message" per
    config key; None skips it. `markets` (symbol → Market, loaded by the caller outside any
    transaction) adds the market checks: symbol listed and trading, sizes above the minimums.
    """
    errors = {}
    if client is not None and account is not None and account.client_id != client.id:
        errors["account"] = "The exchange account belongs to another client."
    if bot_type not in Bot.Type.values:
        errors["bot_type"] = f"bot_type must be one of {', '.join(Bot.Type.values)}."
    symbol = normalise_symbol(symbol)
    if symbol.count("/") != 1 or not all(symbol.split("/")):
        errors["symbol"] = "A symbol is BASE/QUOTE, e.g. SHARP/USDT."
    if not (name or "").strip():
        errors["name"] = "A bot needs a name."
    if config is not None and not isinstance(config, dict):
        errors["config"] = "config is a JSON object."
    elif config is not None and bot_type in Bot.Type.values:
        problems = config_errors(bot_type, config, symbol=symbol, markets=markets)
        if "symbol" in problems:
            errors.setdefault("symbol", problems.pop("symbol"))
        reference = config.get("reference_account")
        if not problems and config.get("price_source") == "reference" and client is not None \
                and not ExchangeAccount.objects.filter(pk=reference, client=client).exists():
            problems["reference_account"] = NOT_CLIENTS_ACCOUNT
        if problems:
            errors["config"] = [f"{key}: {message}" for key, message in problems.items()]
    return errors


@transaction.atomic
def create_bot(*, client: Client, account: ExchangeAccount, name: str, bot_type: str, symbol: str,
               config: dict | None = None, actor: str = "system", markets=None) -> Bot:
    """A stopped bot of `client` on its own `account`, its config valid for its type (see bot_field_errors)."""
    errors = bot_field_errors(client=client, account=account, name=name, bot_type=bot_type, symbol=symbol,
                              config=config if config is not None else {}, markets=markets)
    if errors:
        raise ValidationError(errors)
    bot = Bot.objects.create(
        client=client, account=account, name=name.strip(), bot_type=bot_type, symbol=normalise_symbol(symbol),
        config=config or {}, status=Bot.Status.CREATED, desired_status=Bot.Status.STOPPED,
    )
    record_event(actor=actor, action="bot.create", bot=bot, changes={"config": bot.config})
    return bot


def _audit_value(field: str, value):
    return str(value) if field == "account" else value


def has_ledger(bot: Bot) -> bool:
    """Whether the bot has traded or placed orders, which ties it to its account and symbol for good."""
    return bot.pk is not None and (bot.trades.exists() or bot.orders.exists())


def _changed(bot: Bot, changes: dict, field: str) -> bool:
    if field not in changes:
        return False
    value = changes[field]
    if field == "symbol":
        return normalise_symbol(value) != bot.symbol
    return value != getattr(bot, field)


def ledger_field_errors(bot: Bot, changes: dict) -> dict:
    """Field name → ValidationError for each of account and symbol that `changes` would move on a bot with a ledger."""
    moved = [field for field in LEDGER_FIELDS if _changed(bot, changes, field)]
    if not moved or not has_ledger(bot):
        return {}
    return {field: ValidationError(BOT_HAS_TRADES.format(field=field), code="bot_has_trades") for field in moved}


def bot_change_errors(bot: Bot, changes: dict, markets=None) -> dict:
    """Field name → message for every rule `changes` to the stored `bot` would break.

    The config is checked when it or the bot type changes (or markets are given): a rename does
    not fail on a config stored before the schema existed.
    """
    merged = {field: changes.get(field, getattr(bot, field)) for field in EDITABLE_FIELDS}
    if not ({"config", "bot_type"} & set(changes) or markets is not None):
        merged["config"] = None
    errors = bot_field_errors(client=bot.client, markets=markets, **merged)
    for field, error in ledger_field_errors(bot, changes).items():
        errors.setdefault(field, error)
    if bot.status in UNDELETABLE_STATUSES:
        # A live bot's orders sit on its account and market; moving it would orphan them.
        for field in ("account", "bot_type", "symbol"):
            if field in changes and changes[field] != getattr(bot, field):
                errors.setdefault(field, "Stop the bot before changing this.")
    return errors


@transaction.atomic
def update_bot(bot: Bot, *, actor: str, markets=None, **changes) -> Bot:
    """Apply `changes` (only EDITABLE_FIELDS) to `bot` under the create rules, auditing old → new.

    Raises ValidationError and writes nothing when a change breaks a rule; writes nothing (no audit
    row either) when no value actually changes.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({field: "This field is not editable; it belongs to the bot's lifecycle."
                               for field in unknown})
    # Two edits of one bot take turns, each checked against what the other committed. NO KEY: a
    # trade insert's foreign-key check (KEY SHARE) on this row does not wait for us.
    current = Bot.objects.select_for_update(no_key=True, of=("self",)).select_related("client", "account").get(
        pk=bot.pk)
    if any(_changed(current, changes, field) for field in LEDGER_FIELDS):
        # Trade ingestion inserts under this row lock (ledger.services.ingest); taking it means a
        # concurrent ingest either committed its trades before we look, or waits until we are done.
        # Always bot row, then P&L row, like delete_bots, so the two never deadlock.
        PnlState.objects.get_or_create(bot_id=bot.pk)
        PnlState.objects.select_for_update().filter(bot_id=bot.pk).first()
    if "symbol" in changes:
        changes["symbol"] = normalise_symbol(changes["symbol"])
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    if changes.get("config", {}) is None:
        changes["config"] = {}
    errors = bot_change_errors(current, changes, markets)
    if errors:
        raise ValidationError(errors)
    diff = {field: [_audit_value(field, getattr(current, field)), _audit_value(field, value)]
            for field, value in changes.items() if getattr(current, field) != value}
    if not diff:
        return current
    for field in diff:
        setattr(current, field, changes[field])
    current.save(update_fields=[*diff, "updated_at"])
    record_event(actor=actor, action="bot.update", bot=current, changes=diff)
    return current


ORDERS_STILL_OPEN = ("These bots still have orders that may rest at the venue ({detail}); nothing was deleted. "
                     "Retry, or delete with keep_orders to leave them open.")


def delete_bots(bots, *, actor: str, keep_orders: bool = False) -> int:
    """Delete `bots` (with their orders and trades), one `bot.delete` audit row each.

    Refuses (ValidationError, nothing deleted) if any is running or stopping: it may be trading,
    so it must be stopped first. A paused or stopped bot's open orders (kept on stop, say) are
    cancelled at the venue first, unless ``keep_orders``: an order whose cancel the venue does not
    confirm refuses the delete, since deleting would leave it resting with no bot and no row. Kept
    orders stay on record as the account's orders (no bot). Returns how many were deleted.
    """
    ids = [bot.pk for bot in bots]
    _refuse_busy(Bot.objects.filter(pk__in=ids))
    if not keep_orders:
        cancel_before_delete(ids)
    with transaction.atomic():
        rows = list(Bot.objects.select_for_update().select_related("client", "account").filter(pk__in=ids))
        _refuse_busy(rows)  # started meanwhile
        live = Order.objects.filter(bot_id__in=ids, status__in=Order.LIVE)
        if keep_orders:
            live.update(bot=None, note="kept when its bot was deleted")
        elif live.exists():
            raise ValidationError(ORDERS_STILL_OPEN.format(detail=f"{live.count()} order(s)"),
                                  code="bot_orders_open")
        for bot in rows:
            record_event(actor=actor, action="bot.delete", bot=bot, changes={
                "status": bot.status, "account": str(bot.account), "symbol": bot.symbol, "config": bot.config,
                "keep_orders": keep_orders,
            })
            bot.delete()
    return len(rows)


def _refuse_busy(bots) -> None:
    busy = [bot for bot in bots if bot.status in UNDELETABLE_STATUSES]
    if busy:
        names = ", ".join(str(bot) for bot in busy)
        raise ValidationError(f"Stop these bots before deleting them: {names}.", code="bot_not_stopped")


def _in_callers_transaction() -> bool:
    """Whether a caller's transaction is open (a durable block may not nest in one; tests' own
    wrapping transaction does not count)."""
    try:
        with transaction.atomic(durable=True):
            return False
    except RuntimeError:
        return True


def cancel_before_delete(ids: list[int]) -> None:
    """Cancel the bots' live orders at the venue, outside any transaction; ValidationError naming
    the venue's words if one cannot be confirmed gone (the delete then does nothing)."""
    from bots.engine.orders import cancel_order
    from exchanges.errors import ExchangeError
    from exchanges.registry import connector_for

    live = list(Order.objects.filter(bot_id__in=ids, status__in=Order.LIVE).select_related("bot__account"))
    if live and _in_callers_transaction():
        # A caller's transaction is open (the admin's delete view, delete_client): no venue call
        # may run inside it, so the orders are not cancelled here and the delete is refused.
        raise ValidationError(ORDERS_STILL_OPEN.format(detail=f"{len(live)} order(s); stop the bot to cancel them"),
                              code="bot_orders_open")
    errors = []
    by_account: dict[int, list[Order]] = {}
    for order in live:
        by_account.setdefault(order.bot.account_id, []).append(order)
    for orders in by_account.values():
        try:
            connector = connector_for(orders[0].bot.account)
        except ExchangeError as exc:
            errors.append(scrub(str(exc)))
            continue
        try:
            for order in orders:
                try:
                    cancel_order(connector, order)
                except ExchangeError as exc:
                    errors.append(scrub(str(exc)))
        finally:
            connector.close()
    if errors:
        raise ValidationError(ORDERS_STILL_OPEN.format(detail="; ".join(errors)[:500]), code="bot_orders_open")


# --- lifecycle ---------------------------------------------------------------------------------
# created → running → stopping → stopped, plus paused and error. Every change is one conditional
# UPDATE whose row count says whether this caller made it, so two callers at once never both
# act; the audit row is written in the same transaction.
STARTABLE = (Bot.Status.CREATED, Bot.Status.STOPPED, Bot.Status.PAUSED, Bot.Status.ERROR)
STOPPABLE = (Bot.Status.CREATED, Bot.Status.RUNNING, Bot.Status.PAUSED, Bot.Status.ERROR)
CANNOT = "The bot is {status}; it cannot be {verb} now."
KILL_SWITCH_IS_ON = "The global kill switch is on; no bot starts until an operator turns it off."
STOP_PENDING = "Stopping: {count} open order(s) still to cancel ({error}); retried by the engine."


class BotStateConflict(Conflict):
    """The bot's state forbids the change (409 in the API)."""

    default_code = "bot_state_conflict"


def kill_switch_on() -> bool:
    return KillSwitch.objects.filter(pk=1, is_on=True).exists()


def _conflict(bot_id: int, verb: str) -> BotStateConflict:
    status = Bot.objects.filter(pk=bot_id).values_list("status", flat=True).first() or "deleted"
    return BotStateConflict(CANNOT.format(status=status, verb=verb))


def start_bot(bot: Bot, *, actor: str, reason: str = "") -> Bot:
    """Start the bot (from created, stopped, paused or error); a running bot is left as it is.

    Its first tick reconciles its orders with the venue before trading. BotStateConflict while
    it is stopping or while the kill switch is on.
    """
    now = timezone.now()
    with transaction.atomic():
        if kill_switch_on():
            raise BotStateConflict(KILL_SWITCH_IS_ON)
        won = Bot.objects.filter(pk=bot.pk, status__in=STARTABLE).update(
            status=Bot.Status.RUNNING, desired_status=Bot.Status.RUNNING, status_reason="", error_message="",
            failures=0, started_at=now, heartbeat_at=now, next_tick_at=now, keep_orders_on_stop=False,
            health_status=Bot.Health.OK, health_message="", updated_at=now,
        )
        current = Bot.objects.select_related("client", "account").get(pk=bot.pk)
        if not won:
            if current.status == Bot.Status.RUNNING:
                return current
            raise _conflict(bot.pk, "started")
        record_event(actor=actor, action="bot.start", bot=current, reason=reason,
                     changes={"status": [bot.status, Bot.Status.RUNNING]})
    return current


def pause_bot(bot: Bot, *, actor: str, reason: str = "") -> Bot:
    """Stop placing orders, keeping the open ones; start_bot resumes. A paused bot is left as it is."""
    with transaction.atomic():
        won = Bot.objects.filter(pk=bot.pk, status=Bot.Status.RUNNING).update(
            status=Bot.Status.PAUSED, desired_status=Bot.Status.PAUSED, status_reason=reason, updated_at=timezone.now())
        current = Bot.objects.select_related("client", "account").get(pk=bot.pk)
        if not won:
            if current.status == Bot.Status.PAUSED:
                return current
            raise _conflict(bot.pk, "paused")
        record_event(actor=actor, action="bot.pause", bot=current, reason=reason,
                     changes={"status": [Bot.Status.RUNNING, Bot.Status.PAUSED]})
    return current


def stop_bot(bot: Bot, *, actor: str, keep_orders: bool = False, reason: str = "", finish: bool = True) -> Bot:
    """Stop the bot: it places nothing more, its open orders are cancelled (unless ``keep_orders``),
    its fills synced one last time, and it ends ``stopped``.

    The state moves to ``stopping`` at once; the cancelling runs here when ``finish`` (outside any
    transaction, under the bot's lease so never beside a tick) or else, and whenever it cannot
    finish now (a tick holds the lease, the venue fails), in the engine's next pass. Stopping a
    stopped or stopping bot is harmless.
    """
    now = timezone.now()
    with transaction.atomic():
        won = Bot.objects.filter(pk=bot.pk, status__in=STOPPABLE).update(
            status=Bot.Status.STOPPING, desired_status=Bot.Status.STOPPED, status_reason=reason,
            keep_orders_on_stop=keep_orders, next_tick_at=now, updated_at=now,
        )
        current = Bot.objects.select_related("client", "account").get(pk=bot.pk)
        if won:
            record_event(actor=actor, action="bot.stop", bot=current, reason=reason,
                         changes={"status": [bot.status, Bot.Status.STOPPING], "keep_orders": keep_orders})
    if current.status == Bot.Status.STOPPING and finish:
        return finish_stop(current)
    return current


def finish_stop(bot: Bot, *, token: str | None = None) -> Bot:
    """Cancel a stopping bot's open orders (unless kept), sync its fills, mark it stopped.

    Takes the bot's lease unless the caller holds it (``token``); when another holds it the bot
    stays ``stopping`` for the engine to finish. An order counts as gone only when the venue
    says so: while any may still rest, the bot stays ``stopping`` with the venue's words.
    """
    from bots.engine import lease
    from bots.engine.orders import cancel_order, refresh_order
    from exchanges.errors import ExchangeError
    from exchanges.registry import connector_for
    from ledger.services import sync_trades

    held = token or lease.claim(bot.pk, statuses=(Bot.Status.STOPPING,))
    if held is None:
        return Bot.objects.get(pk=bot.pk)
    try:
        bot = Bot.objects.select_related("client", "account").get(pk=bot.pk)
        live = list(bot.orders.filter(status__in=Order.LIVE))
        error = ""
        if live or bot.orders.exists():
            try:
                connector = connector_for(bot.account)
                try:
                    for order in live:
                        try:
                            if bot.keep_orders_on_stop:
                                refresh_order(connector, order)
                            else:
                                cancel_order(connector, order)
                        except ExchangeError as exc:
                            error = str(exc)
                    sync_trades(bot)
                finally:
                    connector.close()
            except ExchangeError as exc:
                error = error or str(exc)
        left = bot.orders.filter(status__in=Order.LIVE)
        if bot.keep_orders_on_stop:
            left = left.filter(status__in=(Order.Status.PENDING, Order.Status.UNKNOWN))
        if left.exists():
            # Some order may rest at the venue: not stopped until the venue says it is gone.
            message = STOP_PENDING.format(count=left.count(), error=scrub(error) or "no answer")
            lease.release(bot.pk, held, health_status=Bot.Health.WARNING, health_message=message[:2000],
                          next_tick_at=timezone.now() + timedelta(seconds=5))
            held = None
            return Bot.objects.get(pk=bot.pk)
        with transaction.atomic():
            done = lease.holding(bot.pk, held).filter(status=Bot.Status.STOPPING).update(
                status=Bot.Status.STOPPED, next_tick_at=None, health_status=Bot.Health.OK, health_message="",
                lease_owner="", lease_until=None, updated_at=timezone.now())
            if done:
                held = None
                record_event(actor="system", action="bot.stopped", bot=bot,
                             changes={"status": [Bot.Status.STOPPING, Bot.Status.STOPPED],
                                      "orders_kept": bot.keep_orders_on_stop})
        return Bot.objects.get(pk=bot.pk)
    finally:
        if held is not None and token is None:
            lease.release(bot.pk, held)


def set_kill_switch(on: bool, *, actor: str, reason: str = "") -> list[int]:
    """Turn the global kill switch on (every bot that may trade goes to stopping, orders to be
    cancelled) or off (bots stay stopped). Returns the ids of the bots it stopped."""
    now = timezone.now()
    with transaction.atomic():
        KillSwitch.objects.get_or_create(pk=1)
        changed = KillSwitch.objects.filter(pk=1).exclude(is_on=on).update(
            is_on=on, reason=reason, changed_by=actor, changed_at=now)
        stopped = []
        if on:
            stopped = list(Bot.objects.filter(status__in=STOPPABLE).exclude(status=Bot.Status.CREATED)
                           .values_list("pk", flat=True))
            Bot.objects.filter(pk__in=stopped, status__in=STOPPABLE).update(
                status=Bot.Status.STOPPING, desired_status=Bot.Status.STOPPED, keep_orders_on_stop=False,
                status_reason=f"Kill switch: {reason}" if reason else "Kill switch", next_tick_at=now, updated_at=now)
        if changed or stopped:
            record_event(actor=actor, action="kill_switch.on" if on else "kill_switch.off", target="all bots",
                         reason=reason, changes={"is_on": on, "bots_stopped": stopped})
    return stopped
