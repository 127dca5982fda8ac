"""Start, stop and manual orders through the API: the engine's lifecycle services, 409 on a
forbidding state, and a manual order bounded in time whatever the venue does."""

import socket
import threading
import time
from decimal import Decimal

import pytest

from bots.models import Bot, KillSwitch, Order
from pipelabs.models import AuditEvent
from tests.api import body, client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

PAPER = {"paper": {"markets": {"SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1",
                                              "min_amount": "1", "min_notional": "1", "seed": 7}},
                   "balances": {"USDT": "10000", "SHARP": "1000000"}}}


@pytest.fixture
def acme():
    client, api = client_with_token("acme")
    bot = BotFactory(client=client, account=ExchangeAccountFactory(client=client, name="main"))
    return client, api, bot


def test_start_and_stop_go_through_the_lifecycle_and_are_idempotent(acme):
    _, api, bot = acme
    response = api.post(f"/bots/{bot.pk}/start")
    assert response.status_code == 200, response.content
    assert body(response)["status"] == "running"
    assert Bot.objects.get(pk=bot.pk).desired_status == Bot.Status.RUNNING
    assert api.post(f"/bots/{bot.pk}/start/").status_code == 200  # already running: no change
    assert AuditEvent.objects.filter(action="bot.start", bot_id=bot.pk).count() == 1
    response = api.post(f"/bots/{bot.pk}/stop", {"keep_orders": True})
    assert response.status_code == 200, response.content
    assert body(response)["lifecycle_status"] == "stopping" and body(response)["message"]
    stored = Bot.objects.get(pk=bot.pk)
    assert stored.status == Bot.Status.STOPPING and stored.keep_orders_on_stop
    assert api.post(f"/bots/{bot.pk}/stop").status_code == 200  # stopping already: harmless
    assert AuditEvent.objects.filter(action="bot.stop", bot_id=bot.pk).count() == 1


def test_start_while_stopping_or_kill_switch_is_409(acme):
    _, api, bot = acme
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPING)
    response = api.post(f"/bots/{bot.pk}/start")
    assert response.status_code == 409 and body(response)["detail"]
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    KillSwitch.objects.update_or_create(pk=1, defaults={"is_on": True})
    assert api.post(f"/bots/{bot.pk}/start").status_code == 409
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED


def test_start_stop_scoping_and_input(acme):
    _, api, bot = acme
    theirs = BotFactory()
    assert api.post(f"/bots/{theirs.pk}/start").status_code == 404
    assert api.post(f"/bots/{theirs.pk}/stop").status_code == 404
    assert Bot.objects.get(pk=theirs.pk).status == Bot.Status.CREATED
    assert api.post(f"/bots/{bot.pk}/stop", {"keep_orders": "maybe"}).status_code == 400
    assert api.post(f"/bots/{bot.pk}/stop", {"bogus": 1}).status_code == 400


def test_manual_order_on_the_paper_exchange_is_recorded_as_no_bots_and_audited(settings):
    client, _ = client_with_token("acme")
    _, admin = client_with_token("ops", role="admin")
    account = ExchangeAccountFactory(client=client, exchange="paper", name="paper", options=PAPER)
    response = admin.post("/orders/place", {"client_id": client.pk, "account_id": account.pk, "pair": "SHARP/USDT",
                                            "side": "buy", "amount": "1000", "price": 0.01})
    assert response.status_code == 201, response.content
    answer = body(response)
    assert answer["status"] == "open" and answer["bot_id"] is None and answer["price"] == Decimal("0.01")
    order = Order.objects.get(pk=answer["id"])
    assert order.bot_id is None and order.account_id == account.pk and order.amount == Decimal("1000")
    assert AuditEvent.objects.filter(action="order.manual", client_id=client.pk).exists()
    again = admin.post("/orders/place", {"client_id": client.pk, "account": "paper", "connector": "paper",
                                         "pair": "SHARP/USDT", "side": "sell", "amount": 100, "price": "0.02"},
                       HTTP_IDEMPOTENCY_KEY="o-1")
    replay = admin.post("/orders/place", {"client_id": client.pk, "account": "paper", "connector": "paper",
                                          "pair": "SHARP/USDT", "side": "sell", "amount": 100, "price": "0.02"},
                        HTTP_IDEMPOTENCY_KEY="o-1")
    assert again.status_code == replay.status_code == 201 and body(again)["id"] == body(replay)["id"]
    assert Order.objects.filter(side="sell").count() == 1


@pytest.mark.parametrize("payload", [
    {"side": "hold", "amount": 1, "price": 1},
    {"side": "buy", "amount": -1, "price": 1},
    {"side": "buy", "amount": "1e999999", "price": 1},
    {"side": "buy", "amount": "abc", "price": 1},
    {"side": "buy", "amount": 1, "price": 1, "type": "market"},
    {"side": "buy", "amount": 1, "price": 1, "pair": "NOPE/USDT"},
    {"side": "buy", "amount": 1},
])
def test_bad_orders_are_400_and_place_nothing(payload):
    client, _ = client_with_token("acme")
    _, admin = client_with_token("ops", role="admin")
    account = ExchangeAccountFactory(client=client, exchange="paper", name="paper", options=PAPER)
    response = admin.post("/orders/place", {"pair": "SHARP/USDT", "client_id": client.pk, "account_id": account.pk,
                                            **payload})
    assert response.status_code == 400, response.content
    assert not Order.objects.exists()


def test_orders_are_admin_only_and_scoped():
    client, api = client_with_token("acme")
    account = ExchangeAccountFactory(client=client, exchange="paper", options=PAPER)
    payload = {"account_id": account.pk, "pair": "SHARP/USDT", "side": "buy", "amount": 1, "price": 1}
    assert api.post("/orders/place", payload).status_code == 403
    _, admin = client_with_token("ops", role="admin")
    other = client_with_token("other")[0]
    assert admin.post("/orders/place", {**payload, "client_id": other.pk}).status_code == 400  # not its account
    assert admin.post("/orders/place", {**payload, "client_id": 999999}).status_code == 404


def test_a_hung_venue_is_a_504_within_the_budget(settings):
    settings.MANUAL_ORDER_TIMEOUT_S = 2
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(16)], daemon=True).start()
    client, _ = client_with_token("acme")
    _, admin = client_with_token("ops", role="admin")
    account = ExchangeAccountFactory(client=client, exchange="coinstore", name="cs",
                                     options={"api_url": f"http://127.0.0.1:{server.getsockname()[1]}"})
    from exchanges.services import save_credentials

    save_credentials(account, api_key="k" * 16, secret="s" * 32)
    started = time.monotonic()
    try:
        response = admin.post("/orders/place", {"client_id": client.pk, "account_id": account.pk,
                                                "pair": "SHARP/USDT", "side": "buy", "amount": 1, "price": 1})
    finally:
        server.close()
    elapsed = time.monotonic() - started
    assert response.status_code in (503, 504), response.content
    assert body(response)["detail"] and elapsed < 10
