"""Every safety limit triggers, is recorded with its reason, and the loss limits stop the bot."""

from decimal import Decimal

import pytest

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.selectors import api_status, health
from bots.services import start_bot
from exchanges.models import PaperOrder
from ledger.models import PnlState
from pipelabs.models import AuditEvent
from tests.factories import BotFactory

D = Decimal
SPREAD = {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 5, "levels": 2}
VOLUME = {"daily_volume_usd": "5000", "min_trade_usd": "10", "max_trade_usd": "50", "interval_min_seconds": 5,
          "interval_max_seconds": 10}
pytestmark = pytest.mark.django_db


def tick_now(bot):
    return tick.run(bot.pk, lease.claim(bot.pk, statuses=dispatch.ACTIVE))


def spread(**limits):
    return start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD, **limits), actor="op")


def refusals(bot):
    return list(AuditEvent.objects.filter(bot=bot, action="safety.refused").values_list("reason", flat=True))


def test_max_order_size():
    bot = spread(max_order_usd=D("1"))
    tick_now(bot)
    assert not Order.objects.filter(bot=bot).exists()
    assert refusals(bot) and "max_order_usd" in refusals(bot)[0]
    bot.refresh_from_db()
    assert bot.health_message.startswith("Trade skipped: safety limit")


def test_platform_default_applies_when_the_bot_sets_none(settings):
    settings.BOT_SAFETY_DEFAULTS = {"max_order_usd": "1"}
    bot = spread()
    tick_now(bot)
    assert not Order.objects.filter(bot=bot).exists() and refusals(bot)


def test_max_orders_per_minute():
    bot = spread(max_orders_per_minute=1)
    tick_now(bot)
    assert Order.objects.filter(bot=bot).count() == 1
    assert any("max_orders_per_minute" in r for r in refusals(bot))


def test_price_band():
    bot = spread(price_band_pct=D("0.01"))  # the ladder sits 0.2% and more from the mid
    tick_now(bot)
    assert not Order.objects.filter(bot=bot).exists() and "from the reference" in refusals(bot)[0]


def test_min_quote_kept_refuses_buys_only():
    bot = spread(min_quote_kept=D("9999.99"))
    tick_now(bot)
    assert set(Order.objects.filter(bot=bot).values_list("side", flat=True)) == {"sell"}
    assert any("min_quote_kept" in r for r in refusals(bot))


def test_min_base_kept_refuses_sells_only():
    bot = spread(min_base_kept=D("49.99"))
    tick_now(bot)
    assert set(Order.objects.filter(bot=bot).values_list("side", flat=True)) == {"buy"}


def test_max_position():
    bot = start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME,
                               max_position=D("0.0001")), actor="op")
    tick_now(bot)
    assert not Order.objects.filter(bot=bot).exists() and "max_position" in refusals(bot)[0]


@pytest.mark.parametrize("limit, state, realized", [
    ({"max_daily_loss_usd": D("50")}, {"day_realized_start": "0"}, D("-60")),
    ({"max_drawdown_usd": D("50")}, {"pnl_peak": "100"}, D("40")),
])
def test_loss_limits_stop_the_bot_and_cancel_its_orders(limit, state, realized):
    bot = spread()
    tick_now(bot)
    assert Order.objects.filter(bot=bot, status="open").count() == 4
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=None, **limit)
    bot.refresh_from_db()
    from bots.engine.state import day_start
    from django.utils import timezone

    Bot.objects.filter(pk=bot.pk).update(state={**bot.state, **state, "day": day_start(timezone.now()).date().isoformat()})
    PnlState.objects.update_or_create(bot=bot, defaults={"realized_pnl": realized})
    tick_now(bot)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPING and bot.status_reason.startswith("Safety stop")
    assert AuditEvent.objects.filter(bot=bot, action="safety.stop").exists()
    tick_now(bot)  # the engine's next pass finishes the stop
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPED
    assert not PaperOrder.objects.filter(status="open").exists()


def test_volume_bot_never_trades_into_its_accounts_resting_orders():
    maker = spread()
    tick_now(maker)
    asks = Order.objects.filter(bot=maker, side="sell", status="open").values_list("price", flat=True)
    bids = Order.objects.filter(bot=maker, side="buy", status="open").values_list("price", flat=True)
    taker = start_bot(BotFactory(bot_type=Bot.Type.VOLUME, symbol="SOL/USDC", config=VOLUME, client=maker.client,
                                 account=maker.account), actor="op")
    for _ in range(6):
        Bot.objects.filter(pk=taker.pk).update(state={})  # due again at once
        tick_now(Bot.objects.get(pk=taker.pk))
    orders = Order.objects.filter(bot=taker)
    assert orders.exists()
    for order in orders:
        if order.side == "buy":
            assert order.price < min(asks)
        else:
            assert order.price > max(bids)


def test_status_words_for_the_frontend():
    assert api_status(BotFactory(status=Bot.Status.PAUSED)) == "stopped"
    assert api_status(BotFactory(status=Bot.Status.STOPPING)) == "stopped"
    assert api_status(BotFactory(status=Bot.Status.RUNNING)) == "running"
    errored = BotFactory(status=Bot.Status.ERROR, error_message="BitMart 30000: maintenance")
    assert api_status(errored) == "error" and health(errored)["health_message"] == "BitMart 30000: maintenance"


def test_no_funds_is_said_in_the_frontends_words():
    from tests.factories import ExchangeAccountFactory

    account = ExchangeAccountFactory(options={"paper": {"balances": {"USDC": "0", "SOL": "0"}}})
    bot = start_bot(BotFactory(bot_type=Bot.Type.SPREAD, symbol="SOL/USDC", config=SPREAD, account=account,
                               client=account.client), actor="op")
    tick_now(bot)
    bot.refresh_from_db()
    assert bot.health_message.startswith("NO FUNDS")


def test_short_of_funds_retries_then_pauses_with_the_reason(monkeypatch):
    from django.utils import timezone

    from exchanges.connectors.paper import PaperConnector
    from exchanges.errors import InsufficientFunds

    def short(self, request):
        raise InsufficientFunds("Not enough USDC: 25 needed.", exchange="paper")

    monkeypatch.setattr(PaperConnector, "create_order", short)
    bot = spread()
    for n in range(3):
        tick_now(Bot.objects.get(pk=bot.pk))
        bot.refresh_from_db()
        assert bot.health_message.startswith("Insufficient") or "Insufficient" in bot.status_reason
        Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now())
        if n < 2:
            assert bot.status == Bot.Status.RUNNING  # retried, not stopped for good
    assert bot.status == Bot.Status.PAUSED and "Insufficient" in bot.status_reason
    assert AuditEvent.objects.filter(bot=bot, action="bot.pause").exists()
