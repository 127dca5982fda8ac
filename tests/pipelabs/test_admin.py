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
