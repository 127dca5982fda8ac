"""Refreshing stored prices from venues: order book mid first, the ticker when the book is empty."""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from exchanges.services import save_credentials
from ledger.models import PriceSnapshot
from ledger.services import refresh_prices
from ledger.tasks import refresh_prices_task
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

pytestmark = pytest.mark.django_db
D = Decimal
API_KEY = "CSKEY-prices-0123456789"
SECRET = "CSSECRET-prices-9876543210"


def test_paper_bot_price_is_the_book_mid():
    bot = BotFactory(symbol="SHARP/USDT")
    result = refresh_prices([bot.pk])
    venue = f"paper:{bot.account_id}"  # each paper account walks its own price
    assert result.stored == [(venue, "SHARP/USDT")] and result.failed == {}
    price = PriceSnapshot.objects.get(exchange=venue, symbol="SHARP/USDT")
    assert price.source == "mid" and D("0.01") < price.price < D("0.016")


@pytest.fixture
def coinstore(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        yield venue


def test_coinstore_mid_then_ticker_and_unknown_symbols_are_reported(coinstore):
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": coinstore.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
    refresh_prices([bot.pk])
    price = PriceSnapshot.objects.get(exchange="coinstore", symbol="SHARP/USDT")
    assert (price.price, price.source) == (D("0.01235"), "mid")

    other = BotFactory(client=account.client, account=account, symbol="SHARP/SOL")  # SOL/USDT is not listed
    with pytest.raises(RuntimeError, match="SOL"):
        refresh_prices_task([other.pk])
    assert PriceSnapshot.objects.filter(symbol="SHARP/SOL").count() == 0


def test_empty_book_falls_back_to_the_ticker(coinstore):
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": coinstore.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
    coinstore.set_book("SHARPUSDT", bids=[], asks=[])
    coinstore.last_price["SHARPUSDT"] = D("0.0131")
    refresh_prices([bot.pk])
    price = PriceSnapshot.objects.get(exchange="coinstore", symbol="SHARP/USDT")
    assert (price.price, price.source) == (D("0.0131"), "last_trade")
