"""Balance snapshots: a new row only when an amount changed, a heartbeat otherwise; pruning by age."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from exchanges.models import PaperBalance
from ledger.models import BalanceRefresh, BalanceSnapshot, PriceHistory
from ledger.selectors import balances_for_bot
from ledger.services import refresh_balances
from ledger.services.snapshots import prune
from pipelabs.schedules import SCHEDULES
from tests.factories import BotFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.mark.django_db(transaction=True)  # the refresh reads from worker threads
def test_an_unchanged_balance_moves_the_heartbeat_instead_of_adding_rows():
    bot = BotFactory(symbol="SHARP/USDT")
    refresh_balances([bot.account_id])
    first = BalanceSnapshot.objects.count()
    taken_at = BalanceSnapshot.objects.first().taken_at
    for _ in range(3):
        refresh_balances([bot.account_id])
    assert BalanceSnapshot.objects.count() == first  # the same amounts: no new set
    refresh = BalanceRefresh.objects.get(account=bot.account)
    assert set(BalanceSnapshot.objects.values_list("confirmed_at", flat=True)) == {refresh.last_success_at}
    assert refresh.last_success_at > taken_at
    balances = balances_for_bot(bot)
    assert balances["taken_at"] == refresh.last_success_at and balances["changed_at"] == taken_at
    assert balances["is_stale"] is False


@pytest.mark.django_db(transaction=True)
def test_a_changed_amount_writes_a_new_set_and_readers_show_it():
    bot = BotFactory(symbol="SHARP/USDT")
    refresh_balances([bot.account_id])
    first = BalanceSnapshot.objects.count()
    PaperBalance.objects.filter(account=bot.account, asset="USDT").update(available=D("1234.5"))
    refresh_balances([bot.account_id])
    assert BalanceSnapshot.objects.count() == 2 * first
    usdt = next(a for a in balances_for_bot(bot)["assets"] if a["asset"] == "USDT")
    assert usdt["available"] == D("1234.5")
    refresh_balances([bot.account_id])
    assert BalanceSnapshot.objects.count() == 2 * first


def _snapshot(account, asset, total, at):
    return BalanceSnapshot.objects.create(account=account, asset=asset, available=total, locked=0, total=total,
                                          taken_at=at, confirmed_at=at)


def test_prune_deletes_old_rows_but_never_the_latest_of_an_account_and_asset(settings):
    settings.PRUNE_AFTER_DAYS = 30
    bot = BotFactory(symbol="SHARP/USDT")
    now = timezone.now()
    old = now - timedelta(days=40)
    _snapshot(bot.account, "USDT", 1, old)
    _snapshot(bot.account, "USDT", 2, old + timedelta(minutes=1))
    kept_recent = _snapshot(bot.account, "USDT", 3, now - timedelta(days=1))
    gone_asset = _snapshot(bot.account, "FOO", 5, old)  # no newer FOO row: the latest stays
    PriceHistory.objects.create(exchange="x", symbol="A/B", price=1, source="mid", taken_at=old)
    latest_price = PriceHistory.objects.create(exchange="x", symbol="A/B", price=2, source="mid", taken_at=old + timedelta(hours=1))
    result = prune(now=now)
    assert (result.balance_snapshots, result.price_history) == (2, 1)
    assert set(BalanceSnapshot.objects.values_list("pk", flat=True)) == {kept_recent.pk, gone_asset.pk}
    assert list(PriceHistory.objects.values_list("pk", flat=True)) == [latest_price.pk]
    assert prune(now=now).balance_snapshots == 0  # safe to run twice


def test_prune_command_validates_its_input_and_reports(capsys):
    bot = BotFactory(symbol="SHARP/USDT")
    old = timezone.now() - timedelta(days=10)
    _snapshot(bot.account, "USDT", 1, old)
    _snapshot(bot.account, "USDT", 2, old + timedelta(minutes=1))
    for bad in ("0", "-3", "abc", "1e9", "99999999999999999999", "nan", ""):
        with pytest.raises(CommandError, match="whole number of days"):
            call_command("prune", "--days", bad)
    call_command("prune", "--days", "5")
    assert "pruned 1 balance snapshot(s) and 0 price(s)" in capsys.readouterr().out
    assert BalanceSnapshot.objects.count() == 1


def test_prune_runs_on_a_schedule():
    assert any(spec.func == "ledger.tasks.prune_task" for spec in SCHEDULES)
    from ledger.tasks import prune_task

    assert prune_task() == {"balance_snapshots": 0, "price_history": 0}


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_of_one_account_at_once_write_one_new_set():
    import threading

    from django.db import connection

    bot = BotFactory(symbol="SHARP/USDT")
    refresh_balances([bot.account_id])
    per_set = BalanceSnapshot.objects.count()
    PaperBalance.objects.filter(account=bot.account, asset="USDT").update(available=D("777"))
    both_fetched = threading.Barrier(2, timeout=10)
    errors = []

    def refresh():
        try:
            # both have the venue's answer before either stores it: they race on the same current set
            refresh_balances([bot.account_id], on_result=lambda *_: both_fetched.wait())
        except Exception as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert BalanceSnapshot.objects.count() == 2 * per_set  # the first writes the change, the second confirms it
    usdt = [a for a in balances_for_bot(bot)["assets"] if a["asset"] == "USDT"]
    assert [a["available"] for a in usdt] == [D("777")]
