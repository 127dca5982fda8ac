"""The ledger's django-q2 entry points: thin, safe to run twice, raising on failure."""

from decimal import Decimal

import pytest

from bots.models import Bot
from exchanges.connectors.base import OrderRequest
from exchanges.connectors.paper import PaperConnector
from ledger.models import BotTrade, PriceSnapshot
from ledger.tasks import refresh_prices_task, sync_all_trades_task, sync_trades_task
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.ownership import own_order

pytestmark = pytest.mark.django_db


def test_sync_task_ingests_new_fills_and_is_safe_to_run_twice():
    bot = BotFactory(symbol="SHARP/USDT")
    own_order(bot, PaperConnector(bot.account).create_order(OrderRequest("SHARP/USDT", "buy", "market", Decimal("500"), "")))
    new = sync_trades_task(bot.pk)
    assert new == BotTrade.objects.filter(bot=bot).count() >= 1
    assert sync_trades_task(bot.pk) == 0


def test_sync_all_task_raises_after_syncing_the_others():
    good = BotFactory(symbol="SHARP/USDT", status=Bot.Status.RUNNING)
    own_order(good, PaperConnector(good.account).create_order(OrderRequest("SHARP/USDT", "buy", "market", Decimal("500"), "")))
    BotFactory(symbol="SHARP/USDT", status=Bot.Status.RUNNING, account=ExchangeAccountFactory(exchange="coinstore"))
    with pytest.raises(RuntimeError, match="Trade sync failed"):
        sync_all_trades_task()
    assert BotTrade.objects.filter(bot=good).exists()


def test_price_task_stores_prices_and_returns_their_count():
    BotFactory(symbol="SHARP/USDT")
    assert refresh_prices_task() == 1
    assert PriceSnapshot.objects.filter(symbol="SHARP/USDT", source="mid").exists()


@pytest.mark.django_db
def test_trade_syncs_are_enqueued_once_per_running_bot(settings):
    from django_q.models import OrmQ

    from bots.models import Bot
    from ledger.tasks import SYNC_CLAIM, enqueue_trade_syncs
    from tests.factories import BotFactory

    running = [BotFactory(status=Bot.Status.RUNNING) for _ in range(2)]
    BotFactory(status=Bot.Status.STOPPED)

    assert enqueue_trade_syncs() == 2
    assert enqueue_trade_syncs() == 0  # still queued: not again
    assert OrmQ.objects.count() == 2

    from django.core.cache import cache

    cache.delete(SYNC_CLAIM.format(bot_id=running[0].pk))  # its sync finished
    assert enqueue_trade_syncs() == 1
