"""The operators' console: dashboard, kill switch, the bot list's figures and lifecycle buttons."""
from datetime import timedelta
from decimal import Decimal

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Task

from bots.models import Bot, KillSwitch
from bots.services import set_kill_switch
from clients.services import create_operator
from exchanges.connectors.base import TradeFill
from ledger.models import BalanceRefresh
from ledger.services.ingest import ingest_fills
from pipelabs.models import AuditEvent
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal


def login(client, role=None):
    name = f"op-{role or 'super'}"
    _, password = create_operator(name, role=role)
    assert client.login(username=name, password=password)
    return client


def fill(n, side="buy", amount="1000", price="0.0125", at=None):
    return TradeFill(exchange_trade_id=f"f{n}", order_id=f"o{n}", symbol="SHARP/USDT", side=side, amount=D(amount),
                     price=D(price), cost=D(amount) * D(price), fee=D(0), fee_currency="USDT",
                     traded_at=at or timezone.now() - timedelta(minutes=5))


def test_dashboard_shows_bots_money_and_trouble(client):
    now = timezone.now()
    set_kill_switch(True, actor="alice", reason="venue outage")
    running = BotFactory(status=Bot.Status.RUNNING, heartbeat_at=now)
    BotFactory(status=Bot.Status.RUNNING, heartbeat_at=now - timedelta(hours=1))  # stale
    BotFactory(status=Bot.Status.ERROR, error_message="BitMart 30000: maintenance")
    BotFactory(status=Bot.Status.STOPPED)
    ingest_fills(running, [fill(1), fill(2, side="sell", price="0.0135")])
    account = ExchangeAccountFactory(name="sick")
    BalanceRefresh.objects.create(account=account, is_stale=True, last_error="30010: IP not whitelisted",
                                  last_attempt_at=now)
    Task.objects.create(id="a" * 32, name="refresh-1", func="ledger.tasks.refresh_balances_task", started=now,
                        stopped=now, success=False, result="ValueError: bad JSON in options of account 7")
    page = login(client).get("/admin/").content.decode()
    assert 'id="dashboard"' in page
    tiles = dict((label, int(n)) for n, label in re.findall(r">(\d+)</div>([a-z ]+)", page))
    assert tiles["running"] == 2 and tiles["stopped"] == 1 and tiles["in error"] == 1
    assert tiles["stale "] == 1 if "stale " in tiles else tiles["stale"] == 1
    figures = {label: value for value, label in re.findall(r">([^<]*)</div>([^<(]*)", page)}
    assert figures["24h volume"] == "$26"  # 12.5 + 13.5 USDT
    assert figures["realized P&amp;L"] == "$1"  # 1000 × (0.0135 − 0.0125)
    assert "30010: IP not whitelisted" in page and "sick" in page
    assert "bad JSON in options of account 7" in page
    assert "kill_switch.on" in page and "venue outage" in page and ">ON<" in page


def test_dashboard_costs_the_same_queries_for_many_bots(client):
    login(client)
    BotFactory(status=Bot.Status.RUNNING)
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/")
    for _ in range(15):
        BotFactory(status=Bot.Status.RUNNING)
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/")
    assert len(many) == len(few)


def test_kill_switch_asks_for_confirmation_then_stops_every_bot(client):
    bot = BotFactory(status=Bot.Status.RUNNING)
    login(client)
    assert "Stop every bot" in client.get("/admin/kill-switch/").content.decode()
    response = client.post("/admin/kill-switch/", {"reason": "drill"})  # no confirmation
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not KillSwitch.objects.filter(is_on=True).exists()
    response = client.post("/admin/kill-switch/", {"reason": "drill", "confirm": "on"})
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPING and KillSwitch.objects.get(pk=1).is_on
    assert AuditEvent.objects.filter(action="kill_switch.on", actor="op-super", reason="drill").exists()
    client.post("/admin/kill-switch/", {"confirm": "on"})
    assert not KillSwitch.objects.get(pk=1).is_on


def test_support_cannot_throw_the_kill_switch_or_start_a_bot(client):
    bot = BotFactory()
    login(client, "support")
    assert client.post("/admin/kill-switch/", {"confirm": "on"}).status_code == 403
    assert client.post(f"/admin/bots/bot/{bot.pk}/lifecycle/start/").status_code == 403
    assert "lifecycle-start" not in client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    bot.refresh_from_db()
    assert bot.status == Bot.Status.CREATED and not KillSwitch.objects.filter(is_on=True).exists()


def test_bot_page_buttons_go_through_the_lifecycle(client):
    bot = BotFactory()
    login(client, "trader")
    page = client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert "lifecycle-start" in page and "lifecycle-stop_cancel" in page
    assert client.get(f"/admin/bots/bot/{bot.pk}/lifecycle/start/").status_code == 403  # POST only
    response = client.post(f"/admin/bots/bot/{bot.pk}/lifecycle/start/")
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RUNNING
    assert AuditEvent.objects.filter(action="bot.start", bot=bot, actor="op-trader").exists()
    client.post(f"/admin/bots/bot/{bot.pk}/lifecycle/stop_cancel/")
    bot.refresh_from_db()
    assert bot.status in (Bot.Status.STOPPING, Bot.Status.STOPPED) and not bot.keep_orders_on_stop
    assert client.post(f"/admin/bots/bot/{bot.pk}/lifecycle/explode/").status_code == 403


def test_bulk_actions_report_what_the_state_refused(client):
    bots = [BotFactory(), BotFactory()]
    login(client)
    ids = [b.pk for b in bots]
    client.post("/admin/bots/bot/", {"action": "start_selected", "_selected_action": ids})
    assert set(Bot.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Bot.Status.RUNNING}
    client.post("/admin/bots/bot/", {"action": "stop_cancel_selected", "_selected_action": ids})
    set_kill_switch(True, actor="test")
    response = client.post("/admin/bots/bot/", {"action": "start_selected", "_selected_action": ids}, follow=True)
    assert "Not changed" in response.content.decode()
    assert not Bot.objects.filter(pk__in=ids, status=Bot.Status.RUNNING).exists()


def test_bot_list_shows_figures_with_constant_queries(client):
    login(client)
    bot = BotFactory(status=Bot.Status.RUNNING, heartbeat_at=timezone.now())
    ingest_fills(bot, [fill(1), fill(2, side="sell", price="0.0135")])
    with CaptureQueriesContext(connection) as few:
        page = client.get("/admin/bots/bot/").content.decode()
    assert "$26 (2)" in page and "1 / 0 USDT" in page
    for _ in range(12):
        BotFactory()
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/bots/bot/")
    assert len(many) == len(few)


def test_bot_page_draws_charts_from_its_trades(client):
    bot = BotFactory()
    ingest_fills(bot, [fill(1), fill(2, side="sell", price="0.0135")])
    page = login(client).get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert page.count("<svg") >= 2 and "Cumulative realized P&amp;L" in page
    assert "Recent fills" in page and "Audit trail" in page
