import io

import pytest
from django.core.management import CommandError, call_command

from ledger.models import BalanceRefresh, BalanceSnapshot
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the paper venue writes from the fetch threads
def test_refresh_balances_command_stores_paper_snapshots():
    bot = BotFactory(account=ExchangeAccountFactory(exchange="paper"))
    out = io.StringIO()
    call_command("refresh_balances", stdout=out)
    assert "refreshed 1 account(s)" in out.getvalue()
    assert BalanceSnapshot.objects.filter(account=bot.account, asset="USDT").exists()
    assert BalanceRefresh.objects.get(account=bot.account).is_stale is False


def test_refresh_balances_command_reports_failures_readably():
    account = ExchangeAccountFactory(exchange="bitmart")  # no credentials stored
    BotFactory(account=account, client=account.client)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 account"):
        call_command("refresh_balances", stderr=err)
    assert f"account {account.pk}:" in err.getvalue()
    assert BalanceRefresh.objects.get(account=account).is_stale is True


def test_refresh_balances_command_rejects_a_bad_deadline():
    with pytest.raises(CommandError, match="positive"):
        call_command("refresh_balances", "--deadline", "0")
