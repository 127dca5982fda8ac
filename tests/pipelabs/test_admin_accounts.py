"""The account admin: options checked per venue, bad JSON a form error, secrets hidden from DEBUG
error pages, and the connection test run by a worker, never inside the request."""

import json
import re
import time

import pytest
from cryptography.fernet import Fernet
from django_q.models import OrmQ

from pipelabs.models import AuditEvent
from clients.services import create_operator
from exchanges.models import ExchangeAccount, ExchangeCredential
from exchanges.errors import ExchangeTimeout
from exchanges.services import TEST_QUEUED
from tests.factories import ClientFactory, ExchangeAccountFactory
from tests.fakes.bitmart import FakeBitmart
from tests.taskqueue import run_queued_tasks

API_KEY = "ak-admin-a1b2c3d4e5f6g7h8"
SECRET = "sk-admin-0f9e8d7c6b5a4f3e2d1c"
MEMO = "memo-admin-31337"
PASSPHRASE = "pass-admin-zz9plural"
CREDENTIAL_FORMS = {"credential-TOTAL_FORMS": "0", "credential-INITIAL_FORMS": "0",
                    "credential-MIN_NUM_FORMS": "0", "credential-MAX_NUM_FORMS": "0"}
ADD = "/admin/exchanges/exchangeaccount/add/"


@pytest.fixture(autouse=True)
def key(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


@pytest.fixture
def operator_client(client, db):
    user, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client


def account_form(client_row, **fields):
    return {"client": client_row.pk, "exchange": "bitmart", "name": "main", "api_key": "",
            "secret": "", "memo": "", "passphrase": "", **CREDENTIAL_FORMS, **fields}


def page_text(response) -> str:
    return response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")


# --- the venue's own fields, checked per venue -------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"api_url": "123"}, "api_url must be an http(s) URL with a host"),
    ({"api_url": "http://api.example.com"}, "api_url must be an https:// URL"),
    ({"exchange": "paper", "paper_markets": "SHARP/USDT price=abc"}, "paper.markets.SHARP/USDT.price: must be a number"),
    ({"exchange": "paper", "paper_markets": "SHARP/USDT pricee=1"}, "unknown option for a paper market"),
    ({"exchange": "paper", "paper_markets": "SHARP/USDT price"}, "Line 1: 'price' is not key=value"),
    ({"exchange": "paper", "paper_markets": "SHARPUSDT price=1"}, "is not BASE/QUOTE"),
    ({"exchange": "paper", "paper_balances": "USDT ten"}, "paper.balances.USDT: must be a number"),
    ({"exchange": "paper", "paper_balances": "USDT"}, "Line 1: write ASSET AMOUNT"),
    ({"exchange": "paper", "maker_fee": "2"}, "less than or equal to 1"),
    ({"exchange": "jupiter", "tokens": "USDC notamint 6"}, "is not a Solana mint address"),
    ({"exchange": "jupiter", "slippage_bps": "20000"}, "less than or equal to 10000"),
])
def test_bad_venue_fields_are_a_form_error_and_nothing_is_saved(operator_client, fields, message):
    client_row = ClientFactory()
    response = operator_client.post(ADD, account_form(client_row, api_key=API_KEY, secret=SECRET,
                                                      test_after_save="on", **fields))
    assert response.status_code == 200
    assert message in page_text(response)
    assert not ExchangeAccount.objects.exists() and not ExchangeCredential.objects.exists()
    assert not AuditEvent.objects.exists() and not OrmQ.objects.exists()


def test_unknown_exchange_id_is_refused(operator_client):
    response = operator_client.post(ADD, account_form(ClientFactory(), exchange="notavenue"))
    assert response.status_code == 200
    assert "Select a valid choice. notavenue is not one of the available choices." in page_text(response)
    assert not ExchangeAccount.objects.exists()


def test_venue_fields_save_through_the_service_with_an_audit_row(operator_client):
    client_row = ClientFactory()
    response = operator_client.post(ADD, account_form(client_row, exchange="binance",
                                                      api_url="https://api.binance.com"))
    assert response.status_code == 302, page_text(response)[:3000]
    account = ExchangeAccount.objects.get()
    assert response["Location"] == f"/admin/exchanges/exchangeaccount/{account.pk}/change/"
    assert account.options == {"api_url": "https://api.binance.com"}
    event = AuditEvent.objects.get(action="account_created")
    assert event.changes["options"] == ["api_url"] and "binance.com" not in json.dumps(event.changes)


def test_paper_markets_and_balances_are_lines_not_json(operator_client):
    client_row = ClientFactory()
    response = operator_client.post(ADD, account_form(
        client_row, exchange="paper", paper_markets="FOO/USDT price=2.5 amount_step=0.1 seed=7\n\n",
        paper_balances="USDT 500\nFOO 10", maker_fee="0.002"))
    assert response.status_code == 302, page_text(response)[:3000]
    account = ExchangeAccount.objects.get()
    assert account.options == {"paper": {"markets": {"FOO/USDT": {"price": "2.5", "amount_step": "0.1", "seed": 7}},
                                         "balances": {"USDT": "500", "FOO": "10"}, "fees": {"maker": "0.002"}}}
    page = page_text(operator_client.get(response["Location"]))
    assert "FOO/USDT price=2.5 amount_step=0.1 seed=7" in page and "USDT 500" in page
    # a paper account takes no key: no key field is drawn
    assert 'name="api_key"' not in page and 'name="options"' not in page


def test_add_page_asks_for_the_venue_first_and_the_venue_is_fixed_once_saved(operator_client):
    add = page_text(operator_client.get(ADD))
    assert 'name="exchange"' in add and 'name="api_key"' not in add and 'name="paper_markets"' not in add
    assert '<option value="coinstore">Coinstore</option>' in add and '<option value="kraken">kraken</option>' in add
    bitmart = page_text(operator_client.get(ADD + "?exchange=bitmart"))
    assert 'name="memo"' in bitmart and 'name="paper_markets"' not in bitmart
    coinstore = page_text(operator_client.get(ADD + "?exchange=coinstore"))
    assert 'name="api_key"' in coinstore and 'name="memo"' not in coinstore
    account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": "https://api-cloud.bitmart.com"})
    response = operator_client.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/", account_form(
        account.client, exchange="paper", name=account.name, api_url="https://api-cloud.bitmart.com"))
    assert response.status_code == 302, page_text(response)[:3000]
    account.refresh_from_db()
    assert account.exchange == "bitmart" and account.options == {"api_url": "https://api-cloud.bitmart.com"}


def test_a_viewer_sees_settings_by_host_only(client, db):
    _, password = create_operator("viewer", role="support")
    client.login(username="viewer", password=password)
    account = ExchangeAccountFactory(exchange="jupiter", options={"rpc_url": "https://rpc.example.com/k-secret-123"})
    page = page_text(client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/"))
    assert "rpc.example.com" in page and "k-secret-123" not in page


# --- bot config: one field per setting of the bot's type -------------------------------------------

def bot_add(account, **fields):
    return {"client": account.client.pk, "account": account.pk, "name": "mm", "bot_type": "spread",
            "symbol": "SHARP/USDT", **fields}


@pytest.mark.parametrize("field, value, message", [
    ("config__spread_bps", "abc", "Must be a number."),
    ("config__spread_bps", "NaN", "Must be a finite number."),
    ("config__spread_bps", "1e400", "Must be"),
    ("config__spread_bps", "-5", "Must be more than 0."),
    ("config__levels", "2.5", "Must be a whole number."),
    ("config__levels", "9" * 5000, "Ensure this value has at most 80 characters"),
    ("config__order_size_usd", "10000000000000", "Must be at most 1000000000."),
    ("config__spread_bps", "x\x00y", "Null characters are not allowed."),
    ("config__price_source", "moon", "Select a valid choice."),
])
def test_bad_bot_settings_are_errors_on_their_field_and_nothing_is_saved(operator_client, field, value, message):
    from bots.models import Bot

    response = operator_client.post("/admin/bots/bot/add/", bot_add(ExchangeAccountFactory(), **{field: value}))
    assert response.status_code == 200
    assert message in page_text(response)
    assert not Bot.objects.exists() and not AuditEvent.objects.exists()


def test_bot_settings_show_units_ranges_and_defaults_and_save_as_typed(operator_client):
    from bots.models import Bot

    account = ExchangeAccountFactory()
    page = page_text(operator_client.get("/admin/bots/bot/add/?bot_type=spread"))
    assert 'name="config__spread_bps"' in page and "basis points: 100 bps is 1 %" in page and "empty: 300" in page
    assert 'name="config"' not in page and 'name="config__daily_volume_usd"' not in page
    response = operator_client.post("/admin/bots/bot/add/", bot_add(account, config__spread_bps="40.5",
                                                                     config__levels="3", config__level_spacing_bps="5"))
    assert response.status_code == 302, page_text(response)[:3000]
    bot = Bot.objects.get()
    assert bot.config == {"spread_bps": "40.5", "levels": 3, "level_spacing_bps": "5"}
    page = page_text(operator_client.get(f"/admin/bots/bot/{bot.pk}/change/"))
    assert 'value="40.5"' in page and f"{Bot.Type.SPREAD.label} settings" in page


def test_a_config_change_takes_the_earlier_spelling_and_audits(operator_client):
    from bots.models import Bot
    from tests.factories import BotFactory

    bot = BotFactory(bot_type="spread", config={"order_size_usdt": "15", "spread_bps": "40"})
    page = page_text(operator_client.get(f"/admin/bots/bot/{bot.pk}/change/"))
    assert 'name="config__order_size_usd"' in page and 'value="15"' in page  # the earlier spelling, shown
    form = {"account": bot.account.pk, "name": bot.name, "bot_type": "spread", "symbol": bot.symbol,
            "config__spread_bps": "60", "config__order_size_usd": "15"}
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", form)
    assert response.status_code == 302, re.findall(r'errorlist[^>]*>(.*?)</ul>', page_text(response), re.S)
    bot.refresh_from_db()
    assert bot.config == {"spread_bps": "60", "order_size_usd": "15"}  # the earlier spelling, now the one key
    assert AuditEvent.objects.filter(action="bot.update", bot=bot).exists()


# --- connection test in the background -------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_admin_answers_at_once_with_a_hung_venue_and_the_worker_records_the_timeout(client, settings):
    settings.EXCHANGE_TIMEOUTS_S = {"fetch_balance": 0.5}
    user, password = create_operator("op")
    client.login(username="op", password=password)
    with FakeBitmart(API_KEY, SECRET, MEMO) as venue:
        venue.inject("hang", path="/spot/v1/wallet", times=None)
        started = time.monotonic()
        response = client.post(ADD, account_form(ClientFactory(), api_url=venue.url,
                                                 api_key=API_KEY, secret=SECRET, memo=MEMO, test_after_save="on"))
        elapsed = time.monotonic() - started
        assert response.status_code == 302, response.content.decode()[:3000]
        assert elapsed < 2, elapsed
        account = ExchangeAccount.objects.get()
        assert account.test_message == TEST_QUEUED and account.test_ok is None
        page = client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/").content.decode()
        assert TEST_QUEUED.replace("'", "&#x27;") in page

        assert run_queued_tasks() == 1
    account.refresh_from_db()
    assert account.test_ok is False and account.tested_at is not None
    assert account.test_message.startswith(ExchangeTimeout.__doc__), account.test_message
    page = client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/").content.decode()
    assert "Failed" in page and API_KEY not in page and SECRET not in page


@pytest.mark.django_db(transaction=True)
def test_test_connection_action_queues_and_the_worker_records_the_venues_answer(client):
    user, password = create_operator("op")
    client.login(username="op", password=password)
    with FakeBitmart(API_KEY, SECRET, MEMO) as venue:
        account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": venue.url})
        from exchanges.services import save_credentials

        save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO)
        response = client.post("/admin/exchanges/exchangeaccount/", {
            "action": "test_connection", "_selected_action": [account.pk]})
        assert response.status_code == 302
        assert not venue.requests_to("/spot/v1/wallet")  # the request did not ask the venue
        assert run_queued_tasks() == 1
        assert len(venue.requests_to("/spot/v1/wallet")) == 1
    account.refresh_from_db()
    assert account.test_ok is True and account.test_message.startswith("OK")


@pytest.mark.django_db(transaction=True)
def test_an_older_test_never_overwrites_a_newer_ones_answer():
    from exchanges.services import queue_connection_test, test_credentials

    account = ExchangeAccountFactory(exchange="paper")
    first = queue_connection_test(account)
    second = queue_connection_test(account)
    assert first != second
    test_credentials(account, queued_at=first)  # the stale one finishes late
    account.refresh_from_db()
    assert account.tested_at is None and account.test_message == TEST_QUEUED
    test_credentials(account, queued_at=second)
    account.refresh_from_db()
    assert account.test_ok is True


# --- secrets on DEBUG error pages -------------------------------------------------------------------

def test_debug_500_in_the_account_save_path_shows_no_secret(client, db, settings, monkeypatch):
    settings.DEBUG = True
    user, password = create_operator("op")
    client.login(username="op", password=password)
    account = ExchangeAccountFactory(exchange="bitmart")
    from exchanges.services import save_credentials

    save_credentials(account, api_key="ak-old-stored-key-1234", secret="sk-old-stored-secret-99",
                     passphrase="pp-old-stored-pass-77")
    real_create = type(AuditEvent.objects).create

    def failing_create(manager, **fields):
        # Breaks after the stored key was decrypted and the new one encrypted, deep in the save path.
        if fields.get("action") == "credentials_replaced":
            from exchanges.registry import credentials_for

            decrypted = credentials_for(account)  # noqa: F841  the new key, decrypted, on the stack
            raise RuntimeError("disk full")
        return real_create(manager, **fields)

    monkeypatch.setattr(type(AuditEvent.objects), "create", failing_create)
    client.raise_request_exception = False
    response = client.post(f"/admin/exchanges/exchangeaccount/{account.pk}/change/", account_form(
        account.client, name=account.name, api_key=API_KEY, secret=SECRET, memo=MEMO, passphrase=PASSPHRASE),
        HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "disk full" in page and "RuntimeError" in page and "save_credentials" in page  # the technical page
    for value in (API_KEY, SECRET, MEMO, PASSPHRASE, "ak-old-stored-key-1234", "sk-old-stored-secret-99",
                  "pp-old-stored-pass-77"):
        assert value not in page, value
