import pytest
from django.contrib.auth import get_user_model

from clients.services import create_operator
from tests.factories import BotFactory, BotTradeFactory, WalletFactory

ADMIN_PAGES = [
    "/admin/",
    "/admin/clients/client/",
    "/admin/clients/wallet/",
    "/admin/bots/bot/",
    "/admin/bots/order/",
    "/admin/bots/auditevent/",
    "/admin/exchanges/exchangeaccount/",
    "/admin/ledger/bottrade/",
    "/admin/ledger/balancesnapshot/",
    "/admin/pipelabs/workerheartbeat/",
    "/admin/ledger/pnlstate/",
    "/admin/ledger/dailyrollup/",
    "/admin/ledger/pricesnapshot/",
    "/admin/ledger/balancerefresh/",
    "/admin/ledger/tradesynccursor/",
    "/admin/ledger/quarantinedfill/",
    "/admin/exchanges/papermarket/",
    "/admin/exchanges/paperbalance/",
    "/admin/exchanges/paperorder/",
]


@pytest.fixture
def operator_client(client, db):
    user, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_render_for_an_operator(operator_client, path):
    bot = BotFactory()
    BotTradeFactory(bot=bot)
    WalletFactory(client=bot.client)
    response = operator_client.get(path)
    assert response.status_code == 200


def test_bot_change_page_renders(operator_client):
    bot = BotFactory()
    assert operator_client.get(f"/admin/bots/bot/{bot.pk}/change/").status_code == 200


def test_admin_requires_a_staff_login(client, db):
    get_user_model().objects.create_user("visitor", password="pw-123456789")
    client.login(username="visitor", password="pw-123456789")
    response = client.get("/admin/bots/bot/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_credentials_entered_in_the_admin_are_encrypted_and_only_hinted(operator_client):
    from exchanges.models import ExchangeAccount, ExchangeCredential
    from tests.factories import ClientFactory

    client_row = ClientFactory()
    api_key, secret, memo = "AKIA-visible-key-7xQ2", "very-secret-value-9f8e7d", "memo-uid-31337"
    response = operator_client.post("/admin/exchanges/exchangeaccount/add/", {
        "client": client_row.pk, "exchange": "bitmart", "name": "main", "options": "{}",
        "api_key": api_key, "secret": secret, "memo": memo, "passphrase": "",
        "credential-TOTAL_FORMS": "0", "credential-INITIAL_FORMS": "0",
        "credential-MIN_NUM_FORMS": "0", "credential-MAX_NUM_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ExchangeAccount.objects.get(name="main")
    stored = ExchangeCredential.objects.get(account=account)
    assert api_key not in stored.api_key_encrypted and secret not in stored.secret_encrypted
    assert stored.key_hint == "7xQ2"
    for path in (f"/admin/exchanges/exchangeaccount/{account.pk}/change/", "/admin/exchanges/exchangeaccount/"):
        page = operator_client.get(path).content.decode()
        assert "7xQ2" in page
        for value in (api_key, secret, memo):
            assert value not in page


def test_admin_form_refuses_a_key_without_its_secret(operator_client):
    from exchanges.models import ExchangeAccount
    from tests.factories import ClientFactory

    response = operator_client.post("/admin/exchanges/exchangeaccount/add/", {
        "client": ClientFactory().pk, "exchange": "bitmart", "name": "main", "options": "{}",
        "api_key": "only-the-key-123", "secret": "",
        "credential-TOTAL_FORMS": "0", "credential-INITIAL_FORMS": "0",
        "credential-MIN_NUM_FORMS": "0", "credential-MAX_NUM_FORMS": "0",
    })
    assert response.status_code == 200
    assert "Enter both the API key and the secret" in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_quarantined_fills_are_shown_read_only_with_a_link_to_their_bot(operator_client):
    from ledger.models import QuarantinedFill
    from ledger.services import ingest_fills
    from tests.ledger.conftest import fill

    bot = BotFactory(symbol="SHARP/USDT")
    ingest_fills(bot, [fill("bad-1", side="hold")])
    row = QuarantinedFill.objects.get(bot=bot)

    listing = operator_client.get("/admin/ledger/quarantinedfill/").content.decode()
    assert f"/admin/bots/bot/{bot.pk}/change/" in listing and "bad-1" in listing and "trade_side" in listing
    page = operator_client.get(f"/admin/ledger/quarantinedfill/{row.pk}/change/")
    assert page.status_code == 200 and "hold" in page.content.decode()
    assert operator_client.get("/admin/ledger/quarantinedfill/add/").status_code == 403
