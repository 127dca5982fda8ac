"""Balances and prices name the account ('Demo client · paper:main'), never a venue key such as
'paper:7'; an asset without a USD value says why."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchanges.models import ExchangeAccount
from exchanges.services import save_account
from ledger.models import BalanceRefresh, BalanceSnapshot
from ledger.services.prices import store_price
from tests.factories import BotFactory, ClientFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
BALANCES = {"USDT": "10000", "SHARP": "500000", "XYZ": "100", "ORPH": "5", "OLD": "7"}


@pytest.fixture
def operator(signed_in_operator):
    return signed_in_operator


def paper_account(client_name="Demo client", name="main", balances=BALANCES):
    owner = ClientFactory(name=client_name)
    account = ExchangeAccount(client=owner, exchange="paper", name=name,
                              options={"paper": {"balances": dict(balances)}})
    return save_account(account, actor="test")


def refreshed(account, usd_values: dict):
    """What the balance refresh stores (ledger.services.balances, whose paper fetch needs a database
    connection of its own): one snapshot set, confirmed now, USD values as its prices allowed."""
    now = timezone.now()
    for asset, total in account.options["paper"]["balances"].items():
        BalanceSnapshot.objects.create(account=account, asset=asset, available=Decimal(total), locked=0,
                                       total=Decimal(total), usd_value=usd_values.get(asset), taken_at=now,
                                       confirmed_at=now)
    BalanceRefresh.objects.create(account=account, last_attempt_at=now, last_success_at=now)


@pytest.fixture
def priced():
    """A paper account whose assets are priced every way the notes tell apart."""
    account = paper_account()
    now = timezone.now()
    venue = f"paper:{account.pk}"
    store_price(venue, "SHARP/USDT", Decimal("0.0125"), "mid", now)  # fresh: valued
    store_price(venue, "XYZ/SOL", Decimal("0.5"), "mid", now)  # a market, but no USD one
    store_price("bitmart", "OLD/USDT", Decimal("2"), "mid", now - timedelta(hours=3))  # valued from an old price
    # ORPH: no market at all.
    refreshed(account, {"USDT": Decimal(10000), "SHARP": Decimal(6250), "OLD": Decimal(14)})
    return account


def text(response) -> str:
    return response.content.decode().replace("&#x27;", "'")


def test_price_lists_name_the_paper_account_not_its_venue_key(operator):
    account = paper_account()
    store_price(f"paper:{account.pk}", "SHARP/USDT", Decimal("0.0125"), "mid", timezone.now())
    store_price("bitmart", "SHARP/USDT", Decimal("0.0126"), "mid", timezone.now())
    for path in ("/admin/ledger/pricesnapshot/", "/admin/ledger/pricehistory/"):
        page = text(operator.get(path))
        assert "Demo client · paper:main" in page and "bitmart" in page
        assert f"paper:{account.pk}<" not in page and f">paper:{account.pk}" not in page
    # The venue filter offers the account by name and still filters on the stored key.
    page = text(operator.get("/admin/ledger/pricesnapshot/", {"exchange": f"paper:{account.pk}"}))
    assert "0.0125" in page and "0.0126" not in page
    assert page.count("Demo client · paper:main") >= 2  # the row and the filter's choice
    from ledger.models import PriceSnapshot

    snapshot = PriceSnapshot.objects.get(exchange=f"paper:{account.pk}")
    page = text(operator.get(f"/admin/ledger/pricesnapshot/{snapshot.pk}/change/"))
    assert "Demo client · paper:main" in page and "0.0125" in page


def test_a_deleted_paper_accounts_prices_say_so():
    from pipelabs.selectors import venue_labels

    assert venue_labels(["paper:999999", "bitmart", "paper:x"]) == {
        "paper:999999": "paper account 999999 (deleted)", "bitmart": "bitmart", "paper:x": "paper:x"}


def test_balance_list_names_the_account_and_says_why_an_asset_has_no_usd_value(operator, priced):
    page = text(operator.get("/admin/ledger/balancesnapshot/"))
    assert "Demo client · paper:main" in page
    assert "no USD price: XYZ is priced only against SOL (XYZ/SOL), and there is no XYZ/USDT or XYZ/USDC or " \
           "XYZ/USD price" in page
    assert "no USD price: no price stored for any ORPH market" in page
    assert "USD price older than 15 min: OLD/USDT taken 3 h ago" in page
    assert "$6,250" in page  # 500,000 SHARP × 0.0125
    usd = dict(BalanceSnapshot.objects.values_list("asset", "usd_value"))
    assert usd["XYZ"] is None and usd["ORPH"] is None and usd["OLD"] == Decimal(14)


def test_account_page_shows_its_balances_with_the_same_notes(operator, priced):
    page = text(operator.get(f"/admin/exchanges/exchangeaccount/{priced.pk}/change/"))
    assert "<b>Demo client · paper:main</b>" in page
    assert "SHARP 500,000 available, 0 locked · $6,250" in page
    assert "no price stored for any ORPH market" in page and "XYZ is priced only against SOL" in page


def test_a_usd_price_stored_after_the_refresh_is_named():
    from pipelabs.selectors import usd_notes

    assert usd_notes(["ZED", "USDC"]) == {"ZED": {"missing": "no USD price: no price stored for any ZED market",
                                                   "stale": None}}
    store_price("bitmart", "ZED/USDC", Decimal(1), "mid", timezone.now())
    assert usd_notes(["zed"])["ZED"] == {"missing": "no USD price at the last refresh; ZED/USDC has been priced since",
                                         "stale": None}


def test_bot_charts_and_list_name_the_account(operator, priced):
    bot = BotFactory(client=priced.client, account=priced)
    page = text(operator.get(f"/admin/bots/bot/{bot.pk}/change/"))
    assert "SHARP balance · Demo client · paper:main" in page
    assert f"paper:{priced.pk}" not in page
    assert "paper:main" in text(operator.get("/admin/bots/bot/"))


def test_balance_and_price_lists_cost_the_same_queries_for_many_accounts(operator):
    def count(path):
        with CaptureQueriesContext(connection) as queries:
            assert operator.get(path).status_code == 200
        return len(queries)

    def add(n):
        account = paper_account(f"client {n}", balances={"USDT": "1", f"T{n}": "2"})
        store_price(f"paper:{account.pk}", f"T{n}/SOL", Decimal(1), "mid", timezone.now())
        refreshed(account, {"USDT": Decimal(1)})

    add(0)
    paths = ("/admin/ledger/balancesnapshot/", "/admin/ledger/pricesnapshot/", "/admin/ledger/balancerefresh/",
             "/admin/exchanges/paperbalance/")
    few = {path: count(path) for path in paths}
    for n in range(1, 8):
        add(n)
    assert {path: count(path) for path in paths} == few
