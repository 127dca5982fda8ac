"""Start, pause, stop and the kill switch: idempotent, safe at once from two callers, audited."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from bots.engine import lease
from bots.engine.orders import place_order
from bots.models import Bot, KillSwitch, Order
from bots.services import BotStateConflict, finish_stop, pause_bot, set_kill_switch, start_bot, stop_bot
from exchanges.errors import ExchangeUnavailable
from exchanges.models import PaperOrder
from exchanges.registry import connector_for
from pipelabs.models import AuditEvent
from tests.factories import BotFactory

D = Decimal


def resting_order(bot) -> Order:
    connector = connector_for(bot.account)
    return place_order(connector, account=bot.account, bot=bot, symbol=bot.symbol, side="buy", kind="limit",
                       amount=D("1000"), price=D("0.005"), market=connector.market(bot.symbol))


def test_start_is_audited_and_idempotent(db):
    bot = BotFactory()
    started = start_bot(bot, actor="op:alice", reason="go")
    assert started.status == Bot.Status.RUNNING and started.started_at and started.next_tick_at
    assert start_bot(bot, actor="op:alice").status == Bot.Status.RUNNING
    events = list(AuditEvent.objects.filter(action="bot.start"))
    assert len(events) == 1 and events[0].actor == "op:alice" and events[0].changes == {"status": ["created", "running"]}


def test_start_refused_while_stopping_or_under_the_kill_switch(db):
    bot = BotFactory(status=Bot.Status.STOPPING)
    with pytest.raises(BotStateConflict) as caught:
        start_bot(bot, actor="op")
    assert caught.value.status_code == 409 and "stopping" in str(caught.value.detail)
    other = BotFactory()
    set_kill_switch(True, actor="op", reason="incident")
    with pytest.raises(BotStateConflict):
        start_bot(other, actor="op")
    assert Bot.objects.get(pk=other.pk).status == Bot.Status.CREATED


def test_pause_only_a_running_bot(db):
    bot = start_bot(BotFactory(), actor="op")
    assert pause_bot(bot, actor="op").status == Bot.Status.PAUSED
    assert pause_bot(bot, actor="op").status == Bot.Status.PAUSED  # again: harmless
    stopped = BotFactory(status=Bot.Status.STOPPED)
    with pytest.raises(BotStateConflict):
        pause_bot(stopped, actor="op")
    assert start_bot(bot, actor="op").status == Bot.Status.RUNNING  # resume


def test_stop_cancels_open_orders_at_the_venue(db):
    bot = start_bot(BotFactory(), actor="op")
    order = resting_order(bot)
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "open"
    stopped = stop_bot(bot, actor="op:bob")
    assert stopped.status == Bot.Status.STOPPED
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "canceled"
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "bot.start", "bot.stop", "bot.stopped"]
    assert stop_bot(bot, actor="op").status == Bot.Status.STOPPED  # again: harmless
    assert AuditEvent.objects.filter(action="bot.stop").count() == 1


def test_stop_can_keep_orders(db):
    bot = start_bot(BotFactory(), actor="op")
    order = resting_order(bot)
    assert stop_bot(bot, actor="op", keep_orders=True).status == Bot.Status.STOPPED
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "open"


def test_stop_waits_for_a_tick_holding_the_lease(db):
    bot = start_bot(BotFactory(), actor="op")
    order = resting_order(bot)
    token = lease.claim(bot.pk, statuses=(Bot.Status.RUNNING,))
    assert stop_bot(bot, actor="op").status == Bot.Status.STOPPING  # the tick holds the bot
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    lease.release(bot.pk, token)
    assert finish_stop(bot).status == Bot.Status.STOPPED
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED


def test_a_failing_venue_never_counts_an_order_gone(db, monkeypatch):
    bot = start_bot(BotFactory(), actor="op")
    order = resting_order(bot)

    def down(self, *args, **kwargs):
        raise ExchangeUnavailable("venue down", exchange="paper")

    from exchanges.connectors.paper import PaperConnector
    monkeypatch.setattr(PaperConnector, "cancel_order", down)
    stopping = stop_bot(bot, actor="op")
    assert stopping.status == Bot.Status.STOPPING and "venue down" in stopping.health_message
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert not stopping.lease_owner  # the engine retries
    monkeypatch.undo()
    assert finish_stop(stopping).status == Bot.Status.STOPPED


def test_kill_switch_stops_everything_and_is_audited(db):
    running = start_bot(BotFactory(), actor="op")
    order = resting_order(running)
    paused = pause_bot(start_bot(BotFactory(), actor="op"), actor="op")
    created = BotFactory()
    stopped_ids = set_kill_switch(True, actor="op:carol", reason="exchange hacked")
    assert set(stopped_ids) == {running.pk, paused.pk}
    assert set(Bot.objects.filter(status=Bot.Status.STOPPING).values_list("pk", flat=True)) == {running.pk, paused.pk}
    assert Bot.objects.get(pk=created.pk).status == Bot.Status.CREATED
    event = AuditEvent.objects.get(action="kill_switch.on")
    assert event.actor == "op:carol" and event.reason == "exchange hacked"
    assert finish_stop(running).status == Bot.Status.STOPPED
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED
    set_kill_switch(True, actor="op")  # again: nothing new
    assert AuditEvent.objects.filter(action="kill_switch.on").count() == 1
    set_kill_switch(False, actor="op")
    assert KillSwitch.objects.get().is_on is False
    assert start_bot(running, actor="op").status == Bot.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_two_callers_starting_at_once_start_it_once():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    bot = BotFactory()
    barrier = threading.Barrier(4)
    errors = []

    def start():
        try:
            barrier.wait()
            start_bot(bot, actor="op")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert AuditEvent.objects.filter(action="bot.start").count() == 1
