"""Client endpoints: self-service for a client on itself, admin-only management, no secret ever echoed."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from solders.keypair import Keypair

from bots.models import Bot
from pipelabs.models import AuditEvent
from clients.models import Client, Wallet
from clients.selectors import CLIENT_NOT_FOUND
from exchanges.models import ExchangeAccount, ExchangeCredential
from ledger.models import BalanceRefresh, BalanceSnapshot, PriceSnapshot
from tests.api import Api, body, client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-never-echoed-0123456789"
API_KEY = "key-abcdef-9876"
EVM = "0x" + "ab" * 20


@pytest.fixture
def acme():
    return client_with_token("acme", wallets=[("evm", EVM)])


@pytest.fixture
def admin():
    return client_with_token("ops", role="admin")


def test_by_wallet_is_own_client_or_any_for_admin(acme, admin):
    client, api = acme
    answer = body(api.get(f"/clients/by-wallet/{EVM.upper().replace('0X', '0x')}"))
    assert answer["client_id"] == client.pk and answer["account_identifier"] == client.account_identifier
    assert answer["management_mode"] == "self" and answer["wallets"][0]["address"] == EVM
    assert body(admin[1].get(f"/clients/by-wallet/{EVM}"))["client_id"] == client.pk
    other, other_api = client_with_token("other")
    assert other_api.get(f"/clients/by-wallet/{EVM}").status_code == 404
    assert api.get("/clients/by-wallet/nonsense").status_code == 404
    assert Api().get(f"/clients/by-wallet/{EVM}").status_code == 401


def test_admin_only_endpoints_refuse_clients(acme):
    client, api = acme
    for method, path in (("get", "/clients"), ("post", "/clients/create"), ("get", f"/clients/{client.pk}"),
                         ("put", f"/clients/{client.pk}"), ("delete", f"/clients/{client.pk}"),
                         ("put", f"/clients/{client.pk}/connector"), ("put", f"/clients/{client.pk}/wallet"),
                         ("get", f"/api/admin/clients/{client.pk}/balances")):
        assert getattr(api, method)(path).status_code == 403, path
    assert Client.objects.filter(pk=client.pk).exists()


def test_clients_list_shows_previews_never_secrets_in_constant_queries(admin):
    _, api = admin
    acme, _ = client_with_token("acme", wallets=[("evm", EVM)])
    response = api.put(f"/clients/{acme.pk}/connector", {"exchange": "bitmart", "label": "bm", "api_key": API_KEY,
                                                          "api_secret": SECRET, "memo": "m"})
    assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as few:
        listed = api.get("/clients")
    for n in range(5):
        other = client_with_token(f"c{n}", wallets=[("evm", f"0x{n + 1:040x}")])[0]
        ExchangeAccountFactory(client=other)
    with CaptureQueriesContext(connection) as more:
        listed = api.get("/clients")
    assert len(more) == len(few)
    assert SECRET.encode() not in listed.content and API_KEY.encode() not in listed.content
    entry = next(c for c in body(listed)["clients"] if c["id"] == acme.pk)
    assert entry["wallet_address"] == EVM and entry["status"] == "active"
    assert entry["connectors"] == [{"id": entry["connectors"][0]["id"], "exchange": "bitmart", "label": "bm",
                                    "name": "bm", "api_key_preview": "9876", "has_key": True, "is_active": True,
                                    "wallet_address": None}]
    assert set(entry["wallets"][0]) >= {"id", "address", "chain"}


def test_admin_creates_updates_and_deletes_a_client(admin):
    _, api = admin
    response = api.post("/clients/create", {"name": "New Co", "email": "a@b.co", "wallet_address": EVM})
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["id"] and created["wallets"][0]["chain"] == "evm"
    assert api.post("/clients/create", {"name": "Dup", "wallet_address": EVM}).status_code == 400
    assert api.post("/clients/create", {"name": ""}).status_code == 400
    assert api.post("/clients/create", {"name": "x", "email": "not-an-email"}).status_code == 400
    assert api.post("/clients/create", {"name": "x", "bogus": 1}).status_code == 400
    assert api.post("/clients/create", {"name": "x" * 201}).status_code == 400
    updated = api.put(f"/clients/{created['id']}", {"name": "Renamed", "status": "inactive", "id": created["id"]})
    assert updated.status_code == 200 and body(updated)["status"] == "inactive"
    assert api.put(f"/clients/{created['id']}", {"role": "god"}).status_code == 400
    bot = BotFactory(client_id=created["id"], status=Bot.Status.RUNNING)
    assert api.delete(f"/clients/{created['id']}").status_code == 409
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    response = api.delete(f"/clients/{created['id']}/")
    assert response.status_code == 200 and body(response) == {"status": "deleted", "client_id": created["id"]}
    assert api.get(f"/clients/{created['id']}").status_code == 404
    assert api.get("/clients/999999").status_code == 404
    assert api.get(f"/clients/{10**30}").status_code == 404


def test_deactivated_client_loses_its_token(admin):
    _, api = admin
    acme, acme_api = client_with_token("acme")
    assert acme_api.get("/bots").status_code == 200
    api.put(f"/clients/{acme.pk}", {"status": "inactive"})
    assert acme_api.get("/bots").status_code == 401


def test_management_mode(acme):
    client, api = acme
    response = api.put(f"/clients/{client.pk}/management-mode", {"management_mode": "self"})
    assert response.status_code == 200 and body(response)["management_mode"] == "self"
    assert api.put(f"/clients/{client.pk}/management-mode", {"mode": "managed"}).status_code == 200
    assert api.put(f"/clients/{client.pk}/management-mode", {"management_mode": "chaos"}).status_code == 400
    assert api.put(f"/clients/{client.pk}/management-mode", {}).status_code == 400
    other = client_with_token("other")[0]
    assert api.put(f"/clients/{other.pk}/management-mode", {"management_mode": "self"}).status_code == 404


def test_setup_bot_and_client_not_found(acme):
    client, api = acme
    keypair = Keypair()
    response = api.post(f"/clients/{client.pk}/setup-bot", {"name": "dex", "bot_type": "dex", "pair": "SOL/USDC",
                                                             "private_key": str(keypair)})
    assert response.status_code == 201, response.content
    answer = body(response)
    assert answer["success"] is True and str(keypair).encode() not in response.content
    bot = Bot.objects.get(pk=answer["bot_id"])
    assert bot.account.exchange == "jupiter" and bot.account.wallet.address == str(keypair.pubkey())
    assert str(keypair) not in bot.account.wallet.private_key_encrypted
    response = api.post("/clients/999999/setup-bot", {"pair": "SOL/USDC"})
    assert response.status_code == 404 and body(response)["detail"] == CLIENT_NOT_FOUND
    response = api.post(f"/clients/{client.pk}/setup-bot", {"pair": "SOL/USDC", "bot_type": "dex", "private_key": "bad"})
    assert response.status_code == 400 and b"bad" not in response.content


def test_rotate_revoke_and_key_status(acme):
    client, api = acme
    status = body(api.get(f"/clients/{client.pk}/key-status"))
    assert status["has_key"] is False
    keypair = Keypair()
    response = api.put(f"/clients/{client.pk}/rotate-key", {"private_key": str(keypair)})
    assert response.status_code == 200 and str(keypair).encode() not in response.content
    status = body(api.get(f"/clients/{client.pk}/key-status"))
    assert status["has_key"] is True and status["wallet_address"] == str(keypair.pubkey())
    assert status["chain"] == "solana" and status["key_added_by"] and status["key_connected_at"]
    account = ExchangeAccount.objects.create(client=client, exchange="jupiter", name="dex",
                                             wallet=Wallet.objects.get(address=str(keypair.pubkey())))
    dex_bot = BotFactory(client=client, account=account, bot_type="dex", symbol="SOL/USDC", status=Bot.Status.RUNNING)
    response = api.delete(f"/clients/{client.pk}/revoke-key")
    assert response.status_code == 200 and body(response)["has_key"] is False
    assert body(response)["stopped_bots"] == [dex_bot.pk]
    dex_bot.refresh_from_db()
    assert dex_bot.status == Bot.Status.STOPPING and dex_bot.desired_status == Bot.Status.STOPPED
    assert AuditEvent.objects.filter(action="bot.stop", bot=dex_bot).exists()
    assert not Wallet.objects.get(address=str(keypair.pubkey())).private_key_encrypted
    assert AuditEvent.objects.filter(action="wallet_key_revoked").exists()
    assert api.put(f"/clients/{client.pk}/rotate-key", {"private_key": "x"}).status_code == 400
    assert api.put(f"/clients/{client.pk}/rotate-key", {}).status_code == 400
    assert Api().put(f"/clients/{client.pk}/rotate-key", {"private_key": str(keypair)}).status_code == 401
    assert Api().delete(f"/clients/{client.pk}/revoke-key").status_code == 401


def test_exchange_credentials_own_and_x_client_id(acme, admin):
    client, api = acme
    response = api.post("/exchanges/credentials", {"exchange": "coinstore", "name": "cs", "api_key": API_KEY,
                                                   "api_secret": SECRET})
    assert response.status_code == 201, response.content
    listed = api.get("/exchanges/credentials")
    assert SECRET.encode() not in listed.content and API_KEY.encode() not in listed.content
    assert body(listed)["credentials"][0]["api_key_preview"] == "9876"
    assert SECRET not in ExchangeCredential.objects.get().secret_encrypted
    assert body(admin[1].get("/exchanges/credentials", HTTP_X_CLIENT_ID=str(client.pk)))["client_id"] == client.pk
    other = client_with_token("other")[0]
    assert api.get("/exchanges/credentials", HTTP_X_CLIENT_ID=str(other.pk)).status_code == 404
    assert api.post("/exchanges/credentials", {"exchange": "coinstore", "api_key": API_KEY}).status_code == 400
    assert api.post("/exchanges/credentials", {"api_key": API_KEY, "api_secret": SECRET}).status_code == 400


def test_wallet_endpoints(admin):
    _, api = admin
    acme = client_with_token("acme")[0]
    response = api.put(f"/clients/{acme.pk}/wallet", {"address": EVM, "chain": "evm", "label": "main"})
    assert response.status_code == 201, response.content
    wallet_id = body(response)["id"]
    added = AuditEvent.objects.get(action="wallet.add", client=acme)
    assert added.actor != "system"  # the admin who called, not an anonymous process
    assert api.put(f"/clients/{acme.pk}/wallet", {"address": "nope", "chain": "evm"}).status_code == 400
    response = api.put(f"/clients/{acme.pk}/wallet/{wallet_id}", {"label": "renamed"})
    assert response.status_code == 200 and body(response)["label"] == "renamed"
    assert api.put(f"/clients/{acme.pk}/wallet/999999", {"label": "x"}).status_code == 404
    response = api.delete(f"/clients/{acme.pk}/wallet/{wallet_id}")
    assert body(response) == {"status": "deleted", "id": wallet_id}


def test_balances_portfolio_and_price(acme, admin):
    client, api = acme
    account = ExchangeAccountFactory(client=client, exchange="bitmart", name="bm")
    now = timezone.now()
    BalanceSnapshot.objects.create(account=account, asset="USDT", available=Decimal("10.5"), locked=Decimal("1"),
                                   total=Decimal("11.5"), usd_value=Decimal("11.5"), taken_at=now, confirmed_at=now)
    BalanceRefresh.objects.create(account=account, last_success_at=now, last_attempt_at=now)
    balances = body(admin[1].get(f"/api/admin/clients/{client.pk}/balances"))["balances"]
    assert balances == [{"asset": "USDT", "total": Decimal("11.5"), "available": Decimal("10.5"), "locked": 1,
                         "usd_value": Decimal("11.5"), "exchange": "bitmart", "account": "bm",
                         "account_id": account.pk, "taken_at": balances[0]["taken_at"], "is_stale": False}]
    admin_api = admin[1]
    folio = body(admin_api.get("/portfolio", {"account": client.account_identifier}))
    assert folio["exchanges"][0]["exchange"] == "bitmart" and folio["total_usd"] == Decimal("11.5")
    other = client_with_token("other")[0]
    assert body(admin_api.get("/portfolio", {"account": other.account_identifier}))["balances"] == []
    for path in ("/portfolio", "/market/price?connector=bitmart&pair=SHARP/USDT"):
        assert api.get(path).status_code == 403  # admin screens
    PriceSnapshot.objects.create(exchange="bitmart", symbol="SHARP/USDT", price=Decimal("0.012345678901"),
                                 source="mid", taken_at=now)
    price = body(admin_api.get("/market/price", {"connector": "bitmart", "pair": "SHARP/USDT"}))
    assert price["price"] == Decimal("0.012345678901") and price["age_s"] >= 0
    response = admin_api.get("/market/price", {"connector": "bitmart", "pair": "NOPE/USDT"})
    assert response.status_code == 404 and "not found" in body(response)["detail"]
    assert admin_api.get("/market/price").status_code == 400
    for path in ("/portfolio", "/market/price?connector=bitmart&pair=SHARP/USDT"):
        assert Api().get(path).status_code == 401
