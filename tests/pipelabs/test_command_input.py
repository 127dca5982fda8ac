"""Maintenance commands refuse bad arguments with a clear CommandError (exit 1) and write nothing."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from pipelabs.models import AuditEvent
from clients.models import Client
from ledger.models import BalanceRefresh
from tests.factories import BotFactory, ExchangeAccountFactory

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("deadline", ["inf", "1e300", "nan", "-1", "0", "abc", "86401"])
def test_refresh_balances_refuses_a_deadline_that_is_not_a_sane_number_of_seconds(deadline):
    BotFactory()
    with pytest.raises(CommandError, match="--deadline"):
        run("refresh_balances", "--deadline", deadline)
    assert not BalanceRefresh.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("account", ["999", "99999999999999999999999", "-1", "x"])
def test_refresh_balances_says_an_account_does_not_exist(account):
    real = BotFactory().account
    with pytest.raises(CommandError, match="account"):
        run("refresh_balances", "--account", str(real.pk), "--account", account)
    assert not BalanceRefresh.objects.exists()  # nothing refreshed, not even the real one


@pytest.mark.django_db(transaction=True)
def test_refresh_balances_of_an_existing_account_still_works():
    account = BotFactory().account
    out = io.StringIO()
    call_command("refresh_balances", "--account", str(account.pk), "--deadline", "10", stdout=out)
    assert "refreshed 1 account(s)" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["99999999999999999999999", "0", "-5", "100001"])
def test_rotate_keys_refuses_an_absurd_batch_size(size):
    with pytest.raises(CommandError, match="--batch-size"):
        run("rotate_keys", "--batch-size", size)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["", "   ", "bad name!", "x" * 151])
def test_setup_demo_refuses_a_bad_username_and_creates_nothing(username):
    with pytest.raises(CommandError, match="username"):
        run("setup_demo", "--username", username)
    assert not get_user_model().objects.exists() and not Client.objects.exists()


def test_bad_arguments_exit_non_zero_without_a_traceback(subprocess_env):
    for args in (["refresh_balances", "--deadline", "inf"], ["refresh_balances", "--account", "999"],
                 ["setup_demo", "--username", ""]):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=subprocess_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and ("--deadline" in done.stderr or "username" in done.stderr
                                                   or "No exchange account with id 999" in done.stderr), done.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("account", ["99999999999999999999999", "-3", "abc", "999"])
def test_check_exchange_says_an_account_does_not_exist(account):
    with pytest.raises(CommandError, match="No exchange account"):
        run("check_exchange", account)


@pytest.mark.django_db
def test_check_exchange_names_bad_stored_options():
    account = ExchangeAccountFactory(exchange="coinstore")
    type(account).objects.filter(pk=account.pk).update(options=["x"])
    with pytest.raises(CommandError, match="invalid_options"):
        run("check_exchange", str(account.pk))
