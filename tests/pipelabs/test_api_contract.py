"""One contract for every client API endpoint: anonymous 401 (JSON, CORS), no redirect with or
without a slash, bad JSON and unknown fields 400, another client's object 404, no secret echoed."""

import pytest
from solders.keypair import Keypair

from tests.api import ORIGIN, Api, body, client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

SECRET = "contract-secret-value-0123456789"

# (method, path template, writes a JSON body)
ENDPOINTS = [
    ("get", "/bots", False), ("post", "/bots", True), ("post", "/bots/create", True),
    ("get", "/bots/{bot}", False), ("put", "/bots/{bot}", True), ("patch", "/bots/{bot}", True),
    ("delete", "/bots/{bot}", False), ("get", "/bots/{bot}/balance-and-volume", False),
    ("get", "/bots/{bot}/stats", False), ("get", "/bots/{bot}/trades", False), ("get", "/bots/health/summary", False),
    ("post", "/bots/{bot}/add-exchange-credentials", True), ("get", "/clients/by-wallet/{wallet}", False),
    ("get", "/exchanges/credentials", False), ("post", "/exchanges/credentials", True),
    ("put", "/clients/{client}/management-mode", True), ("post", "/clients/{client}/setup-bot", True),
    ("put", "/clients/{client}/rotate-key", True), ("delete", "/clients/{client}/revoke-key", False),
    ("get", "/clients/{client}/key-status", False), ("get", "/clients", False), ("post", "/clients/create", True),
    ("get", "/clients/{client}", False), ("put", "/clients/{client}", True), ("delete", "/clients/{client}", False),
    ("put", "/clients/{client}/connector", True), ("put", "/clients/{client}/wallet", True),
    ("put", "/clients/{client}/wallet/{wallet_id}", True), ("delete", "/clients/{client}/wallet/{wallet_id}", False),
    ("get", "/api/admin/clients/{client}/balances", False), ("get", "/portfolio", False),
    ("get", "/market/price", False), ("post", "/bots/{bot}/start", False), ("post", "/bots/{bot}/stop", True),
    ("post", "/orders/place", True),
]
OWN_OBJECT = [e for e in ENDPOINTS if "{bot}" in e[1] or ("{client}" in e[1] and "wallet/" not in e[1])]
WRITES = [e for e in ENDPOINTS if e[2]]


@pytest.fixture
def world():
    theirs, _ = client_with_token("theirs", wallets=[("evm", "0x" + "77" * 20)])
    bot = BotFactory(client=theirs, account=ExchangeAccountFactory(client=theirs, name="main"))
    wallet = theirs.wallets.get()
    return {"bot": bot.pk, "client": theirs.pk, "wallet": wallet.address, "wallet_id": wallet.pk}


def path_of(template, world):
    return template.format(**world)


@pytest.mark.parametrize("method,template,_", ENDPOINTS)
def test_anonymous_is_401_json_with_cors(world, method, template, _):
    for path in (path_of(template, world), path_of(template, world) + "/"):
        response = Api().call(method, path, HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 401, (method, path, response.status_code)
        assert body(response)["detail"] and response["Access-Control-Allow-Origin"] == ORIGIN
        assert response["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("method,template,_", ENDPOINTS)
def test_preflight_on_every_path(world, method, template, _):
    response = Api().call("options", path_of(template, world), HTTP_ORIGIN=ORIGIN,
                          HTTP_ACCESS_CONTROL_REQUEST_METHOD=method.upper(),
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,x-client-id")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("method,template,_", OWN_OBJECT)
def test_another_clients_object_is_404_for_a_client(world, method, template, _):
    _, api = client_with_token("me")
    response = api.call(method, path_of(template, world), {} if _ else None)
    # Admin-only paths refuse a client outright (403) before looking anything up.
    assert response.status_code in (404, 403), (method, template, response.status_code)
    if response.status_code == 404:
        assert body(response)["detail"]


@pytest.mark.parametrize("method,template,_", WRITES)
def test_bad_json_and_unknown_fields_are_400_for_an_admin(world, method, template, _):
    _, api = client_with_token("ops", role="admin")
    path = path_of(template, world)
    response = api.call(method, path, raw="{broken")
    assert response.status_code == 400, (method, path, response.content)
    assert "JSON" in body(response)["detail"]
    response = api.call(method, path, raw='{"no_such_field_anywhere": 1}')
    assert response.status_code in (400, 404), (method, path, response.content)


@pytest.mark.parametrize("method,template,_", WRITES)
def test_wrong_types_and_huge_values_are_4xx_not_500(world, method, template, _):
    _, api = client_with_token("ops", role="admin")
    path = path_of(template, world)
    for payload in ({"name": ["x"], "pair": {"a": 1}, "config": 5, "api_key": 10**400},
                    {"name": "x" * 100_000, "amount": "1e999999", "private_key": "k" * 5000},
                    {"client_id": -1, "status": None, "management_mode": 3.5}):
        response = api.call(method, path, payload)
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.content[:200])


def test_no_secret_in_any_answer():
    client, api = client_with_token("acme")
    keypair = Keypair()
    assert api.post(f"/clients/{client.pk}/setup-bot", {"pair": "SHARP/USDT", "connector": "bitmart", "account": "bm",
                                                        "api_key": "visible-key-" + SECRET[:6],
                                                        "api_secret": SECRET}).status_code == 201
    assert api.put(f"/clients/{client.pk}/rotate-key", {"private_key": str(keypair)}).status_code == 200
    _, admin = client_with_token("ops", role="admin")
    bot = body(api.get("/bots"))["bots"][0]["id"]
    answers = [api.get(p) for p in ("/bots?include_balances=true", f"/bots/{bot}", "/exchanges/credentials",
                                    f"/clients/{client.pk}/key-status", f"/bots/{bot}/stats")]
    answers += [admin.get(p) for p in ("/clients", f"/clients/{client.pk}")]
    for response in answers:
        assert response.status_code == 200
        for secret in (SECRET, str(keypair), "visible-key-"):
            assert secret.encode() not in response.content, response.content[:300]
