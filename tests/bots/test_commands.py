"""start_bot, stop_bot, kill_switch, reconcile_orders and setup_demo from the command line."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bots.engine.orders import new_client_order_id, place_order
from bots.models import Bot, KillSwitch, Order
from bots.services import start_bot
from exchanges.connectors.base import OrderRequest
from exchanges.errors import ExchangeUnavailable
from exchanges.models import PaperOrder
from exchanges.registry import connector_for
from ledger.models import BotTrade
from tests.factories import BotFactory

D = Decimal
pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def resting(bot) -> Order:
    connector = connector_for(bot.account)
    return place_order(connector, account=bot.account, bot=bot, symbol=bot.symbol, side="buy", kind="limit",
                       amount=D("1000"), price=D("0.005"), market=connector.market(bot.symbol))


def test_start_and_stop_by_id_and_all():
    one, two = BotFactory(), BotFactory()
    assert "running" in run("start_bot", str(one.pk))
    run("start_bot", "--all")
    assert set(Bot.objects.values_list("status", flat=True)) == {"running"}
    order = resting(one)
    out = run("stop_bot", "--all")
    assert out.count("stopped") == 2
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "canceled"


def test_stop_can_keep_orders():
    bot = start_bot(BotFactory(), actor="op")
    order = resting(bot)
    run("stop_bot", str(bot.pk), "--keep-orders")
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "open"


@pytest.mark.parametrize("args, message", [
    (("start_bot",), "Name bot ids or give --all"),
    (("start_bot", "1", "--all"), "not both"),
    (("stop_bot", "999999"), "No bot with id 999999"),
    (("reconcile_orders", "--bot", "999999"), "No bot with id 999999"),
])
def test_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_start_refused_is_an_error_naming_the_bot():
    bot = BotFactory(status=Bot.Status.STOPPING)
    with pytest.raises(CommandError, match="1 bot"):
        run("start_bot", str(bot.pk))


def test_kill_switch_on_stops_and_cancels_everything_off_lets_bots_start():
    bot = start_bot(BotFactory(), actor="op")
    order = resting(bot)
    run("kill_switch", "on", "--reason", "drill")
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED
    assert PaperOrder.objects.get(client_order_id=order.client_order_id).status == "canceled"
    assert KillSwitch.objects.get().is_on
    with pytest.raises(CommandError):
        run("start_bot", str(bot.pk))
    run("kill_switch", "off")
    run("start_bot", str(bot.pk))
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING


def test_reconcile_adopts_unrecorded_orders_and_settles_finished_ones():
    bot = start_bot(BotFactory(), actor="op")
    venue = connector_for(bot.account)
    # Placed with the bot's id, but its row was never written (a crash between the two steps).
    lost = venue.create_order(OrderRequest("SHARP/USDT", "sell", "limit", D("1000"), new_client_order_id(bot.pk),
                                           D("0.05")))
    # Recorded; the venue filled it but our row never heard.
    filled = place_order(venue, account=bot.account, bot=bot, symbol="SHARP/USDT", side="buy", kind="market",
                         amount=D("1000"), market=venue.market("SHARP/USDT"), reference_price=D("0.0125"))
    Order.objects.filter(pk=filled.pk).update(status=Order.Status.UNKNOWN, exchange_order_id="", filled=0)
    # Someone else's order on the account: none of the bot's business.
    venue.create_order(OrderRequest("SHARP/USDT", "sell", "limit", D("1000"), "manual-1", D("0.06")))
    out = run("reconcile_orders", "--bot", str(bot.pk))
    assert "1 adopted" in out and "1 settled" in out
    adopted = Order.objects.get(client_order_id=lost.client_order_id)
    assert adopted.bot == bot and adopted.status == Order.Status.OPEN
    assert Order.objects.get(pk=filled.pk).status == Order.Status.FILLED
    assert BotTrade.objects.filter(bot=bot, order_id=Order.objects.get(pk=filled.pk).exchange_order_id).exists()
    assert not Order.objects.filter(client_order_id="manual-1").exists()


def test_an_order_counts_as_gone_only_when_the_venue_confirms(monkeypatch):
    bot = start_bot(BotFactory(), actor="op")
    order = resting(bot)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.UNKNOWN)
    from exchanges.connectors.paper import PaperConnector

    def down(self, *args, **kwargs):
        raise ExchangeUnavailable("venue down", exchange="paper")

    monkeypatch.setattr(PaperConnector, "fetch_open_orders", down)
    with pytest.raises(CommandError):
        run("reconcile_orders", "--bot", str(bot.pk))
    assert Order.objects.get(pk=order.pk).status == Order.Status.UNKNOWN


def test_setup_demo_starts_its_paper_bots():
    run("setup_demo", "--username", "demo-op")
    statuses = set(Bot.objects.values_list("status", flat=True))
    assert statuses == {"running"}
    run("setup_demo", "--username", "demo-op")  # again: harmless
    assert Bot.objects.count() == 2
    from bots.engine import lease, tick

    for bot in Bot.objects.all():  # their first ticks trade: orders, and the volume bot's fills
        outcome = tick.run(bot.pk, lease.claim(bot.pk, statuses=["running"])).outcome
        assert Order.objects.filter(bot=bot).exists(), outcome
    assert BotTrade.objects.filter(bot__bot_type="volume").exists()
