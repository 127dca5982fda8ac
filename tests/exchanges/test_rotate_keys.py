"""Rotating ENCRYPTION_KEYS: every secret is re-encrypted under the new key, so the old key can go."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from clients.models import Wallet
from exchanges import crypto
from exchanges.models import ExchangeCredential
from exchanges.registry import credentials_for
from exchanges.services import rotate_keys, save_credentials
from tests.factories import ExchangeAccountFactory, WalletFactory

pytestmark = pytest.mark.django_db
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PRIVATE_KEY = "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi"


@pytest.fixture
def stored(settings):
    """Three credentials and a wallet key written under OLD."""
    settings.ENCRYPTION_KEYS = [OLD]
    accounts = [ExchangeAccountFactory(exchange="bitmart") for _ in range(3)]
    for n, account in enumerate(accounts):
        save_credentials(account, api_key=f"api-key-number-{n}", secret=f"secret-number-{n}", memo=f"memo-{n}")
    wallet = WalletFactory(private_key_encrypted=crypto.encrypt(PRIVATE_KEY))
    WalletFactory()  # a watch-only wallet: nothing to rotate
    return accounts, wallet


def test_rotation_lets_the_old_key_be_removed(settings, stored):
    accounts, wallet = stored
    settings.ENCRYPTION_KEYS = [NEW, OLD]

    counts = rotate_keys(batch_size=2)

    assert (counts["credentials"], counts["wallets"], counts["failed"]) == (3, 1, 0)
    settings.ENCRYPTION_KEYS = [NEW]
    for n, account in enumerate(accounts):
        credentials = credentials_for(account)
        assert (credentials.api_key, credentials.secret, credentials.memo) == (
            f"api-key-number-{n}", f"secret-number-{n}", f"memo-{n}",
        )
    assert crypto.decrypt(Wallet.objects.get(pk=wallet.pk).private_key_encrypted) == PRIVATE_KEY


def test_dry_run_checks_but_writes_nothing(settings, stored):
    before = list(ExchangeCredential.objects.values_list("secret_encrypted", flat=True))
    settings.ENCRYPTION_KEYS = [NEW, OLD]

    counts = rotate_keys(dry_run=True)

    assert counts["credentials"] == 3
    assert list(ExchangeCredential.objects.values_list("secret_encrypted", flat=True)) == before
    settings.ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(before[0])


def test_command_reports_progress_and_counts(settings, stored):
    settings.ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()

    call_command("rotate_keys", "--batch-size", "2", stdout=out)

    text = out.getvalue()
    assert "credentials: 2 done" in text and "credentials: 3 done" in text
    assert "3 credentials and 1 wallet keys re-encrypted." in text


def test_rows_no_key_can_read_are_left_and_reported(settings, stored):
    accounts, _ = stored
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    save_credentials(ExchangeAccountFactory(exchange="bitmart"), api_key="lost-key-abcdef", secret="lost-secret")
    lost = ExchangeCredential.objects.latest("id")
    settings.ENCRYPTION_KEYS = [NEW, OLD]

    with pytest.raises(CommandError) as caught:
        call_command("rotate_keys", stdout=io.StringIO())

    assert f"credentials:{lost.pk}" in str(caught.value)
    assert "lost-secret" not in str(caught.value)
    settings.ENCRYPTION_KEYS = [NEW]
    assert credentials_for(accounts[0]).secret == "secret-number-0"


def test_command_help_explains_the_procedure(capsys):
    with pytest.raises(SystemExit):
        call_command("rotate_keys", "--help")

    help_text = capsys.readouterr().out
    assert "--dry-run" in help_text and "ENCRYPTION_KEYS" in help_text


def test_rotation_is_audited_with_counts(settings, stored):
    from pipelabs.models import AuditEvent

    settings.ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_keys", stdout=io.StringIO())

    event = AuditEvent.objects.get(action="keys_rotated")
    assert event.actor == "manage.py rotate_keys"
    assert event.changes == {"credentials": 3, "wallets": 1, "failed": 0}


def test_a_malformed_key_is_a_readable_command_error(settings, stored):
    settings.ENCRYPTION_KEYS = ["not-a-fernet-key", OLD]

    with pytest.raises(CommandError, match="not a Fernet key"):
        call_command("rotate_keys", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_key_replaced_during_rotation_is_not_overwritten(settings, monkeypatch):
    from exchanges.registry import credentials_for

    settings.ENCRYPTION_KEYS = [OLD]
    account = ExchangeAccountFactory(exchange="coinstore")
    save_credentials(account, api_key="OLD-key-111111", secret="OLD-secret-111111")
    settings.ENCRYPTION_KEYS = [NEW, OLD]
    real_rotate, replaced = crypto.rotate, []

    def rotate_while_an_operator_saves(token):
        if not replaced:  # the operator's save lands between rotate_keys' read and its write
            replaced.append(True)
            save_credentials(account, api_key="NEW-key-222222", secret="NEW-secret-222222")
        return real_rotate(token)

    monkeypatch.setattr(crypto, "rotate", rotate_while_an_operator_saves)
    rotate_keys()
    assert credentials_for(account).api_key == "NEW-key-222222"
