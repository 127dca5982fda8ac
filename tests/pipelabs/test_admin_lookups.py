"""Garbage or overflowing filter parameters in any admin changelist are a message, never a 500."""

import pytest

from clients.services import create_operator
from tests.factories import BotTradeFactory

BAD_LOOKUPS = [
    "/admin/ledger/bottrade/?traded_at__year=99999999999",
    "/admin/ledger/bottrade/?traded_at__year=-99999999999",
    "/admin/ledger/bottrade/?traded_at__day=99999999999999999999",
    "/admin/ledger/bottrade/?id=99999999999999999999999",
    "/admin/ledger/bottrade/?amount__gt=1e999999",
    "/admin/ledger/bottrade/?amount=NaN",
    "/admin/ledger/bottrade/?traded_at__gte=garbage",
    "/admin/bots/bot/?id__in=1,99999999999999999999999",
    "/admin/bots/bot/?created_at__year=99999999999",
    "/admin/clients/client/?id__gt=99999999999999999999999",
    "/admin/exchanges/exchangeaccount/?created_at__month=99999999999999",
    "/admin/ledger/balancesnapshot/?taken_at__year=99999999999",
    "/admin/pipelabs/auditevent/?created_at__year=99999999999",
]


@pytest.fixture
def operator_client(client, db):
    user, password = create_operator("op")
    assert client.login(username="op", password=password)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("path", BAD_LOOKUPS)
def test_bad_lookup_values_answer_with_a_message_not_a_500(operator_client, path):
    BotTradeFactory()
    response = operator_client.get(path, follow=True)
    assert response.status_code in (200, 400), response.status_code
    assert "Traceback" not in response.content.decode()


def test_a_good_lookup_still_filters(operator_client):
    trade = BotTradeFactory()
    response = operator_client.get(f"/admin/ledger/bottrade/?traded_at__year={trade.traded_at.year}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_an_overflowing_year_says_which_filter_was_dropped(operator_client):
    BotTradeFactory()
    response = operator_client.get("/admin/ledger/bottrade/?traded_at__year=99999999999", follow=True)
    assert response.redirect_chain == [("/admin/ledger/bottrade/", 302)]
    assert "traded_at__year=99999999999 is not valid here" in response.content.decode()
    assert response.context["cl"].result_count == 1
