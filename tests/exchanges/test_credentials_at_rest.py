"""API credentials are encrypted at rest, tested after commit, and never leak into logs,
dumps or exception messages."""

import io
import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, transaction
from django_q.models import OrmQ, Task

from pipelabs.models import AuditEvent
from exchanges.errors import AuthenticationFailed, ExchangeError
from exchanges.models import ExchangeCredential
from exchanges.registry import NO_CREDENTIALS, UNREADABLE, connector_for, credentials_for
from exchanges import services
from exchanges.services import save_credentials
from pipelabs.logging import ContextFilter, PipelabsJsonFormatter, ScrubFilter
from tests.factories import ExchangeAccountFactory
from tests.fakes.bitmart import FakeBitmart
from tests.taskqueue import run_queued_tasks

pytestmark = pytest.mark.django_db
API_KEY = "ak-live-7f3c9e21b04d4a5f"
SECRET = "sk-live-0d9b8c7a6f5e4d3c2b1a"
MEMO = "memo-launchpad-42"
PASSPHRASE = "pp-debug-page-42"


@pytest.fixture
def key(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings.ENCRYPTION_KEYS[0]


@pytest.fixture
def all_logs(caplog):
    """Everything logged, both as caplog records and as the JSON lines production writes."""
    stream = io.StringIO()
    json_handler = logging.StreamHandler(stream)
    json_handler.setFormatter(PipelabsJsonFormatter("%(message)s"))
    json_handler.addFilter(ContextFilter())
    json_handler.addFilter(ScrubFilter())
    loggers = [logging.getLogger(name) for name in ("", "exchanges", "bots", "pipelabs")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(caplog.handler)
        lg.addHandler(json_handler)
        lg.setLevel(logging.DEBUG)
    yield lambda: caplog.text + "\n".join(r.getMessage() for r in caplog.records) + stream.getvalue()
    for lg, level in saved:
        lg.removeHandler(caplog.handler)
        lg.removeHandler(json_handler)
        lg.setLevel(level)


def raw_credential_row(account_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM exchanges_exchangecredential WHERE account_id = %s", [account_id])
        return " ".join(str(value) for value in cursor.fetchone())


def test_saved_credentials_are_encrypted_in_the_database_row(key):
    account = ExchangeAccountFactory(exchange="bitmart")

    credential = save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO)

    row = raw_credential_row(account.pk)
    for plaintext in (API_KEY, SECRET, MEMO):
        assert plaintext not in row
    assert credential.key_hint == API_KEY[-4:]
    assert credentials_for(account).secret == SECRET
    assert credentials_for(account).memo == MEMO


def test_dumpdata_never_contains_a_secret(key):
    account = ExchangeAccountFactory(exchange="bitmart")
    save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO)
    out = io.StringIO()

    call_command("dumpdata", "exchanges", "bots", stdout=out)

    dump = out.getvalue()
    assert "exchanges.exchangecredential" in dump
    for plaintext in (API_KEY, SECRET, MEMO):
        assert plaintext not in dump


def test_saving_is_audited_with_the_hint_only(key):
    account = ExchangeAccountFactory(exchange="bitmart")
    save_credentials(account, api_key=API_KEY, secret=SECRET, actor="ops@pipelabs")
    save_credentials(account, api_key="ak-second-key-0000aaaa", secret=SECRET, actor="ops@pipelabs")

    events = list(AuditEvent.objects.filter(client=account.client).order_by("id"))

    assert [e.action for e in events] == ["credentials_saved", "credentials_replaced"]
    assert events[1].changes == {"key_hint": {"old": API_KEY[-4:], "new": "aaaa"}}
    assert SECRET not in json.dumps([e.changes for e in events])
    assert ExchangeCredential.objects.filter(account=account).count() == 1


@pytest.mark.django_db(transaction=True)
def test_save_with_test_queues_a_worker_test_after_commit(key):
    account = ExchangeAccountFactory(exchange="paper")

    with transaction.atomic():
        save_credentials(account, api_key=API_KEY, secret=SECRET, test=True)
        assert not OrmQ.objects.exists()  # nothing queued before the commit
    account.refresh_from_db()
    assert account.tested_at is None and account.test_message == services.TEST_QUEUED
    assert OrmQ.objects.count() == 1

    assert run_queued_tasks() == 1

    account.refresh_from_db()
    assert account.test_ok is True and account.tested_at is not None
    assert account.test_message.startswith("OK")
    assert Task.objects.get().success is True


def test_failed_test_records_the_exchanges_own_answer(key):
    account = ExchangeAccountFactory(exchange="paper", options={"paper": {"markets": {"NOSLASH": {}}}})
    save_credentials(account, api_key=API_KEY, secret=SECRET)

    ok, message = services.test_credentials(account)

    assert ok is False
    assert "NOSLASH" in message and "not BASE/QUOTE" in message
    account.refresh_from_db()
    assert account.test_message == message


def test_missing_credentials_are_a_readable_authentication_error():
    account = ExchangeAccountFactory(exchange="bitmart")

    with pytest.raises(AuthenticationFailed) as caught:
        connector_for(account)

    assert caught.value.message == NO_CREDENTIALS


def test_credentials_under_an_unknown_key_are_a_readable_error_without_the_token(settings, key):
    account = ExchangeAccountFactory(exchange="bitmart")
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    token = ExchangeCredential.objects.get(account=account).secret_encrypted
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(AuthenticationFailed) as caught:
        connector_for(account)

    assert caught.value.message == UNREADABLE
    assert token not in str(caught.value) and SECRET not in repr(caught.value)


def test_secrets_never_reach_logs_or_error_messages(key, all_logs):
    with FakeBitmart(API_KEY, SECRET, MEMO) as venue:
        # BitMart refuses the key and quotes it back in its answer.
        venue.reject("/spot/v1/wallet", 30002, "Header X-BM-KEY {api_key} not found", http_status=401, times=None)
        account = ExchangeAccountFactory(exchange="bitmart", options={"api_url": venue.url})
        save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO)
        credentials = credentials_for(account)
        logging.getLogger("exchanges.test").warning("venue answered: %s", f"bad signature for {SECRET}")
        ok, message = services.test_credentials(account)
        call_command("rotate_keys", stdout=io.StringIO())
        errors = []
        try:
            connector_for(account).fetch_balance()
        except ExchangeError as exc:
            errors.append(f"{exc} {exc!r} {exc.fields}")
        signed = venue.requests_to("/spot/v1/wallet")

    assert len(signed) == 2 and all(r.headers.get("X-BM-KEY") == API_KEY for r in signed)  # the key went out
    assert ok is False and "X-BM-KEY" in message and "not found" in message  # the venue's words came back
    assert errors and "X-BM-KEY" in errors[0] and "***" in errors[0]
    logged = all_logs()
    assert "venue answered" in logged
    json_lines = logged.split("\n")
    assert any("venue answered: bad signature for ***" in line for line in json_lines)  # the JSON handler masks
    text = "\n".join(line for line in json_lines if "venue answered" not in line)  # our own lines, unmasked
    for plaintext in (API_KEY, SECRET, MEMO):
        assert plaintext not in text
        assert plaintext not in message
        assert plaintext not in " ".join(errors)
        assert plaintext not in repr(credentials)


def test_debug_error_report_hides_values_decrypted_below_the_registry(key, settings, monkeypatch):
    """A crash while a connector is built, reported with DEBUG on, shows none of the decrypted values."""
    import sys

    from django.views.debug import ExceptionReporter

    from exchanges import registry

    settings.DEBUG = True
    account = ExchangeAccountFactory(exchange="bitmart")
    save_credentials(account, api_key=API_KEY, secret=SECRET, memo=MEMO, passphrase=PASSPHRASE)

    def broken_credentials(**decrypted):
        raise RuntimeError("connector build broke")

    monkeypatch.setattr(registry, "Credentials", broken_credentials)
    try:
        connector_for(account)
    except RuntimeError:
        page = ExceptionReporter(None, *sys.exc_info()).get_traceback_html()
    assert "connector build broke" in page and "credentials_for" in page
    for plaintext in (API_KEY, SECRET, MEMO, PASSPHRASE):
        assert plaintext not in page


def test_credentials_are_stripped_and_both_parts_required(key):
    from django.core.exceptions import ValidationError

    account = ExchangeAccountFactory(exchange="bitmart")
    with pytest.raises(ValidationError):
        save_credentials(account, api_key="  ", secret=SECRET)
    assert not ExchangeCredential.objects.filter(account=account).exists()

    save_credentials(account, api_key=f" {API_KEY}\n", secret=f"{SECRET} ")

    assert (credentials_for(account).api_key, credentials_for(account).secret) == (API_KEY, SECRET)
