"""Balance snapshots: refreshed in the background, read without an exchange call, stale or absent
cases read with their reason."""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from exchanges.models import ExchangeCredential
from exchanges.services import save_credentials
from ledger.models import BalanceRefresh, BalanceSnapshot, PriceSnapshot
from ledger.selectors import NO_SNAPSHOT, balances_for_bot, balances_for_bots
from ledger.services import refresh_balances
from ledger.tasks import refresh_balances_task
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

D = Decimal
API_KEY = "CSKEY-balances-0123456789"
SECRET = "CSSECRET-balances-9876543210"


@pytest.mark.django_db
def test_no_snapshot_reads_as_zero_with_a_reason():
    bot = BotFactory(symbol="SHARP/USDT")
    balances = balances_for_bot(bot)
    assert balances["reason"] == NO_SNAPSHOT
    assert balances["assets"] == [
        {"asset": "SHARP", "available": 0, "locked": 0, "total": 0, "usd_value": None},
        {"asset": "USDT", "available": 0, "locked": 0, "total": 0, "usd_value": None},
    ]
    assert all(isinstance(a["total"], Decimal) for a in balances["assets"])
    assert balances["taken_at"] is None and balances["is_stale"] is False


@pytest.fixture
def coinstore(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        venue.set_funds("USDT", "1000", "25.5")
        yield venue


def coinstore_bot(fake):
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": fake.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    return BotFactory(client=account.client, account=account, symbol="SHARP/USDT")


@pytest.mark.django_db(transaction=True)
def test_refresh_stores_snapshots_with_usd_values(coinstore):
    bot = coinstore_bot(coinstore)
    PriceSnapshot.objects.create(exchange="coinstore", symbol="SHARP/USDT", price=D("0.0125"), source="mid",
                                 taken_at="2026-11-25T00:00:00Z")
    result = refresh_balances([bot.account_id])
    assert result.refreshed == [bot.account_id] and result.failed == {}
    balances = balances_for_bot(bot)
    by_asset = {a["asset"]: a for a in balances["assets"]}
    assert by_asset["USDT"] == {"asset": "USDT", "available": D("1000"), "locked": D("25.5"), "total": D("1025.5"),
                                "usd_value": D("1025.5")}
    assert by_asset["SHARP"]["total"] == D("50000")
    assert by_asset["SHARP"]["usd_value"] == D("625")
    assert balances["total_usd"] == D("1650.5")
    assert balances["is_stale"] is False and balances["reason"] is None and balances["taken_at"] is not None


@pytest.mark.django_db(transaction=True)
def test_failed_refresh_keeps_the_last_good_snapshot_marked_stale(coinstore):
    bot = coinstore_bot(coinstore)
    refresh_balances([bot.account_id])
    good = balances_for_bot(bot)
    coinstore.set_funds("USDT", "1")
    coinstore.fault = "echo"  # the venue's error quotes our API key back
    result = refresh_balances([bot.account_id], deadline_s=10)
    assert list(result.failed) == [bot.account_id]
    stale = balances_for_bot(bot)
    assert stale["assets"] == good["assets"]  # the last good values, not the failed answer
    assert stale["taken_at"] == good["taken_at"]
    assert stale["is_stale"] is True and stale["error"]
    assert "system busy" in stale["error"]  # the venue's own words reach the error...
    assert API_KEY not in stale["error"] and SECRET not in stale["error"]  # ...its echo of the key does not
    with pytest.raises(RuntimeError, match="marked stale"):
        refresh_balances_task([bot.account_id])
    coinstore.fault = None
    refresh_balances([bot.account_id])
    fresh = balances_for_bot(bot)
    assert fresh["is_stale"] is False and fresh["error"] == ""
    assert {a["asset"]: a["total"] for a in fresh["assets"]}["USDT"] == D("1")


@pytest.mark.django_db(transaction=True)
def test_account_that_never_answered_reads_zero_with_its_error():
    bot = BotFactory(symbol="SHARP/USDT", account=ExchangeAccountFactory(exchange="coinstore"))
    assert not ExchangeCredential.objects.filter(account=bot.account).exists()
    result = refresh_balances([bot.account_id])
    assert bot.account_id in result.failed
    balances = balances_for_bot(bot)
    assert balances["reason"] == NO_SNAPSHOT
    assert balances["is_stale"] is True and "credentials" in balances["error"]
    assert [a["total"] for a in balances["assets"]] == [0, 0]


@pytest.mark.django_db(transaction=True)
def test_refresh_of_all_accounts_covers_paper_ones():
    bot = BotFactory(symbol="SHARP/USDT")
    assert refresh_balances().refreshed == [bot.account_id]
    assets = {a["asset"] for a in balances_for_bot(bot)["assets"]}
    assert {"SHARP", "USDT"} <= assets


@pytest.mark.django_db
def test_bulk_balances_cost_two_queries_for_1_or_6_bots(django_assert_num_queries):
    from django.utils import timezone

    now = timezone.now()
    bots = [BotFactory() for _ in range(6)]
    for bot in bots:
        BalanceRefresh.objects.create(account=bot.account, last_success_at=now, last_attempt_at=now)
        BalanceSnapshot.objects.create(account=bot.account, asset="USDT", available=5, locked=0, total=5,
                                       usd_value=5, taken_at=now, confirmed_at=now)
        BalanceSnapshot.objects.create(account=bot.account, asset="USDT", available=9, locked=0, total=9,
                                       usd_value=9, taken_at=now.replace(year=2025),
                                       confirmed_at=now.replace(year=2025))  # an older set
    for group in (bots[:1], bots):
        with django_assert_num_queries(2):
            result = balances_for_bots(group)
        assert all(r["assets"][0]["total"] == D("5") and len(r["assets"]) == 1 for r in result.values())


@pytest.mark.django_db
def test_an_empty_account_reads_zero_as_of_its_refresh():
    from django.utils import timezone

    from ledger.selectors import NO_ASSETS

    bot = BotFactory(symbol="SHARP/USDT")
    now = timezone.now()
    BalanceRefresh.objects.create(account=bot.account, last_success_at=now, last_attempt_at=now)
    balances = balances_for_bot(bot)
    assert (balances["reason"], balances["taken_at"], balances["is_stale"]) == (NO_ASSETS, now, False)
    assert [a["total"] for a in balances["assets"]] == [0, 0]
