"""Operator roles: support looks, trader steers bots, admin does everything; the read-only admin
deletes nothing; a wallet stays with its client."""
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from clients.models import Wallet
from clients.services import create_operator
from ledger.models import BotTrade
from tests.factories import BotFactory, BotTradeFactory, ClientFactory, WalletFactory

pytestmark = pytest.mark.django_db


def login(client, role):
    _, password = create_operator(f"op-{role or 'super'}", role=role)
    assert client.login(username=f"op-{role or 'super'}", password=password)
    return client


def test_migrate_writes_the_three_groups_with_their_rights():
    rights = {g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.select_related("content_type")}
              for g in Group.objects.all()}
    assert {"support", "trader", "admin"} <= set(rights)
    assert "bots.view_bot" in rights["support"] and "bots.change_bot" not in rights["support"]
    assert "exchanges.view_exchangeaccount" in rights["support"]
    assert {"bots.add_bot", "bots.change_bot"} <= rights["trader"]
    assert "exchanges.change_exchangecredential" not in rights["trader"]
    assert "clients.change_wallet" not in rights["trader"]
    assert {"exchanges.change_exchangecredential", "clients.change_wallet", "bots.delete_bot"} <= rights["admin"]


def test_support_sees_a_bot_but_cannot_change_it(client):
    bot = BotFactory(name="before")
    login(client, "support")
    page = client.get(f"/admin/bots/bot/{bot.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = client.post(f"/admin/bots/bot/{bot.pk}/change/", {"name": "after"})
    assert response.status_code == 403
    bot.refresh_from_db()
    assert bot.name == "before"
    assert client.get("/admin/exchanges/exchangeaccount/add/").status_code == 403


def test_trader_may_edit_a_bot_but_not_credentials_or_wallets(client):
    bot = BotFactory()
    login(client, "trader")
    assert b'name="_save"' in client.get(f"/admin/bots/bot/{bot.pk}/change/").content
    assert client.get(f"/admin/exchanges/exchangeaccount/{bot.account.pk}/change/").status_code == 200
    assert b'name="_save"' not in client.get(f"/admin/exchanges/exchangeaccount/{bot.account.pk}/change/").content
    assert client.get("/admin/clients/wallet/add/").status_code == 403


def test_create_operator_command_gives_the_role(capsys):
    call_command("create_operator", "alice", "--group", "trader")
    user = get_user_model().objects.get(username="alice")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["trader"]
    assert "password:" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["", "--group", "support"], "not a valid login"),
    (["bad name!", "--group", "support"], "not a valid login"),
    (["bob", "--group", "root"], "invalid choice"),
])
def test_create_operator_refuses_bad_input_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_operator", *args)
    assert not get_user_model().objects.exists()


def test_create_operator_refuses_an_existing_login():
    call_command("create_operator", "carol", "--group", "support")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_operator", "carol", "--group", "admin")
    assert list(get_user_model().objects.get(username="carol").groups.values_list("name", flat=True)) == ["support"]


def test_read_only_rows_cannot_be_deleted_even_by_a_superuser(client):
    trade = BotTradeFactory()
    login(client, None)
    assert client.get(f"/admin/ledger/bottrade/{trade.pk}/delete/").status_code == 403
    assert client.post(f"/admin/ledger/bottrade/{trade.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.post("/admin/ledger/bottrade/", {"action": "delete_selected", "_selected_action": [trade.pk]})
    assert BotTrade.objects.filter(pk=trade.pk).exists()
    assert response.status_code in (200, 302)


def test_a_wallet_cannot_be_moved_to_another_client(client):
    wallet = WalletFactory()
    other = ClientFactory()
    login(client, None)
    client.post(f"/admin/clients/wallet/{wallet.pk}/change/",
                {"client": other.pk, "chain": wallet.chain, "address": wallet.address, "label": "moved"})
    wallet.refresh_from_db()
    assert wallet.client_id != other.pk
    assert wallet.label == "moved"


def test_view_site_opens_the_api_docs(client):
    login(client, None)
    assert b'href="/api/docs/"' in client.get("/admin/").content


def test_a_wallets_key_record_is_not_typed_in_the_admin(client):
    wallet = WalletFactory()
    login(client, None)
    page = client.get(f"/admin/clients/wallet/{wallet.pk}/change/").content.decode()
    assert 'name="key_added_by"' not in page and 'name="key_connected_at_0"' not in page
    client.post(f"/admin/clients/wallet/{wallet.pk}/change/",
                {"chain": wallet.chain, "address": wallet.address, "label": "x", "key_added_by": "mallory"})
    wallet.refresh_from_db()
    assert wallet.key_added_by != "mallory"


def test_an_operator_issues_an_api_token_in_the_admin_with_its_own_rights(client):
    import re

    from django.test import Client as HttpClient

    from pipelabs.models import AuditEvent

    BotFactory(name="visible")
    login(client, "support")
    assert client.post("/admin/api-token/", {"action": "issue", "hours": "0"}).context["form"].errors  # refused
    page = client.post("/admin/api-token/", {"action": "issue", "hours": "2", "confirm": "on"})
    assert "no-store" in page["Cache-Control"]
    token = re.search(r'id="api-token"[^>]*value="([^"]+)"', page.content.decode()).group(1)
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [b["name"] for b in api.get("/bots").json()["bots"]] == ["visible"]  # support reads every client
    bot_id = api.get("/bots").json()["bots"][0]["id"]
    assert api.post(f"/bots/{bot_id}/start", content_type="application/json").status_code == 403  # and no more
    event = AuditEvent.objects.get(action="token.issue")
    assert event.actor == "op-support" and token not in str(event.changes)
    client.post("/admin/api-token/", {"action": "revoke"})
    assert api.get("/bots").status_code == 401
