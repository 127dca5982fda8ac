"""Figures in the admin and commands read as people write them."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.services import create_operator
from pipelabs.display import age, amount
from tests.factories import BotTradeFactory


@pytest.mark.parametrize("value, shown", [
    (Decimal("10000.000000000000000000"), "10,000"),
    (Decimal("0E-18"), "0"),
    (Decimal("-0.000000000000000000"), "0"),
    (Decimal("1234567.891000000000000000"), "1,234,567.891"),
    (Decimal("-0.000000000000000001"), "-0.000000000000000001"),
    (Decimal("1E+3"), "1,000"),
    (None, "-"),
])
def test_amount(value, shown):
    assert amount(value) == shown


def test_age():
    now = timezone.now()
    assert age(None) == "never"
    assert age(now - timedelta(seconds=12), now) == "12 s ago"
    assert age(now - timedelta(minutes=5, seconds=3), now) == "5 min ago"
    assert age(now - timedelta(hours=3), now) == "3 h ago"
    assert age(now - timedelta(days=2, hours=1), now) == "2 d ago"


@pytest.mark.django_db
def test_trade_list_and_page_show_normalised_figures(client):
    trade = BotTradeFactory(amount=Decimal("12345.5"), price=Decimal("0.25"))
    _, password = create_operator("op")
    client.login(username="op", password=password)
    listing = client.get("/admin/ledger/bottrade/").content.decode()
    assert "12,345.5" in listing and "12345.500000000000000000" not in listing
    page = client.get(f"/admin/ledger/bottrade/{trade.pk}/change/")
    assert page.status_code == 200
    import re
    shown = re.findall(r'<div class="readonly">([^<]*)</div>', page.content.decode())
    assert "12,345.5" in shown and "0.25" in shown
    assert not [value for value in shown if "000000000000" in value]
    # sorting by the figure still works
    assert client.get("/admin/ledger/bottrade/?o=4").status_code == 200
