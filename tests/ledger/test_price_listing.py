"""The price refresh asks each venue only for pairs it lists, and a failure says what, where and why."""

import pytest

from ledger.models import PriceSnapshot
from ledger.services import refresh_prices
from ledger.tasks import refresh_prices_task
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db


def test_demo_paper_venue_prices_only_listed_pairs_and_the_task_succeeds():
    # the demo: SHARP/USDT and SOL/USDC on one paper account, which lists no SOL/USDT
    account = ExchangeAccountFactory(exchange="paper")
    sharp = BotFactory(account=account, client=account.client, symbol="SHARP/USDT")
    BotFactory(account=account, client=account.client, symbol="SOL/USDC")
    assert refresh_prices_task() == 2
    venue = f"paper:{account.pk}"
    assert set(PriceSnapshot.objects.values_list("exchange", "symbol")) == {(venue, "SHARP/USDT"), (venue, "SOL/USDC")}
    assert refresh_prices([sharp.pk]).failed == {}


def test_unlisted_bot_pair_fails_naming_symbol_venue_and_reason_and_the_others_are_priced():
    account = ExchangeAccountFactory(exchange="paper")
    BotFactory(account=account, client=account.client, symbol="SHARP/USDT")
    BotFactory(account=account, client=account.client, symbol="FOO/USDT")
    venue = f"paper:{account.pk}"
    with pytest.raises(RuntimeError) as failure:
        refresh_prices_task()
    assert f"FOO/USDT at {venue}: FOO/USDT is not listed at {venue}." in str(failure.value)
    assert "SHARP" not in str(failure.value)
    assert PriceSnapshot.objects.filter(exchange=venue, symbol="SHARP/USDT").exists()


def test_a_venue_that_cannot_list_its_markets_fails_with_its_reason():
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": "http://127.0.0.1:9"})
    BotFactory(account=account, client=account.client, symbol="SHARP/USDT")
    with pytest.raises(RuntimeError, match=r"SHARP/USDT at coinstore: \S+"):
        refresh_prices_task()
