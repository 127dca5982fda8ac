"""Deleting a bot cancels its open orders at the venue first, unless asked to keep them."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import delete_bots, pause_bot, start_bot, stop_bot
from exchanges.models import ExchangeAccount, PaperOrder
from pipelabs.models import AuditEvent
from tests.factories import BotFactory

SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}


def bot_with_resting_orders(stop: str = "keep") -> Bot:
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)
    assert tick.run(bot.pk, token).placed == 2
    if stop == "keep":
        stop_bot(bot, actor="op", keep_orders=True)
    else:
        pause_bot(bot, actor="op")
    bot = Bot.objects.get(pk=bot.pk)
    assert bot.status in (Bot.Status.STOPPED, Bot.Status.PAUSED)
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2
    return bot


@pytest.mark.parametrize("stop", ["keep", "pause"])
def test_deleting_a_stopped_or_paused_bot_cancels_its_open_orders(db, stop):
    bot = bot_with_resting_orders(stop)
    assert delete_bots([bot], actor="op") == 1
    assert not Bot.objects.filter(pk=bot.pk).exists()
    assert not PaperOrder.objects.filter(account=bot.account, status="open").exists()  # nothing left resting
    assert AuditEvent.objects.filter(action="bot.delete").exists()


def test_deleting_with_keep_orders_leaves_them_open_and_on_record(db):
    bot = bot_with_resting_orders()
    assert delete_bots([bot], actor="op", keep_orders=True) == 1
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2
    kept = Order.objects.filter(account=bot.account, status=Order.Status.OPEN)
    assert kept.count() == 2 and not kept.filter(bot__isnull=False).exists()


def test_a_venue_that_cannot_cancel_refuses_the_delete_and_deletes_nothing(db):
    bot = bot_with_resting_orders()
    # The account's options no longer make a connector: the venue cannot be asked.
    ExchangeAccount.objects.filter(pk=bot.account_id).update(options={"not_an_option": 1})
    with pytest.raises(ValidationError) as caught:
        delete_bots([bot], actor="op")
    assert caught.value.code == "bot_orders_open"
    assert Bot.objects.filter(pk=bot.pk).exists()
    assert Order.objects.filter(bot=bot, status=Order.Status.OPEN).count() == 2
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2


def test_inside_a_callers_transaction_no_venue_call_is_made_and_the_delete_is_refused(db):
    bot = bot_with_resting_orders()
    with pytest.raises(ValidationError) as caught, transaction.atomic():
        delete_bots([bot], actor="op")
    assert caught.value.code == "bot_orders_open"
    assert Bot.objects.filter(pk=bot.pk).exists()
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2


def test_a_running_bot_is_still_refused(db):
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    with pytest.raises(ValidationError) as caught:
        delete_bots([bot], actor="op")
    assert caught.value.code == "bot_not_stopped"
