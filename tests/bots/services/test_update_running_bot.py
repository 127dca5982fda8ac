"""A config change made through the service reaches a running bot at its next tick."""

from decimal import Decimal

from django.utils import timezone

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import start_bot, update_bot
from exchanges.models import PaperOrder
from pipelabs.models import AuditEvent
from tests.factories import BotFactory

SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}


def tick_now(bot_id: int) -> tick.TickReport:
    Bot.objects.filter(pk=bot_id).update(next_tick_at=timezone.now())
    token = lease.claim(bot_id, statuses=dispatch.ACTIVE)
    assert token
    return tick.run(bot_id, token)


def distances(bot: Bot) -> dict[str, Decimal]:
    """Each open order's distance from the mid of its two sides, as a fraction."""
    orders = {o.side: o.price for o in Order.objects.filter(bot=bot, status=Order.Status.OPEN)}
    mid = (orders["buy"] + orders["sell"]) / 2
    return {side: abs(price - mid) / mid for side, price in orders.items()}


def test_a_wider_spread_reaches_the_running_bot_at_its_next_tick(db):
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    assert tick_now(bot.pk).placed == 2
    assert all(d < Decimal("0.003") for d in distances(bot).values())  # 40 bps wide: 20 bps a side

    update_bot(Bot.objects.get(pk=bot.pk), actor="op", config={**SPREAD, "spread_bps": 400})
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING  # no restart needed

    # A tolerance as wide as the new half-spread would keep the old quotes: the change replaces them.
    report = tick_now(bot.pk)
    assert (report.cancelled, report.placed) == (2, 2), report.outcome
    assert all(Decimal("0.015") < d < Decimal("0.025") for d in distances(bot).values())  # 200 bps a side
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2  # the old ones are gone
    bot.refresh_from_db()
    assert bot.config["spread_bps"] == 400  # the tick's own write kept the operator's change
    assert AuditEvent.objects.filter(action="bot.update").exists()


def test_an_unchanged_config_leaves_the_ladder_alone(db):
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    tick_now(bot.pk)
    update_bot(Bot.objects.get(pk=bot.pk), actor="op", config=dict(SPREAD))  # the same values: no change
    report = tick_now(bot.pk)
    # The price moves at most a few bps in a second, well inside the 20 bps tolerance: nothing is replaced.
    assert (report.cancelled, report.placed) == (0, 0), report.outcome
    assert Order.objects.filter(bot=bot, status=Order.Status.OPEN).count() == 2
