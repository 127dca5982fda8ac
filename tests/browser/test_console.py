"""The operators' console in a real browser: sign in, the dashboard, a paper bot steered from its
page, its config form, a credential masked, a chart drawn, and a support login that cannot steer."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bots.models import Bot
from bots.services import finish_stop
from clients.services import create_operator
from exchanges.connectors.base import TradeFill
from exchanges.models import ExchangeCredential
from ledger.services.ingest import ingest_fills
from pipelabs.models import AuditEvent
from tests.browser.conftest import screenshot
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.slow
D = Decimal
API_KEY = "ak-browser-0123456789abcdefWXYZ"
SECRET = "sk-browser-fedcba9876543210"


def fill(n, side, price, days_ago):
    return TradeFill(exchange_trade_id=f"f{n}", order_id=f"o{n}", symbol="SHARP/USDT", side=side, amount=D(1000),
                     price=D(price), cost=D(1000) * D(price), fee=D(0), fee_currency="USDT",
                     traded_at=timezone.now() - timedelta(days=days_ago, minutes=5))


def status_of(page) -> str:
    return page.locator(".field-status .readonly").inner_text().strip()


def test_operator_signs_in_and_sees_the_dashboard(page):
    bot = BotFactory(status=Bot.Status.RUNNING, heartbeat_at=timezone.now())
    _, password = create_operator("alice")
    page.goto("/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wrong")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
    assert page.locator("#dashboard .tile").first.inner_text().split() == ["1", "running"]
    screenshot(page, "dashboard")
    page.goto(f"/admin/clients/client/{bot.client_id}/change/")
    assert "1 bot(s): 1 running" in page.locator("#client-totals").inner_text()
    screenshot(page, "client_page")


def test_trader_starts_and_stops_a_paper_bot_from_its_page(open_as):
    bot = BotFactory(name="demo-volume")
    page = open_as("trader")
    page.goto(f"/admin/bots/bot/{bot.pk}/change/")
    assert status_of(page) == "Created"
    page.click("button.lifecycle-start")
    page.wait_for_selector(".messagelist .success")
    assert status_of(page) == "Running"
    screenshot(page, "bot_page")
    page.click("button.lifecycle-stop_cancel")
    page.wait_for_selector(".messagelist .success")
    assert status_of(page) == "Stopping"
    finish_stop(bot)  # what the engine's next pass does for a stopping bot
    page.reload()
    assert status_of(page) == "Stopped"
    assert list(AuditEvent.objects.filter(bot=bot).order_by("id").values_list("action", "actor")) == [
        ("bot.start", "op-trader"), ("bot.stop", "op-trader"), ("bot.stopped", "system")]


def test_trader_edits_the_config_through_the_per_type_form(open_as):
    bot = BotFactory(config={"daily_volume_usd": "5000"})
    page = open_as("trader")
    page.goto(f"/admin/bots/bot/{bot.pk}/change/")
    assert page.input_value("#id_config__daily_volume_usd") == "5000"
    assert "seconds" in page.locator(".field-config__interval_min_seconds .help").inner_text()
    page.fill("#id_config__daily_volume_usd", "-3")  # out of range: refused on its own field
    page.click("input[name=_continue]")
    assert "Must be more than 0" in page.locator(".field-config__daily_volume_usd .errorlist").inner_text()
    bot.refresh_from_db()
    assert bot.config == {"daily_volume_usd": "5000"}
    page.fill("#id_config__daily_volume_usd", "12000")
    page.fill("#id_config__interval_min_seconds", "30")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    bot.refresh_from_db()
    assert D(str(bot.config["daily_volume_usd"])) == D(12000) and int(bot.config["interval_min_seconds"]) == 30
    assert page.input_value("#id_config__daily_volume_usd") == "12000"


def test_admin_enters_a_credential_and_sees_only_its_last_four(open_as):
    account = ExchangeAccountFactory(exchange="bitmart", name="main")
    page = open_as("admin")
    page.goto(f"/admin/exchanges/exchangeaccount/{account.pk}/change/")
    page.fill("#id_api_key", API_KEY)
    page.fill("#id_secret", SECRET)
    page.fill("#id_memo", "memo-1")
    page.uncheck("#id_test_after_save")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert ExchangeCredential.objects.get(account=account).key_hint == "WXYZ"
    assert page.input_value("#id_api_key") == ""  # never drawn back into the form
    screenshot(page, "account_page")
    html = page.content()
    assert "••••WXYZ" in html and API_KEY not in html and SECRET not in html
    page.goto("/admin/exchanges/exchangeaccount/")
    assert "••••WXYZ" in page.locator("#result_list").inner_text()
    assert API_KEY not in page.content()


def test_support_sees_the_charts_but_cannot_start_the_bot(open_as):
    bot = BotFactory()
    ingest_fills(bot, [fill(1, "buy", "0.0125", 3), fill(2, "sell", "0.0135", 2), fill(3, "buy", "0.0120", 1),
                       fill(4, "sell", "0.0140", 0)])
    page = open_as("support")
    page.goto(f"/admin/bots/bot/{bot.pk}/change/")
    line = page.locator("svg[aria-label^='Cumulative realized'] polyline")
    points = line.get_attribute("points").split()
    assert len(points) >= 2 and len({p.split(",")[1] for p in points}) >= 2  # a line that moves
    box = line.bounding_box()
    assert box and box["width"] > 100  # drawn on the page, not only present in the markup
    screenshot(page, "bot_charts")
    assert page.locator("[class^=lifecycle-]").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"/admin/bots/bot/{bot.pk}/lifecycle/start/",
                                 headers={"X-CSRFToken": csrf, "Referer": page.url})
    assert response.status == 403
    bot.refresh_from_db()
    assert bot.status == Bot.Status.CREATED
    page.goto("/admin/bots/bot/")
    assert "Start selected bots" not in page.content()
    screenshot(page, "bot_list")
