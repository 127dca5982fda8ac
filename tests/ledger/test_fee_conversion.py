"""Every fee is counted: an amount with no currency is shown under "unknown", and third-token fees
of late fills convert at the fill's time from price history, also when the price arrives later."""

from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from exchanges.connectors.base import OrderRequest
from exchanges.services import save_credentials
from ledger.models import BotTrade, PriceHistory, PriceSnapshot
from ledger.selectors import pnl_for_bot, volume_for_bot
from ledger.services import ingest_trades, rebuild_pnl, sync_trades
from ledger.services.fees import convert_pending_fees
from ledger.tasks import refresh_prices_task
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market
from tests.ledger.conftest import T0, fill

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_fee_without_currency_is_shown_under_unknown_never_dropped(bot):
    ingest_trades(bot, [fill("b", "buy", 10, 1, fee="0.5", fee_currency=""),
                        fill("s", "sell", 10, 2, fee="0.25", fee_currency="", minutes=1)])
    pnl = pnl_for_bot(bot)
    assert pnl["unconverted_fees"] == {"unknown": D("0.75")}
    assert pnl["realized"] == D(10)  # an amount of no known currency cannot be priced into P&L
    assert volume_for_bot(bot, "all")["unconverted_fees"] == {"unknown": D("0.75")}
    assert BotTrade.objects.filter(bot=bot, fee_quote__isnull=True).count() == 2
    assert rebuild_pnl(bot).differences == {}


def test_a_coinstore_fill_without_fee_currency_id_counts_its_fee_as_unknown(settings):
    api_key, secret = "CSKEY-fees-0123456789", "CSSECRET-fees-9876543210"
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with FakeCoinstore(api_key, secret) as venue:
        arrange_sharp_market(venue)
        account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": venue.url})
        save_credentials(account, api_key=api_key, secret=secret)
        bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
        from exchanges.registry import connector_for
        from tests.ownership import own_order

        placed = own_order(bot, connector_for(account).create_order(
            OrderRequest("SHARP/USDT", "sell", "limit", D("100"), "f1", D("0.013"))))
        venue.fill(placed.exchange_order_id, "100")
        for match in venue.matches:
            match.pop("feeCurrencyId")  # as some Coinstore rows come
        sync_trades(bot)
    fee = D("100") * D("0.013") * venue.fee_rate
    assert pnl_for_bot(bot)["unconverted_fees"] == {"unknown": fee}


def test_a_late_fill_converts_at_the_price_of_its_time_not_the_latest(bot):
    PriceHistory.objects.create(exchange="binance", symbol="BNB/USDT", price=D("300"), source="mid", taken_at=T0)
    PriceSnapshot.objects.create(exchange="binance", symbol="BNB/USDT", price=D("400"), source="mid",
                                 taken_at=T0 + timedelta(hours=2))  # the latest price: too far from the fill
    ingest_trades(bot, [fill("late", "buy", 10, 1, fee="0.01", fee_currency="BNB", minutes=5)])
    trade = BotTrade.objects.get(bot=bot)
    assert trade.fee_quote == D("3")  # 0.01 BNB × 300
    pnl = pnl_for_bot(bot)
    assert (pnl["fees"], pnl["unconverted_fees"]) == (D("3"), {})


def test_the_bots_venue_price_is_preferred_and_a_price_too_far_is_not_used(bot):
    venue = f"paper:{bot.account_id}"
    PriceHistory.objects.create(exchange="binance", symbol="BNB/USDT", price=D("310"), source="mid", taken_at=T0)
    PriceHistory.objects.create(exchange=venue, symbol="BNB/USDT", price=D("305"), source="mid",
                                taken_at=T0 + timedelta(minutes=10))
    ingest_trades(bot, [fill("a", "buy", 1, 1, fee="1", fee_currency="BNB"),
                        fill("b", "buy", 1, 1, fee="1", fee_currency="BNB", minutes=26)])
    quotes = dict(BotTrade.objects.values_list("exchange_trade_id", "fee_quote"))
    assert quotes == {"a": D("305"), "b": None}  # b is 16 minutes from the nearest price


def test_pending_fees_convert_when_the_price_refresh_brings_a_price(settings):
    # a paper venue that lists BNB/USDT: the refresh prices the fee token the bot could not convert
    account = ExchangeAccountFactory(exchange="paper", options={"paper": {"markets": {
        "SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1"},
        "BNB/USDT": {"price": "600", "price_step": "0.01", "amount_step": "0.001"},
    }}})
    bot = BotFactory(account=account, client=account.client, symbol="SHARP/USDT")
    now = timezone.now()
    ingest_trades(bot, [fill("b", "buy", 100, "0.0125", fee="0.001", fee_currency="BNB", at=now - timedelta(minutes=3)),
                        fill("s", "sell", 100, "0.0130", fee="0.001", fee_currency="BNB", at=now - timedelta(minutes=2))])
    before = pnl_for_bot(bot)
    assert before["unconverted_fees"] == {"BNB": D("0.002")} and before["realized"] == D("0.05")

    refresh_prices_task()

    after = pnl_for_bot(bot)
    assert after["unconverted_fees"] == {}
    bnb = PriceSnapshot.objects.get(symbol="BNB/USDT").price
    assert after["fees"] == D("0.002") * bnb
    assert after["realized"] == D("0.05") - D("0.002") * bnb
    assert volume_for_bot(bot, "24h")["unconverted_fees"] == {}
    assert rebuild_pnl(bot).differences == {}
    assert convert_pending_fees() == {}  # nothing left: safe to run again


def test_pending_conversion_costs_one_query_for_bots_without_pending_fees(bot, django_assert_num_queries):
    ingest_trades(bot, [fill("b", "buy", 1, 1, fee="0.01", fee_currency="USDT")])
    with django_assert_num_queries(1):
        assert convert_pending_fees() == {}
