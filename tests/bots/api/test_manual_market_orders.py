"""POST /orders/place with type "market": on venues that take it cleanly, through the same record,
audit and guard path as a limit order; elsewhere, or malformed, a 400 that records and sends nothing."""

from decimal import Decimal

import pytest

from bots.manual import LIMIT_NEEDS_PRICE, MARKET_TAKES_NO_PRICE, NO_LIMIT_ORDERS, NO_MARKET_ORDERS
from bots.models import Order
from pipelabs.models import AuditEvent
from tests.api import body, client_with_token
from tests.bots.api.test_lifecycle_api import PAPER
from tests.factories import ExchangeAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    client, _ = client_with_token("acme")
    _, admin = client_with_token("ops", role="admin")
    return client, admin


def place(admin, client, account, **fields):
    return admin.post("/orders/place", {"client_id": client.pk, "account_id": account.pk, "pair": "SHARP/USDT",
                                        "side": "buy", "amount": "1000", **fields})


def test_market_order_on_paper_is_recorded_audited_and_filled(setup):
    client, admin = setup
    account = ExchangeAccountFactory(client=client, exchange="paper", name="paper", options=PAPER)
    response = place(admin, client, account, type="market")
    assert response.status_code == 201, response.content
    answer = body(response)
    order = Order.objects.get(pk=answer["id"])
    assert answer["type"] == order.kind == "market" and order.bot_id is None
    assert order.amount == Decimal("1000") and order.filled == Decimal("1000") and answer["status"] == "filled"
    requested = AuditEvent.objects.get(action="order.manual.request", client_id=client.pk)
    assert requested.changes["type"] == "market" and requested.changes["price"] is None
    assert AuditEvent.objects.get(action="order.manual").changes["order_id"] == order.pk
    sold = place(admin, client, account, order_type="market", side="sell", amount="100")
    assert sold.status_code == 201 and body(sold)["type"] == "market"
    # Below the market's minimum notional at its live price: the venue's refusal, recorded as such.
    tiny = place(admin, client, account, type="market", side="sell", amount="10")
    assert tiny.status_code == 400 and Order.objects.get(amount=10).status == Order.Status.REJECTED


@pytest.mark.parametrize("exchange, fields, field, detail", [
    ("paper", {"type": "market", "price": "0.01"}, "price", MARKET_TAKES_NO_PRICE),
    ("paper", {"type": "limit"}, "price", LIMIT_NEEDS_PRICE),
    ("kraken", {"type": "market"}, "type", NO_MARKET_ORDERS.format(exchange="kraken")),
    ("jupiter", {"type": "limit", "price": "1"}, "type", NO_LIMIT_ORDERS.format(exchange="jupiter")),
    ("paper", {"type": "market", "order_type": "limit"}, "type", None),
    ("paper", {"type": "stop"}, "type", None),
])
def test_an_order_kind_the_venue_does_not_take_is_400_and_nothing_is_recorded(setup, exchange, fields, field, detail):
    client, admin = setup
    account = ExchangeAccountFactory(client=client, exchange=exchange, name="acct",
                                     options=PAPER if exchange == "paper" else {})
    response = place(admin, client, account, **fields)
    assert response.status_code == 400, response.content
    assert field in body(response)["errors"]
    if detail:
        assert body(response)["detail"] == f"{field}: {detail}"
    assert not Order.objects.exists() and not AuditEvent.objects.filter(action__startswith="order.").exists()
