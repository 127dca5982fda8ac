"""The every-minute trade sync leaves ticking bots to their ticks and syncs only the bots no tick reads."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import pause_bot, start_bot, stop_bot
from ledger.models import TradeSyncCursor
from ledger.tasks import bots_needing_sync, enqueue_trade_syncs, sync_stale_s
from tests.factories import BotFactory

SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 1}


def ticked_bot() -> Bot:
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD), actor="op")
    tick.run(bot.pk, lease.claim(bot.pk, statuses=dispatch.ACTIVE))  # its first tick syncs its fills
    return Bot.objects.get(pk=bot.pk)


def age_sync(bot: Bot, seconds: float) -> None:
    TradeSyncCursor.objects.filter(bot=bot).update(last_synced_at=timezone.now() - timedelta(seconds=seconds))


@pytest.mark.django_db
def test_a_bot_its_ticks_keep_synced_is_not_synced_again():
    bot = ticked_bot()
    assert TradeSyncCursor.objects.get(bot=bot).last_synced_at  # the tick did it
    assert bot not in bots_needing_sync()
    assert enqueue_trade_syncs() == 0


@pytest.mark.django_db
def test_a_running_bot_whose_ticks_stalled_or_never_synced_is_synced():
    stalled, never = ticked_bot(), start_bot(BotFactory(), actor="op")
    age_sync(stalled, sync_stale_s() + 5)
    assert set(bots_needing_sync()) == {stalled, never}
    assert enqueue_trade_syncs() == 2
    assert enqueue_trade_syncs() == 0  # still queued: not twice


@pytest.mark.django_db
def test_paused_and_stopped_with_kept_orders_are_synced_and_a_stopped_bot_without_orders_is_not():
    paused, kept, done = ticked_bot(), ticked_bot(), ticked_bot()
    pause_bot(paused, actor="op")
    stop_bot(kept, actor="op", keep_orders=True)
    stop_bot(done, actor="op")
    assert Order.objects.filter(bot=kept, status=Order.Status.OPEN).exists()
    assert not Order.objects.filter(bot=done, status__in=Order.LIVE).exists()
    for bot in (paused, kept, done):
        age_sync(bot, sync_stale_s() + 5)
    assert set(bots_needing_sync()) == {paused, kept}  # their resting orders may fill; no tick reads them
