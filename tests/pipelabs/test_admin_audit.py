"""Every change the admin makes to wallets, keys, accounts and clients goes through their services
and leaves an audit row, secrets masked; a wallet never moves to another client."""
import json

import pytest
from cryptography.fernet import Fernet

from clients.models import Client, Wallet
from clients.services import create_operator
from exchanges.models import ExchangeAccount, ExchangeCredential
from exchanges.services import save_credentials
from pipelabs.models import AuditEvent
from tests.factories import BotFactory, ClientFactory, ExchangeAccountFactory, WalletFactory

pytestmark = pytest.mark.django_db
EVM = "0x" + "ab" * 20
OTHER_EVM = "0x" + "cd" * 20
API_KEY, SECRET, MEMO = "ak-audit-55aa66bb77cc", "sk-audit-secret-0099887766", "memo-audit-4242"


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator(client):
    user, _ = create_operator("op")
    client.force_login(user)
    return client


def events(action):
    return list(AuditEvent.objects.filter(action=action).values("actor", "client_id", "changes"))


def trail() -> str:
    return json.dumps(list(AuditEvent.objects.values("target", "changes", "reason")), default=str)


def wallet_rows(*rows, initial=0):
    data = {"wallets-TOTAL_FORMS": str(len(rows)), "wallets-INITIAL_FORMS": str(initial),
            "wallets-MIN_NUM_FORMS": "0", "wallets-MAX_NUM_FORMS": "1000"}
    for n, row in enumerate(rows):
        data.update({f"wallets-{n}-{key}": value for key, value in row.items()})
    return data


def client_page(owner, **fields):
    shown = {f"{prefix}-{name}": "0" for prefix in ("exchange_accounts", "bots")
             for name in ("TOTAL_FORMS", "INITIAL_FORMS")}  # the page's read-only rows, as the browser posts them
    return {"name": owner.name, "email": owner.email, "role": owner.role, "management_mode": owner.management_mode,
            "is_active": "on", **wallet_rows(), **shown, **fields}


def test_wallet_admin_add_edit_delete_each_write_an_audit_row(operator):
    owner = ClientFactory()
    response = operator.post("/admin/clients/wallet/add/", {"client": owner.pk, "chain": "evm", "address": EVM,
                                                             "label": "treasury"})
    assert response.status_code == 302
    wallet = Wallet.objects.get(address=EVM)
    assert events("wallet.add") == [{"actor": "op", "client_id": owner.pk,
                                     "changes": {"address": EVM, "chain": "evm", "label": "treasury"}}]
    operator.post(f"/admin/clients/wallet/{wallet.pk}/change/", {"chain": "evm", "address": EVM, "label": "ops"})
    assert events("wallet.update")[0]["changes"]["old"]["label"] == "treasury"
    assert events("wallet.update")[0]["changes"]["new"]["label"] == "ops"
    assert operator.post(f"/admin/clients/wallet/{wallet.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Wallet.objects.filter(pk=wallet.pk).exists()
    assert events("wallet.delete") == [{"actor": "op", "client_id": owner.pk, "changes": {"address": EVM}}]


def test_client_page_wallet_rows_go_through_the_services(operator):
    owner = ClientFactory()
    kept = WalletFactory(client=owner, address=OTHER_EVM, label="old")
    gone = WalletFactory(client=owner)
    rows = wallet_rows(
        {"id": kept.pk, "client": owner.pk, "chain": "evm", "address": OTHER_EVM, "label": "renamed"},
        {"id": gone.pk, "client": owner.pk, "chain": gone.chain, "address": gone.address, "label": "",
         "DELETE": "on"},
        {"client": owner.pk, "chain": "evm", "address": EVM, "label": "new"},
        initial=2)
    response = operator.post(f"/admin/clients/client/{owner.pk}/change/", client_page(owner, **rows))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(Wallet.objects.filter(client=owner).values_list("address", "label")) == [
        (EVM, "new"), (OTHER_EVM, "renamed")]
    assert [e["changes"]["address"] for e in events("wallet.add")] == [EVM]
    assert [e["changes"]["new"]["label"] for e in events("wallet.update")] == ["renamed"]
    assert [e["changes"]["address"] for e in events("wallet.delete")] == [gone.address]
    assert {e["actor"] for e in events("wallet.add") + events("wallet.update") + events("wallet.delete")} == {"op"}


def test_a_wallet_cannot_be_moved_to_another_client_from_either_page(operator):
    wallet = WalletFactory(address=EVM)
    other = ClientFactory()
    operator.post(f"/admin/clients/wallet/{wallet.pk}/change/",
                  {"client": other.pk, "chain": "evm", "address": EVM, "label": "moved"})
    # Nor by claiming it as a row of the other client's page.
    response = operator.post(f"/admin/clients/client/{other.pk}/change/", client_page(other, **wallet_rows(
        {"id": wallet.pk, "client": other.pk, "chain": "evm", "address": EVM, "label": "mine now"}, initial=1)))
    assert response.status_code == 200  # the form again, with the row refused
    wallet.refresh_from_db()
    assert wallet.client_id != other.pk and wallet.label == "moved"
    assert not AuditEvent.objects.filter(client_id=other.pk).exists()


def test_a_wallet_an_account_signs_with_is_not_deleted_and_nothing_is_audited(operator):
    wallet = WalletFactory()
    ExchangeAccountFactory(client=wallet.client, exchange="jupiter", wallet=wallet)
    operator.post(f"/admin/clients/wallet/{wallet.pk}/delete/", {"post": "yes"})
    owner = wallet.client
    rows = wallet_rows({"id": wallet.pk, "client": owner.pk, "chain": wallet.chain, "address": wallet.address,
                        "label": "", "DELETE": "on"}, initial=1)
    operator.post(f"/admin/clients/client/{owner.pk}/change/", client_page(owner, **rows))
    assert Wallet.objects.filter(pk=wallet.pk).exists() and not events("wallet.delete")


def test_a_key_entered_and_removed_in_the_admin_is_audited_with_only_its_last_four(operator):
    account = ExchangeAccountFactory(exchange="bitmart", name="main")
    credential_rows = {"credential-TOTAL_FORMS": "0", "credential-INITIAL_FORMS": "0",
                       "credential-MIN_NUM_FORMS": "0", "credential-MAX_NUM_FORMS": "0"}
    form = {"client": account.client_id, "name": "main", "api_url": "", **credential_rows}
    response = operator.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/",
                             {**form, "api_key": API_KEY, "secret": SECRET, "memo": MEMO})
    assert response.status_code == 302
    assert events("credentials_saved")[0]["changes"] == {"key_hint": {"old": None, "new": "77cc"}}
    credential = ExchangeCredential.objects.get(account=account)
    response = operator.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/", {
        **form, "credential-TOTAL_FORMS": "1", "credential-INITIAL_FORMS": "1",
        "credential-0-id": credential.pk, "credential-0-account": account.pk, "credential-0-DELETE": "on"})
    assert response.status_code == 302
    assert not ExchangeCredential.objects.filter(account=account).exists()
    assert events("credentials_deleted") == [{"actor": "op", "client_id": account.client_id,
                                              "changes": {"key_hint": {"old": "77cc", "new": None}}}]
    for secret in (API_KEY, SECRET, MEMO):
        assert secret not in trail()


def test_deleting_an_account_in_the_admin_is_audited_and_refused_while_bots_use_it(operator):
    account = ExchangeAccountFactory(exchange="bitmart", name="main")
    save_credentials(account, api_key=API_KEY, secret=SECRET, actor="setup")
    bot = BotFactory(client=account.client, account=account)
    response = operator.post(f"/admin/exchanges/exchangeaccount/{account.pk}/delete/", {"post": "yes"}, follow=True)
    assert ExchangeAccount.objects.filter(pk=account.pk).exists() and not events("account_deleted")
    assert response.status_code == 200
    bot.delete()
    operator.post(f"/admin/exchanges/exchangeaccount/{account.pk}/delete/", {"post": "yes"})
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()
    assert events("account_deleted")[0]["changes"] == {"exchange": "bitmart", "name": "main", "key_hint": "77cc"}
    assert API_KEY not in trail() and SECRET not in trail()


def test_client_edits_and_deletion_in_the_admin_are_audited(operator):
    owner = ClientFactory(name="acme")
    operator.post(f"/admin/clients/client/{owner.pk}/change/", client_page(owner, name="Acme Ltd",
                                                                            account_identifier="acct_hijack"))
    owner.refresh_from_db()
    assert owner.name == "Acme Ltd" and owner.account_identifier != "acct_hijack"
    assert events("client.update")[0]["changes"] == {"name": ["acme", "Acme Ltd"]}
    WalletFactory(client=owner)
    operator.post(f"/admin/clients/client/{owner.pk}/delete/", {"post": "yes"})
    assert not Client.objects.filter(pk=owner.pk).exists() and events("client.delete")
