"""One account whose options or connector are broken is that account's failure, never the batch's."""

import pytest
from cryptography.fernet import Fernet
from django_q.models import Task
from django_q.tasks import async_task

from exchanges.services import fetch_balances, save_credentials
from ledger.models import BalanceRefresh, BalanceSnapshot
from ledger.services import refresh_balances
from tests.taskqueue import run_queued_tasks
from tests.factories import BotFactory, ExchangeAccountFactory

API_KEY = "ak-isolation-5b1d0c9e8f7a"
SECRET = "sk-isolation-1a2b3c4d5e6f7a8b"
# Stored by an older admin (or by hand in the database) before options were validated on save.
MALFORMED_OPTIONS = [["api_url"], "https://example.com", {"api_url": 123}, {"paper": "big"}]


@pytest.fixture(autouse=True)
def key(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


def malformed_accounts():
    accounts = []
    for n, options in enumerate(MALFORMED_OPTIONS):
        exchange = "paper" if isinstance(options, dict) and "paper" in options else "bitmart"
        account = ExchangeAccountFactory(exchange=exchange, name=f"bad-{n}")
        # Written past the service, the way such rows came to exist.
        type(account).objects.filter(pk=account.pk).update(options=options)
        if exchange != "paper":
            save_credentials(account, api_key=API_KEY, secret=SECRET)
        accounts.append(BotFactory(client=account.client, account=account).account)
    return accounts


@pytest.mark.django_db(transaction=True)
def test_refresh_stores_the_healthy_accounts_and_marks_each_malformed_one_stale():
    healthy = [BotFactory(account=ExchangeAccountFactory(exchange="paper")).account for _ in range(2)]
    bad = malformed_accounts()

    result = refresh_balances()

    assert sorted(result.refreshed) == sorted(a.pk for a in healthy)
    assert sorted(result.failed) == sorted(a.pk for a in bad)
    for account in healthy:
        assert BalanceSnapshot.objects.filter(account=account, asset="USDT").exists()
        assert BalanceRefresh.objects.get(account=account).is_stale is False
    for account in bad:
        refresh = BalanceRefresh.objects.get(account=account)
        assert refresh.is_stale is True
        assert "options" in refresh.last_error, refresh.last_error
        for secret in (API_KEY, SECRET):
            assert secret not in refresh.last_error


@pytest.mark.django_db(transaction=True)
def test_scheduled_task_refreshes_the_healthy_accounts_and_names_the_bad_ones():
    healthy = BotFactory(account=ExchangeAccountFactory(exchange="paper")).account
    bad = malformed_accounts()

    async_task("ledger.tasks.refresh_balances_task")
    assert run_queued_tasks() == 1  # through django-q2's own worker, as the schedule runs it

    task = Task.objects.get()
    assert task.success is False  # recorded as failed, naming the bad accounts
    assert all(str(a.pk) in task.result for a in bad) and "AttributeError" not in task.result
    assert BalanceRefresh.objects.get(account=healthy).is_stale is False
    assert BalanceSnapshot.objects.filter(account=healthy).exists()
    assert BalanceRefresh.objects.filter(account__in=bad, is_stale=True).count() == len(bad)


@pytest.mark.django_db(transaction=True)
def test_a_connector_factory_that_crashes_fails_only_its_account():
    good, broken = ExchangeAccountFactory(exchange="paper"), ExchangeAccountFactory(exchange="paper")
    from exchanges.registry import connector_for

    def factory(account):
        if account.pk == broken.pk:
            raise KeyError(f"secret {SECRET}")  # a bug whose message holds a secret
        return connector_for(account)

    answers = fetch_balances([good, broken], connector_factory=factory)

    assert isinstance(answers[good.pk], list)
    assert answers[broken.pk].code == "connector_failed"
    assert SECRET not in str(answers[broken.pk]) and SECRET not in repr(answers[broken.pk].fields)
