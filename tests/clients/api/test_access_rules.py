"""Who may do what through the API: a managed client reads but does not operate its bots and keys;
support operators read every client's data; traders also start, stop and edit bots; admins do all."""

import pytest
from solders.keypair import Keypair

from bots.models import Bot
from clients.models import Client, Wallet
from clients.selectors import MANAGED_BY_AGENCY, SUPPORT_READS_ONLY, TRADER_LIMITS
from clients.services import create_operator
from clients.signin import issue_token
from exchanges.models import ExchangeAccount, ExchangeCredential
from pipelabs.models import AuditEvent
from tests.api import Api, body, client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

SOLANA = str(Keypair().pubkey())
KEY = str(Keypair())
CEX_KEYS = {"api_key": "key-0123456789", "api_secret": "secret-0123456789"}


@pytest.fixture
def managed():
    client, api = client_with_token("acme", wallets=[("solana", SOLANA)], mode="managed")
    bot = BotFactory(client=client, account=ExchangeAccountFactory(client=client, name="main"), config={})
    return client, api, bot


def operator(role):
    user, _ = create_operator(f"op-{role}", role=role)
    return Api(issue_token(user)[0])


# Every change a client makes to its bots and keys, as (method, path, body).
def writes(client, bot):
    return [
        ("post", "/bots", {"name": "new", "account": "main", "pair": "SHARP/USDT", "bot_type": "volume"}),
        ("post", "/bots/create", {"name": "new", "account": "main", "pair": "SHARP/USDT"}),
        ("put", f"/bots/{bot.pk}", {"name": "renamed"}),
        ("patch", f"/bots/{bot.pk}", {"config": {"daily_volume_usd": 1}}),
        ("delete", f"/bots/{bot.pk}", None),
        ("post", f"/bots/{bot.pk}/start", None),
        ("post", f"/bots/{bot.pk}/stop", {}),
        ("post", f"/bots/{bot.pk}/add-exchange-credentials", CEX_KEYS),
        ("post", "/exchanges/credentials", {"exchange": "bitmart", "label": "bm", **CEX_KEYS}),
        ("post", f"/clients/{client.pk}/setup-bot", {"bot_type": "dex", "pair": "SOL/USDC", "private_key": KEY}),
        ("put", f"/clients/{client.pk}/rotate-key", {"private_key": KEY}),
        ("delete", f"/clients/{client.pk}/revoke-key", None),
    ]


def reads(client, bot):
    return ["/bots", f"/bots/{bot.pk}", f"/bots/{bot.pk}/stats", f"/bots/{bot.pk}/trades",
            f"/bots/{bot.pk}/balance-and-volume", "/bots/health/summary", f"/clients/{client.pk}/key-status",
            f"/clients/by-wallet/{SOLANA}"]


def state():
    """What a refused write must leave untouched."""
    return (list(Bot.objects.order_by("pk").values_list("pk", "name", "status", "config")),
            ExchangeAccount.objects.count(), ExchangeCredential.objects.count(), AuditEvent.objects.count(),
            list(Wallet.objects.values_list("private_key_encrypted", flat=True)))


def test_managed_client_reads_everything_and_changes_nothing(managed):
    client, api, bot = managed
    for path in reads(client, bot):
        assert api.get(path).status_code == 200, path
    assert api.get("/exchanges/credentials").status_code == 200
    before = state()
    for method, path, payload in writes(client, bot):
        response = api.call(method, path, payload)
        assert response.status_code == 403, (method, path, response.content)
        assert body(response)["detail"] == MANAGED_BY_AGENCY and body(response)["code"] == "permission_denied"
    assert state() == before


def test_managed_client_switches_to_self_then_operates_and_back(managed):
    client, api, bot = managed
    assert api.put(f"/clients/{client.pk}/management-mode", {"management_mode": "self"}).status_code == 200
    assert api.post(f"/bots/{bot.pk}/start").status_code == 200
    assert api.patch(f"/bots/{bot.pk}", {"name": "mine"}).status_code == 200
    assert api.put(f"/clients/{client.pk}/management-mode", {"management_mode": "managed"}).status_code == 200
    assert api.post(f"/bots/{bot.pk}/stop").status_code == 403  # read from the database, not the token's cache
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING


def test_admins_operate_managed_and_self_clients_bots(managed):
    client, _, bot = managed
    group_admin = operator("admin")
    for admin in (client_with_token("ops", role="admin")[1], group_admin):
        assert admin.post(f"/bots/{bot.pk}/start").status_code == 200
        assert admin.patch(f"/bots/{bot.pk}", {"config": {}}).status_code == 200
        assert admin.post(f"/bots/{bot.pk}/stop").status_code == 200
        Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    admin = group_admin  # keys included
    response = admin.post(f"/bots/{bot.pk}/add-exchange-credentials", CEX_KEYS)
    assert response.status_code == 200 and CEX_KEYS["api_secret"].encode() not in response.content
    assert admin.put(f"/clients/{client.pk}/rotate-key", {"private_key": KEY}).status_code == 200
    assert admin.post(f"/clients/{client.pk}/setup-bot", {"bot_type": "dex", "pair": "SOL/USDC"}).status_code == 201


@pytest.mark.parametrize("role", ["support", "trader"])
def test_support_and_trader_read_every_client(managed, role):
    client, _, bot = managed
    BotFactory()  # another client's
    api = operator(role)
    for path in reads(client, bot):
        assert api.get(path).status_code == 200, path
    assert len(body(api.get("/bots"))["bots"]) == 2
    assert body(api.get("/clients"))["clients"][0]["id"] == client.pk
    for path in (f"/clients/{client.pk}", f"/api/admin/clients/{client.pk}/balances", f"/portfolio?account={client.account_identifier}"):
        assert api.get(path).status_code == 200, path
    assert api.get("/exchanges/credentials", HTTP_X_CLIENT_ID=str(client.pk)).status_code == 200


def test_support_changes_nothing(managed):
    client, _, bot = managed
    api = operator("support")
    before = state()
    for method, path, payload in [*writes(client, bot),
                                  ("put", f"/clients/{client.pk}/management-mode", {"management_mode": "self"}),
                                  ("put", f"/clients/{client.pk}", {"name": "x"})]:
        response = api.call(method, path, payload)
        assert response.status_code == 403 and body(response)["detail"] == SUPPORT_READS_ONLY, (method, path)
    assert state() == before


def test_trader_starts_stops_and_edits_bots_and_nothing_else(managed):
    client, _, bot = managed
    api = operator("trader")
    assert body(api.post(f"/bots/{bot.pk}/start"))["status"] == "running"
    assert AuditEvent.objects.get(action="bot.start", bot_id=bot.pk).actor == "op-trader"
    assert api.post(f"/bots/{bot.pk}/stop").status_code == 200
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    assert body(api.patch(f"/bots/{bot.pk}", {"config": {"daily_volume_usd": 2500}}))["config"] == \
        {"daily_volume_usd": 2500}
    assert api.put(f"/bots/{bot.pk}", {"name": "traded"}).status_code == 200
    before = state()
    allowed = {f"/bots/{bot.pk}", f"/bots/{bot.pk}/start", f"/bots/{bot.pk}/stop"}
    for method, path, payload in [*writes(client, bot), ("post", "/orders/place", {"side": "buy", "amount": 1, "price": 1}),
                                  ("put", f"/clients/{client.pk}/management-mode", {"management_mode": "self"})]:
        if path in allowed and method != "delete":
            continue
        response = api.call(method, path, payload)
        assert response.status_code == 403 and body(response)["detail"] == TRADER_LIMITS, (method, path)
    assert state() == before


def test_staff_without_a_role_sees_no_client_data():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("nobody", password="x" * 20, is_staff=True)
    BotFactory()
    api = Api(issue_token(user)[0])
    assert body(api.get("/bots"))["bots"] == []
    assert api.get("/clients").status_code == 403
    assert Client.objects.count() == 1
