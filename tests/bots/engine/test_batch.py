"""Ticks in batches: one task ticks the bots a dispatcher pass claimed, handing back those it is too late for."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bots.engine import dispatch, tick
from bots.models import Bot, Order
from bots.services import start_bot
from tests.factories import BotFactory
from tests.taskqueue import run_queued_tasks

SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}


def spread_bots(count: int) -> list[Bot]:
    return [start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
            for _ in range(count)]


@pytest.mark.django_db(transaction=True)
def test_one_task_ticks_a_whole_claim_once_each(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}  # one worker: the whole pass in one batch
    bots = spread_bots(3)
    assert dispatch.dispatch_once() == 3
    assert run_queued_tasks() == 1  # one task for the three
    for bot in Bot.objects.filter(pk__in=[b.pk for b in bots]):
        assert not bot.lease_owner and bot.next_tick_at > timezone.now() + timedelta(seconds=3)
        assert Order.objects.filter(bot=bot, status=Order.Status.OPEN).count() == 2
    assert dispatch.dispatch_once() == 0  # none due again yet


def test_bots_a_late_batch_cannot_reach_are_handed_back_untouched(db, settings):
    settings.BOT_BATCH_HANDBACK_S = 0  # as if the first bot's venue took the whole allowance
    bots = spread_bots(3)
    token, claimed = dispatch.claim_due()
    assert len(claimed) == 3
    reports = tick.run_batch(claimed, token)
    assert [r.bot_id for r in reports] == [claimed[0][0]]  # only the first was ticked
    for bot_id, due_at in claimed[1:]:
        bot = Bot.objects.get(pk=bot_id)
        assert not bot.lease_owner and bot.lease_until is None  # free for the next pass at once
        assert bot.next_tick_at == due_at and not Order.objects.filter(bot=bot).exists()
    token2, again = dispatch.claim_due()
    assert sorted(pk for pk, _ in again) == sorted(pk for pk, _ in claimed[1:])  # claimed again, not lost
    assert tick.run(claimed[0][0], token).outcome == "lease lost"  # the first bot's tick is over: never twice
    assert bots
