"""Ticks in process (the cluster tests run the same through real workers): dispatch, lease, trade, remember."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import start_bot, stop_bot
from exchanges.models import PaperOrder
from ledger.models import BotTrade
from pipelabs.models import AuditEvent
from tests.factories import BotFactory
from tests.taskqueue import run_queued_tasks

D = Decimal
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 2}
VOLUME = {"daily_volume_usd": "5000", "min_trade_usd": "10", "max_trade_usd": "50", "interval_min_seconds": 5,
          "interval_max_seconds": 10}


def spread_bot(**fields):
    return BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", **{"config": SPREAD, **fields})


def tick_now(bot) -> tick.TickReport:
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)
    assert token
    return tick.run(bot.pk, token)


@pytest.mark.django_db(transaction=True)
def test_dispatch_claims_due_bots_once_and_their_ticks_place_orders():
    bot = start_bot(spread_bot(), actor="op")
    assert dispatch.dispatch_once() == 1
    assert dispatch.dispatch_once() == 0  # leased: never handed out twice
    assert run_queued_tasks() == 1
    bot.refresh_from_db()
    orders = Order.objects.filter(bot=bot, status=Order.Status.OPEN)
    assert {o.side for o in orders} == {"buy", "sell"} and orders.count() == 4
    assert PaperOrder.objects.filter(status="open").count() == 4
    assert not bot.lease_owner and bot.heartbeat_at and bot.failures == 0
    assert bot.next_tick_at > timezone.now() + timedelta(seconds=3)  # its own interval
    assert bot.state["session_start_price"] and bot.state["reconciled_for"]
    assert dispatch.dispatch_once() == 0  # not due yet


def test_a_stale_token_does_nothing(db):
    bot = start_bot(spread_bot(), actor="op")
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)
    lease.release(bot.pk, token)
    assert tick.run(bot.pk, token).outcome == "lease lost"
    assert not Order.objects.exists()


def test_volume_bot_trades_and_books_its_fills(db):
    bot = start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME), actor="op")
    report = tick_now(bot)
    assert report.placed == 1, report.outcome
    assert BotTrade.objects.filter(bot=bot).exists()  # synced in the same tick
    bot.refresh_from_db()
    assert bot.state["next_trade_at"] and bot.state["last_side"] in ("buy", "sell")
    assert not Order.objects.filter(bot=bot, status__in=Order.LIVE).exists()  # IOC: nothing rests


def test_baselines_survive_a_restart(db):
    bot = start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME), actor="op")
    tick_now(bot)
    bot.refresh_from_db()
    saved = dict(bot.state)
    # A new process knows nothing but the database: the next tick sees the same baselines.
    tick_now(Bot.objects.get(pk=bot.pk))
    bot.refresh_from_db()
    assert bot.state["session_start_price"] == saved["session_start_price"]
    assert bot.state["day_realized_start"] == saved["day_realized_start"]
    assert bot.state["next_trade_at"] == saved["next_trade_at"]  # not due yet: no new trade, same plan


def test_three_failures_in_a_row_put_the_bot_in_error_with_the_venues_words(db, monkeypatch):
    from exchanges.connectors.paper import PaperConnector
    from exchanges.errors import ExchangeError

    def down(self, *args, **kwargs):  # not an outage (those are waited out): the venue refuses
        raise ExchangeError("BitMart says: symbol delisted 30000", exchange="paper")

    monkeypatch.setattr(PaperConnector, "fetch_order_book", down)
    bot = start_bot(spread_bot(), actor="op")
    for n in range(3):
        tick_now(bot)
        bot.refresh_from_db()
        Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now())
    assert bot.status == Bot.Status.ERROR and "symbol delisted 30000" in bot.error_message
    assert AuditEvent.objects.filter(action="bot.error", bot=bot).exists()


def test_missing_credentials_say_missing_api(db):
    from tests.factories import ExchangeAccountFactory

    bot = start_bot(BotFactory(account=ExchangeAccountFactory(exchange="coinstore"), bot_type=Bot.Type.SPREAD,
                               config=SPREAD), actor="op")
    tick_now(bot)
    bot.refresh_from_db()
    assert "Missing API" in bot.health_message and bot.failures == 1


def test_a_stale_heartbeat_resumes_and_a_long_outage_comes_back_paused(db, settings):
    bot = start_bot(spread_bot(), actor="op")
    Bot.objects.filter(pk=bot.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=settings.BOT_STALE_AFTER_S + 5))
    tick_now(bot)
    assert AuditEvent.objects.filter(action="bot.resume", bot=bot).exists()
    Bot.objects.filter(pk=bot.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=settings.BOT_PAUSE_AFTER_DOWN_S + 5))
    tick_now(bot)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.PAUSED and "down" in bot.status_reason


def test_a_bot_stopped_during_its_tick_stays_stopped_and_places_nothing_more(db, monkeypatch):
    bot = start_bot(spread_bot(), actor="op")
    from exchanges.connectors.paper import PaperConnector

    real = PaperConnector.fetch_order_book

    def stop_meanwhile(self, *args, **kwargs):
        Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPING)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PaperConnector, "fetch_order_book", stop_meanwhile)
    tick_now(bot)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPING and not Order.objects.filter(bot=bot).exists()


@pytest.mark.django_db(transaction=True)
def test_stop_through_the_engine_cancels_what_the_ticks_placed():
    bot = start_bot(spread_bot(), actor="op")
    tick_now(bot)
    assert Order.objects.filter(bot=bot, status=Order.Status.OPEN).count() == 4
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)  # a tick is running: stop cannot finish now
    assert stop_bot(bot, actor="op").status == Bot.Status.STOPPING
    lease.release(bot.pk, token)
    assert dispatch.dispatch_once() == 1 and run_queued_tasks() == 1  # the engine finishes it
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPED
    assert not PaperOrder.objects.filter(status="open").exists()


def test_an_order_whose_answer_was_lost_is_taken_as_the_venue_shows_it_not_placed_again(db):
    bot = start_bot(spread_bot(config={**SPREAD, "levels": 1}), actor="op")
    tick_now(bot)
    placed = list(Order.objects.filter(bot=bot))
    assert len(placed) == 2
    # The worker died after sending, before recording the answers.
    Order.objects.filter(bot=bot).update(status=Order.Status.PENDING, exchange_order_id="")
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now())
    tick_now(Bot.objects.get(pk=bot.pk))
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2  # no duplicate
    assert set(Order.objects.filter(bot=bot).values_list("status", flat=True)) == {"open"}


def test_one_dispatcher_at_a_time_and_each_hands_over_to_its_successor(db):
    from django_q.models import OrmQ

    from bots.models import EngineLease

    bot = start_bot(spread_bot(), actor="op")
    EngineLease.objects.create(name=dispatch.dispatcher_name(), owner="someone",
                               until=timezone.now() + timedelta(seconds=10))
    assert dispatch.dispatch(run_s=0.5) == 0 and not OrmQ.objects.exists()  # another one runs
    EngineLease.objects.filter(name=dispatch.dispatcher_name()).update(until=timezone.now() - timedelta(seconds=1))
    assert dispatch.dispatch(run_s=0.5) == 1  # the dead one's lease lapsed: taken over
    funcs = sorted(task.func() for task in OrmQ.objects.all())
    assert funcs == ["bots.tasks.dispatch_task", "bots.tasks.tick_batch_task"]  # its tick, and its successor
    assert EngineLease.objects.get().owner == ""
    assert bot.pk


def test_spread_prices_from_another_accounts_mid(db):
    from tests.factories import ExchangeAccountFactory

    market = {"price": "300", "price_step": "0.01", "amount_step": "0.001", "min_amount": "0.001",
              "min_notional": "1", "depth_quote": "2000"}
    bot = spread_bot()
    reference = ExchangeAccountFactory(client=bot.client, options={"paper": {"markets": {"SOL/USDC": market}}})
    Bot.objects.filter(pk=bot.pk).update(config={**SPREAD, "price_source": "reference",
                                                 "reference_account": reference.pk})
    start_bot(bot, actor="op")
    tick_now(Bot.objects.get(pk=bot.pk))
    prices = list(Order.objects.filter(bot=bot).values_list("price", flat=True))
    assert prices and all(D(250) < price < D(350) for price in prices)  # around 300, not its own 150


def test_spread_prices_from_the_last_price(db):
    bot = start_bot(spread_bot(config={**SPREAD, "price_source": "last"}), actor="op")
    report = tick_now(bot)
    assert Order.objects.filter(bot=bot).count() == 4, report.outcome
