"""The client's page: its wallets, accounts and bots inline, and its totals, in a fixed number of queries."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.models import Bot
from clients.services import create_operator
from exchanges.connectors.base import TradeFill
from ledger.services.ingest import ingest_fills
from tests.factories import BotFactory, ClientFactory, ExchangeAccountFactory, WalletFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
D = Decimal


@pytest.fixture
def operator(signed_in_operator):
    return signed_in_operator


def fill(n, side, price):
    return TradeFill(exchange_trade_id=f"f{n}", order_id=f"o{n}", symbol="SHARP/USDT", side=side, amount=D(1000),
                     price=D(price), cost=D(1000) * D(price), fee=D(0), fee_currency="USDT",
                     traded_at=timezone.now() - timedelta(minutes=5))


def add_bots(owner, n, status=Bot.Status.STOPPED):
    account = ExchangeAccountFactory(client=owner)
    WalletFactory(client=owner)
    return [BotFactory(client=owner, account=account, status=status) for _ in range(n)]


def test_client_page_shows_its_wallets_accounts_bots_and_totals(operator):
    owner = ClientFactory(name="Demo client")
    wallet = WalletFactory(client=owner, label="treasury")
    account = ExchangeAccountFactory(client=owner, name="paper-main")
    running = BotFactory(client=owner, account=account, name="vol-1", status=Bot.Status.RUNNING,
                         heartbeat_at=timezone.now())
    BotFactory(client=owner, account=account, name="vol-2", status=Bot.Status.ERROR)
    BotFactory(client=owner, account=account, name="vol-3")
    ingest_fills(running, [fill(1, "buy", "0.0125"), fill(2, "sell", "0.0135")])
    other = BotFactory(name="not-mine", status=Bot.Status.RUNNING)
    ingest_fills(other, [fill(3, "buy", "0.5"), fill(4, "sell", "0.6")])

    page = operator.get(f"/admin/clients/client/{owner.pk}/change/").content.decode()
    totals = page[page.index('id="client-totals"'):]
    totals = totals[:totals.index("</div>")]
    assert "3 bot(s): 1 created, 1 running, 1 error" in totals
    assert "24h volume <b>$26</b>" in totals  # 12.5 + 13.5 USDT; the other client's bot not counted
    assert "realized P&amp;L <b>$1</b>" in totals
    assert wallet.address in page and "treasury" in page
    assert "paper-main" in page
    assert f'href="/admin/bots/bot/{running.pk}/change/"' in page and "vol-2" in page and "not-mine" not in page
    assert '<b style="color:#1a7f37">Running</b>' in page and '<b style="color:#cf222e">Error</b>' in page
    # Shown, not edited here: no bot or account form fields on the client's page.
    assert 'name="bots-0-name"' not in page and 'name="exchange_accounts-0-name"' not in page


def test_client_page_costs_the_same_queries_for_one_bot_or_many(operator):
    small, large = ClientFactory(), ClientFactory()
    for owner, n in ((small, 1), (large, 12)):
        for bot in add_bots(owner, n, status=Bot.Status.RUNNING):
            ingest_fills(bot, [fill(f"{bot.pk}-1", "buy", "0.0125"), fill(f"{bot.pk}-2", "sell", "0.0135")])
    add_bots(large, 0)  # a second account and wallet
    operator.get(f"/admin/clients/client/{small.pk}/change/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        assert operator.get(f"/admin/clients/client/{small.pk}/change/").status_code == 200
    with CaptureQueriesContext(connection) as many:
        page = operator.get(f"/admin/clients/client/{large.pk}/change/").content.decode()
    assert "12 bot(s): 12 running" in page and "$312" in page  # 12 × $26
    assert len(many) == len(few), [q["sql"][:120] for q in many]


def test_support_sees_the_client_page_without_edit_controls(client):
    owner = ClientFactory()
    add_bots(owner, 1)
    _, password = create_operator("viewer", role="support")
    client.login(username="viewer", password=password)
    page = client.get(f"/admin/clients/client/{owner.pk}/change/")
    assert page.status_code == 200 and 'id="client-totals"' in page.content.decode()
    assert b'name="_save"' not in page.content
