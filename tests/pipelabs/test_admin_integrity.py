"""The admin goes through the same rules and audit as the services: no cross-client wiring, no silent writes."""
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bots.models import Bot
from pipelabs.models import AuditEvent
from clients.services import create_operator
from exchanges.models import ExchangeAccount
from tests.factories import BotFactory, BotTradeFactory, ClientFactory, ExchangeAccountFactory, WalletFactory

CREDENTIAL_FORMS = {"credential-TOTAL_FORMS": "0", "credential-INITIAL_FORMS": "0",
                    "credential-MIN_NUM_FORMS": "0", "credential-MAX_NUM_FORMS": "0"}


@pytest.fixture
def operator_client(client, db):
    user, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client


def bot_form(account, **fields):
    return {"client": account.client.pk, "account": account.pk, "name": "mm", "bot_type": "spread",
            "symbol": "SHARP/USDT", **fields}


def change_form(bot, **fields):
    return {"account": bot.account.pk, "name": bot.name, "bot_type": bot.bot_type, "symbol": bot.symbol,
            **fields}


# --- bots: add and change -------------------------------------------------------------------------

def test_admin_refuses_a_bot_on_another_clients_account(operator_client):
    account_of_a, client_b = ExchangeAccountFactory(), ClientFactory()
    response = operator_client.post("/admin/bots/bot/add/", bot_form(account_of_a, client=client_b.pk))
    assert response.status_code == 200
    assert "The exchange account belongs to another client." in response.content.decode()
    assert not Bot.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("field, value, message", [
    ("symbol", "garbage", "A symbol is BASE/QUOTE"),
    ("config__spread_bps", "[1, 2]", "Must be a number."),
    ("name", "   ", "This field is required."),
])
def test_admin_refuses_invalid_bot_fields_with_a_form_error(operator_client, field, value, message):
    account = ExchangeAccountFactory()
    response = operator_client.post("/admin/bots/bot/add/", bot_form(account, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Bot.objects.exists() and not AuditEvent.objects.exists()


def test_admin_creates_a_stopped_bot_through_create_bot_with_an_audit_row(operator_client):
    account = ExchangeAccountFactory()
    response = operator_client.post("/admin/bots/bot/add/", bot_form(
        account, symbol=" sharp/usdt ", config__spread_bps="40", desired_status="running", status="running",
        lease_owner="someone"))
    assert response.status_code == 302, response.content.decode()[:2000]
    bot = Bot.objects.get()
    assert (bot.symbol, bot.status, bot.desired_status, bot.lease_owner) == ("SHARP/USDT", "created", "stopped", "")
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.bot, event.client) == ("op", "bot.create", bot, account.client)


def test_bot_form_has_no_lifecycle_or_lease_inputs(operator_client):
    bot = BotFactory()
    for path in ("/admin/bots/bot/add/", f"/admin/bots/bot/{bot.pk}/change/"):
        page = operator_client.get(path).content.decode()
        for field in ("status", "desired_status", "lease_owner", "lease_until", "heartbeat_at"):
            assert f'name="{field}"' not in page, (path, field)


def test_admin_change_writes_an_audit_row_of_old_to_new(operator_client):
    bot = BotFactory(name="old-name")
    old_account = str(bot.account)
    other_account = ExchangeAccountFactory(client=bot.client)
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", change_form(
        bot, name="new-name", account=other_account.pk, config__min_trade_usd="5", desired_status="running"))
    assert response.status_code == 302, response.content.decode()[:2000]
    bot.refresh_from_db()
    assert (bot.name, bot.account, bot.config, bot.desired_status) == (
        "new-name", other_account, {"min_trade_usd": "5"}, "stopped")
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.bot) == ("op", "bot.update", bot)
    assert event.changes == {"name": ["old-name", "new-name"], "account": [old_account, str(other_account)],
                             "config": [{}, {"min_trade_usd": "5"}]}


def test_admin_change_refuses_another_clients_account_and_writes_nothing(operator_client):
    bot = BotFactory()
    foreign = ExchangeAccountFactory()
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", change_form(bot, account=foreign.pk))
    assert response.status_code == 200
    assert "The exchange account belongs to another client." in response.content.decode()
    bot.refresh_from_db()
    assert bot.account != foreign and not AuditEvent.objects.exists()


def test_a_running_bot_cannot_be_moved_to_another_symbol(operator_client):
    bot = BotFactory(status=Bot.Status.RUNNING)
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", change_form(bot, symbol="OTHER/USDT"))
    assert response.status_code == 200
    assert "Stop the bot before changing this." in response.content.decode()
    bot.refresh_from_db()
    assert bot.symbol == "SHARP/USDT" and not AuditEvent.objects.exists()


def test_update_bot_refuses_lifecycle_fields_and_audits_nothing_for_no_change(db):
    from bots.services import update_bot

    bot = BotFactory()
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", desired_status="running")
    assert "desired_status" in caught.value.message_dict
    update_bot(bot, actor="op", name=bot.name, symbol=bot.symbol.lower())
    assert not AuditEvent.objects.exists()
    bot.refresh_from_db()
    assert bot.desired_status == "stopped"


def test_account_dropdown_names_the_client_without_a_query_per_account(operator_client):
    ExchangeAccountFactory(client=ClientFactory(name="Acme"), exchange="bitmart", name="main")
    with CaptureQueriesContext(connection) as one:
        page = operator_client.get("/admin/bots/bot/add/").content.decode()
    assert "Acme · bitmart:main" in page
    for _ in range(6):
        ExchangeAccountFactory()
    with CaptureQueriesContext(connection) as seven:
        operator_client.get("/admin/bots/bot/add/")
    assert len(seven.captured_queries) == len(one.captured_queries)


# --- exchange accounts ----------------------------------------------------------------------------

def test_account_form_refuses_another_clients_wallet(operator_client):
    client_a, client_b = ClientFactory(), ClientFactory()
    wallet_of_a = WalletFactory(client=client_a)
    response = operator_client.post("/admin/exchanges/exchangeaccount/add/", {
        "client": client_b.pk, "exchange": "jupiter", "name": "dex", "options": "{}", "wallet": wallet_of_a.pk,
        **CREDENTIAL_FORMS})
    assert response.status_code == 200
    assert "This wallet belongs to another client." in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_account_form_accepts_the_clients_own_wallet(operator_client):
    wallet = WalletFactory()
    response = operator_client.post("/admin/exchanges/exchangeaccount/add/", {
        "client": wallet.client.pk, "exchange": "jupiter", "name": "dex", "options": "{}", "wallet": wallet.pk,
        **CREDENTIAL_FORMS})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ExchangeAccount.objects.get().wallet == wallet


def account_change_form(account, **fields):
    return {"client": account.client.pk, "exchange": account.exchange, "name": account.name, "options": "{}",
            "wallet": "", **CREDENTIAL_FORMS, **fields}


def test_account_with_bots_cannot_change_client(operator_client):
    bot = BotFactory()
    account, other = bot.account, ClientFactory()
    response = operator_client.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/",
                                    account_change_form(account, client=other.pk))
    assert response.status_code == 200
    assert "This account has bots; its client cannot change." in response.content.decode()
    account.refresh_from_db()
    assert account.client == bot.client


def test_account_without_bots_can_change_client(operator_client):
    account, other = ExchangeAccountFactory(), ClientFactory()
    response = operator_client.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/",
                                    account_change_form(account, client=other.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.client == other


# --- deleting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [Bot.Status.RUNNING, Bot.Status.STOPPING])
def test_a_running_or_stopping_bot_cannot_be_deleted(operator_client, status):
    bot = BotFactory(status=status)
    BotTradeFactory(bot=bot)
    assert operator_client.get(f"/admin/bots/bot/{bot.pk}/delete/").status_code == 403
    assert operator_client.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Bot.objects.filter(pk=bot.pk).exists() and bot.trades.exists()
    assert not AuditEvent.objects.exists()


def test_deleting_a_stopped_bot_is_audited(operator_client):
    bot = BotFactory(status=Bot.Status.STOPPED)
    target = str(bot)
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Bot.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.bot, event.target, event.client) == (
        "op", "bot.delete", None, target, bot.client)
    assert event.changes["status"] == "stopped"


def test_bulk_delete_keeps_running_bots_and_says_so(operator_client):
    running = BotFactory(status=Bot.Status.RUNNING, name="live")
    stopped = [BotFactory(status=Bot.Status.STOPPED), BotFactory(status=Bot.Status.ERROR)]
    response = operator_client.post("/admin/bots/bot/", {
        "action": "delete_selected", "post": "yes",
        "_selected_action": [running.pk, *(bot.pk for bot in stopped)]})
    assert response.status_code == 302
    assert list(Bot.objects.values_list("pk", flat=True)) == [running.pk]
    assert any("live" in str(m) and "stop them first" in str(m) for m in get_messages(response.wsgi_request))
    events = AuditEvent.objects.filter(action="bot.delete")
    assert sorted(events.values_list("target", flat=True)) == sorted(str(bot) for bot in stopped)
    assert set(events.values_list("actor", flat=True)) == {"op"}


def test_bulk_delete_of_only_running_bots_deletes_nothing(operator_client):
    running = BotFactory(status=Bot.Status.RUNNING)
    response = operator_client.post("/admin/bots/bot/", {
        "action": "delete_selected", "post": "yes", "_selected_action": [running.pk]})
    assert response.status_code == 302
    assert Bot.objects.filter(pk=running.pk).exists() and not AuditEvent.objects.exists()


def test_deleting_a_client_keeps_its_audit_trail(db):
    from bots.services import record_event

    bot = BotFactory(status=Bot.Status.STOPPED, name="renamed")
    record_event(actor="op", action="bot.update", bot=bot)
    bot.client.delete()
    event = AuditEvent.objects.get()
    assert (event.client, event.bot, event.target) == (None, None, "renamed (SHARP/USDT)")


def test_bulk_delete_confirmation_lists_only_the_stopped_bots(operator_client):
    running = BotFactory(status=Bot.Status.RUNNING, name="live")
    stopped = BotFactory(status=Bot.Status.STOPPED, name="idle")
    response = operator_client.post("/admin/bots/bot/", {
        "action": "delete_selected", "_selected_action": list(Bot.objects.values_list("pk", flat=True))})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'name="_selected_action" value="{stopped.pk}"' in page
    assert f'name="_selected_action" value="{running.pk}"' not in page
    assert "stop them first: live (SHARP/USDT)" in page
    assert Bot.objects.count() == 2 and not AuditEvent.objects.exists()


def test_deleting_a_stopped_bot_in_the_admin_cancels_its_resting_orders_first(operator_client):
    from tests.bots.services.test_delete_bot import bot_with_resting_orders

    from exchanges.models import PaperOrder

    bot = bot_with_resting_orders()  # stopped, its two orders kept open at the venue
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Bot.objects.filter(pk=bot.pk).exists()
    assert not PaperOrder.objects.filter(account=bot.account, status="open").exists()


def test_a_support_user_posting_a_delete_cancels_nothing(client, db):
    from clients.services import create_operator
    from tests.bots.services.test_delete_bot import bot_with_resting_orders

    from exchanges.models import PaperOrder

    bot = bot_with_resting_orders()
    user, _ = create_operator("viewer", role="support")
    client.force_login(user)
    assert client.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PaperOrder.objects.filter(account=bot.account, status="open").count() == 2
