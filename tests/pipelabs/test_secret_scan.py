"""Known secrets seeded the way the platform stores them (exchange key, secret, memo, passphrase;
a Solana wallet private key; API tokens), then every API GET in the schema, every admin changelist
and change page, the main management commands (one against a venue that rejects the key) and a
DEBUG error page are run, and all output, logs included, is searched for them, in the plain,
base64 and hex forms."""

import base64
import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.contrib import admin
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from solders.keypair import Keypair

from clients.services import create_operator, store_wallet_key
from clients.signin import issue_token
from exchanges.services import save_credentials
from tests.api import Api, client_with_token
from tests.factories import BotFactory, BotTradeFactory, ExchangeAccountFactory
from tests.fakes.bitmart import FakeBitmart

pytestmark = pytest.mark.django_db

API_KEY = "ak-scan-5f1c0ffee0ddba11a7"
SECRET = "sk-scan-9d8c7b6a5f4e3d2c1b0a"
MEMO = "memo-scan-424242"
PASSPHRASE = "pp-scan-correcthorse"
WALLET = Keypair()
WALLET_KEY = str(WALLET)  # base58 of the 64-byte keypair


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="), raw.hex()]


@pytest.fixture
def seeded(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    client, api = client_with_token("scanned", wallets=[("evm", "0x" + "5a" * 20)])
    _, admin_api = client_with_token("scan-admin", role="admin")
    venue = FakeBitmart(API_KEY, SECRET, MEMO)
    venue.__enter__()
    account = ExchangeAccountFactory(client=client, exchange="bitmart", name="main", options={"api_url": venue.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO, passphrase=PASSPHRASE)
    wallet = store_wallet_key(client, private_key=WALLET_KEY, actor="test")
    bot = BotFactory(client=client, account=account)
    BotTradeFactory(bot=bot)
    tokens = [api.headers["HTTP_AUTHORIZATION"].split()[1], admin_api.headers["HTTP_AUTHORIZATION"].split()[1]]
    secrets = [API_KEY, SECRET, MEMO, PASSPHRASE, WALLET_KEY, bytes(WALLET.secret()).hex(), *tokens]
    yield {"client": client, "api": api, "admin_api": admin_api, "account": account, "wallet": wallet,
           "bot": bot, "venue": venue, "secrets": secrets}
    venue.__exit__(None, None, None)


def assert_clean(where: str, text: str, secrets):
    for secret in secrets:
        for form in forms(secret):
            assert form not in text, f"{where} shows a seeded secret ({secret[:6]}…)"


def test_api_gets_show_no_secret(seeded, caplog):
    import json

    caplog.set_level(logging.DEBUG)
    schema = json.loads(HttpClient().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    values = {"bot_id": seeded["bot"].pk, "client_id": seeded["client"].pk, "wallet": seeded["wallet"].address,
              "wallet_id": seeded["wallet"].pk}
    seen = 0
    for path, operations in schema["paths"].items():
        if "get" not in operations or path == "/api/schema/":
            continue
        for api in (seeded["api"], seeded["admin_api"]):
            response = api.get(path.format(**values))
            assert response.status_code < 500, (path, response.status_code)
            assert_clean(f"GET {path}", response.content.decode(errors="replace") + str(response.headers),
                         seeded["secrets"])
            seen += 1
    # the writes that take secrets answer without echoing them
    response = seeded["api"].post("/exchanges/credentials", {"exchange": "bitmart", "name": "second",
                                                            "api_key": API_KEY, "secret": SECRET, "memo": MEMO})
    assert_clean("POST /exchanges/credentials", response.content.decode(), seeded["secrets"])
    response = seeded["api"].post(f"/bots/{seeded['bot'].pk}/add-exchange-credentials",
                                  {"api_key": API_KEY, "secret": SECRET, "memo": MEMO})
    assert_clean("POST add-exchange-credentials", response.content.decode(), seeded["secrets"])
    response = seeded["admin_api"].put(f"/clients/{seeded['client'].pk}/wallet",
                                       {"private_key": WALLET_KEY, "chain": "solana"})
    assert_clean("PUT /clients/{id}/wallet", response.content.decode(), seeded["secrets"])
    assert seen >= 20
    assert_clean("logs", caplog.text, seeded["secrets"])


def test_every_admin_page_shows_no_secret(seeded, client, caplog):
    caplog.set_level(logging.DEBUG)
    _, password = create_operator("scanner")
    assert client.login(username="scanner", password=password)
    pages = 0
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code in (200, 403), (changelist, response.status_code)
        assert_clean(changelist, response.content.decode(), seeded["secrets"])
        pages += 1
        for obj in model.objects.all()[:3]:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            response = client.get(change, follow=True)
            assert response.status_code in (200, 403), (change, response.status_code)
            assert_clean(change, response.content.decode(), seeded["secrets"])
            pages += 1
    assert pages > len(admin.site._registry)
    assert_clean("logs", caplog.text, seeded["secrets"])


def test_commands_show_no_secret_even_when_the_venue_rejects_the_key(seeded, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    account, bot = seeded["account"], seeded["bot"]
    runs = [("check_exchange", str(account.pk)), ("refresh_balances", "--account", str(account.pk)),
            ("rotate_keys", "--dry-run"), ("sync_trades", "--bot", str(bot.pk)),
            ("reconcile_orders", "--bot", str(bot.pk))]
    output = []
    for rejecting in (False, True):
        if rejecting:
            seeded["venue"].reject("/spot/v1/wallet", 30005, f"Header X-BM-KEY {API_KEY} is wrong",
                                   http_status=401, times=None)
            seeded["venue"].reject("/spot/v2/trades", 30005, f"Header X-BM-KEY {API_KEY} is wrong",
                                   http_status=401, times=None)
        for args in runs:
            out, err = io.StringIO(), io.StringIO()
            try:
                call_command(*args, stdout=out, stderr=err)
            except BaseException as error:  # a command's failure message is output too
                output.append(f"{type(error).__name__}: {error}")
            output.append(out.getvalue() + err.getvalue())
    captured = capsys.readouterr()
    assert seeded["venue"].requests_to("/spot/v1/wallet"), "the commands reached the venue with the key"
    assert "is wrong" in "\n".join(output) + caplog.text, "the venue's refusal (quoting the key) was shown"
    assert_clean("command output", "\n".join(output) + captured.out + captured.err, seeded["secrets"])
    assert_clean("logs", caplog.text, seeded["secrets"])


def test_debug_500_page_and_its_log_show_no_secret(seeded, client, settings, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    settings.DEBUG = True
    _, password = create_operator("scanner")
    assert client.login(username="scanner", password=password)
    from exchanges.registry import credentials_for

    account = seeded["account"]

    def broken(*args, **kwargs):  # closes over the account only: the test's own list is no leak
        creds = credentials_for(account)  # noqa: F841  decrypted secrets on the failing stack
        raise RuntimeError("forced for the scan")

    monkeypatch.setattr("django.contrib.admin.options.ModelAdmin.get_object", broken)
    client.raise_request_exception = False
    response = client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500 and "forced for the scan" in response.content.decode()
    assert_clean("DEBUG 500 page", response.content.decode(), seeded["secrets"])
    response = Api(seeded["secrets"][-1]).get("/bots/not-a-number/stats")
    assert_clean("API error", response.content.decode(), seeded["secrets"])
    assert_clean("logs", caplog.text, seeded["secrets"])
