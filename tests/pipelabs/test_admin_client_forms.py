"""The client and wallet admin forms given malformed values: the form comes back with a readable
message and nothing is written (bot and account forms: test_admin.py, test_admin_accounts.py)."""

import pytest

from clients.models import Client, Wallet
from clients.services import create_operator
from pipelabs.models import AuditEvent
from tests.factories import ClientFactory, WalletFactory

pytestmark = pytest.mark.django_db

CLIENT_ADD = "/admin/clients/client/add/"
WALLET_ADD = "/admin/clients/wallet/add/"
EVM = "0x" + "ab" * 20


@pytest.fixture
def operator(client):
    user, _ = create_operator("op")
    client.force_login(user)
    return client


def wallet_forms(*wallets, initial=0):
    data = {"wallets-TOTAL_FORMS": str(len(wallets)), "wallets-INITIAL_FORMS": str(initial),
            "wallets-MIN_NUM_FORMS": "0", "wallets-MAX_NUM_FORMS": "1000"}
    for n, wallet in enumerate(wallets):
        data.update({f"wallets-{n}-{k}": v for k, v in wallet.items()})
    return data


# A client's change page also lists its accounts and bots (shown, not edited): their empty
# management forms travel with every post, as the browser sends them.
SHOWN_ROWS = {f"{prefix}-{name}": value for prefix in ("exchange_accounts", "bots")
              for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))}


def client_form(**fields):
    return {"name": "acme", "email": "", "account_identifier": "acct_form_1", "role": "client",
            "management_mode": "managed", "is_active": "on", **wallet_forms(), **SHOWN_ROWS, **fields}


def written():
    return Client.objects.count(), Wallet.objects.count(), AuditEvent.objects.count()


def errors_of(response) -> str:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect or a 500
    page = response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert "errorlist" in page or "errornote" in page
    return page


@pytest.mark.parametrize("fields, message", [
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 201}, "at most 200 characters"),
    ({"email": "not-an-email"}, "Enter a valid email address."),
    ({"role": "root"}, "Select a valid choice."),
    ({"management_mode": "both"}, "Select a valid choice."),
    (wallet_forms({"chain": "evm", "address": "0x123", "label": ""}), "address"),
    (wallet_forms({"chain": "btc", "address": EVM, "label": ""}), "Select a valid choice."),
    (wallet_forms({"chain": "evm", "address": EVM + "00" * 20, "label": ""}), "at most 64 characters"),
])
def test_client_add_with_bad_values_writes_nothing(operator, fields, message):
    before = written()
    page = errors_of(operator.post(CLIENT_ADD, client_form(**fields)))
    assert message in page
    assert written() == before


def test_client_add_with_another_clients_wallet_writes_nothing(operator):
    WalletFactory(chain="evm", address=EVM)
    before = written()
    page = errors_of(operator.post(CLIENT_ADD, client_form(**wallet_forms({"chain": "evm", "address": EVM}))))
    assert "already exists" in page
    assert written() == before


def test_client_change_with_bad_values_changes_nothing(operator):
    acme = ClientFactory(name="acme", email="ops@acme.example")
    page = errors_of(operator.post(f"/admin/clients/client/{acme.pk}/change/",
                                   client_form(name="", email="nope", account_identifier=acme.account_identifier)))
    assert "This field is required." in page
    acme.refresh_from_db()
    assert (acme.name, acme.email) == ("acme", "ops@acme.example")


@pytest.mark.parametrize("fields, message", [
    ({"address": "not-an-address"}, "address"),
    ({"chain": "solana", "address": "0OIl" * 8}, "address"),
    ({"chain": "doge"}, "Select a valid choice."),
    ({"client": "abc"}, "Select a valid choice."),
    ({"client": "99999999999999999999999"}, "Select a valid choice."),
    ({"client": ""}, "This field is required."),
])
def test_wallet_add_with_bad_values_writes_nothing(operator, fields, message):
    owner = ClientFactory()
    before = written()
    data = {"client": owner.pk, "chain": "evm", "address": EVM, "label": "", "key_added_by": "", **fields}
    page = errors_of(operator.post(WALLET_ADD, data))
    assert message in page
    assert written() == before


def test_wallet_add_of_a_known_address_writes_nothing(operator):
    WalletFactory(chain="evm", address=EVM)
    owner = ClientFactory()
    before = written()
    page = errors_of(operator.post(WALLET_ADD, {"client": owner.pk, "chain": "evm", "address": EVM}))
    assert "already exists" in page
    assert written() == before


def test_wallet_change_with_a_bad_address_changes_nothing(operator):
    wallet = WalletFactory(chain="evm", address=EVM, label="main")
    page = errors_of(operator.post(f"/admin/clients/wallet/{wallet.pk}/change/",
                                   {"chain": "evm", "address": "0xnothex", "label": "renamed"}))
    assert "address" in page
    wallet.refresh_from_db()
    assert (wallet.address, wallet.label) == (EVM, "main")


def test_client_add_goes_through_the_service_with_its_wallet_and_audit_rows(operator):
    response = operator.post(CLIENT_ADD, client_form(**wallet_forms({"chain": "evm", "address": EVM, "label": "main"})))
    assert response.status_code == 302, response.content.decode()[:2000]
    acme = Client.objects.get(name="acme")
    assert acme.account_identifier == "acct_form_1" and acme.wallets.get().address == EVM.lower()
    actions = set(AuditEvent.objects.filter(client=acme, actor="op").values_list("action", flat=True))
    assert {"client.create", "wallet.add"} <= actions
