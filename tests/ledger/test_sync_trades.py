"""Syncing a bot's own fills from its exchange: the paper venue and Coinstore's fake over real HTTP."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.paper import PaperConnector
from exchanges.errors import ExchangeError
from exchanges.services import save_credentials
from ledger.models import BotTrade, PnlState, TradeSyncCursor
from ledger.selectors import pnl_for_bot
from ledger.services import sync_trades
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

D = Decimal
API_KEY = "CSKEY-ledger-0123456789"
SECRET = "CSSECRET-ledger-9876543210"


class Clock:
    def __init__(self):
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=dt_timezone.utc)

    def __call__(self):
        self.at += timedelta(seconds=5)
        return self.at


# An hourly price walk keeps settling from the test's dates up to the wall clock cheap.
PAPER = {"paper": {"markets": {"SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1",
                                              "depth_quote": "300", "step_ms": 3_600_000}}}}


def paper_bot():
    account = ExchangeAccountFactory(exchange="paper", options=PAPER)
    return BotFactory(client=account.client, account=account, symbol="SHARP/USDT")


def paper_trade(account, clock, side, amount):
    venue = PaperConnector(account, clock=clock)
    venue.create_order(OrderRequest("SHARP/USDT", side, "market", D(amount), ""))


@pytest.mark.django_db
def test_sync_pulls_paper_fills_once_and_moves_the_cursor():
    bot = paper_bot()
    clock = Clock()
    paper_trade(bot.account, clock, "buy", "2000")
    paper_trade(bot.account, clock, "sell", "500")
    result = sync_trades(bot)
    stored = BotTrade.objects.filter(bot=bot)
    assert result.new == stored.count() >= 2
    assert {t.side for t in stored} == {"buy", "sell"}
    assert all(t.fee_currency == "USDT" and t.fee > 0 for t in stored)
    again = sync_trades(bot)
    assert again.new == 0 and again.fetched >= 1  # the overlap re-reads, nothing is stored twice
    cursor = TradeSyncCursor.objects.get(bot=bot)
    assert cursor.last_trade_at == max(t.traded_at for t in stored)
    assert cursor.last_error == ""
    assert pnl_for_bot(bot)["trade_count"] == stored.count()


@pytest.mark.django_db
def test_sync_pages_through_more_fills_than_one_page():
    bot = paper_bot()
    clock = Clock()
    for _ in range(7):
        paper_trade(bot.account, clock, "buy", "100")
    result = sync_trades(bot, page_limit=2)
    assert result.pages >= 4
    assert result.new == BotTrade.objects.filter(bot=bot).count() >= 7


@pytest.mark.django_db
def test_backfill_keeps_only_the_requested_range_and_never_moves_the_cursor_back(capsys):
    bot = paper_bot()
    clock = Clock()
    paper_trade(bot.account, clock, "buy", "100")
    clock.at += timedelta(days=2)
    paper_trade(bot.account, clock, "buy", "100")
    call_command("sync_trades", "--bot", str(bot.pk), "--since", "2026-03-04", "--until", "2026-03-04")
    assert BotTrade.objects.filter(bot=bot).count() >= 1
    assert all(t.traded_at.date().isoformat() == "2026-03-04" for t in BotTrade.objects.filter(bot=bot))
    newest = TradeSyncCursor.objects.get(bot=bot).last_trade_at
    call_command("sync_trades", "--all", "--since", "2026-03-01", "--until", "2026-03-02")
    out = capsys.readouterr().out
    assert "new of" in out and "page 1" in out
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == newest
    assert {t.traded_at.date().isoformat() for t in BotTrade.objects.filter(bot=bot)} == {"2026-03-02", "2026-03-04"}


@pytest.mark.django_db
def test_command_refuses_bad_dates_and_unknown_bots():
    with pytest.raises(CommandError, match="not a date"):
        call_command("sync_trades", "--all", "--since", "yesterday")
    with pytest.raises(CommandError, match="No bot with id"):
        call_command("sync_trades", "--bot", "999999")


@pytest.fixture
def coinstore(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        yield venue


@pytest.mark.django_db
def test_sync_reads_coinstore_fills_over_http_and_records_errors(coinstore, capsys):
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": coinstore.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
    venue = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=coinstore.url, timeout_s=5)
    order = venue.create_order(OrderRequest("SHARP/USDT", "buy", "limit", D("1000"), "c1", D("0.01200")))
    venue.close()
    coinstore.fill(order.exchange_order_id, "400")
    coinstore.fill(order.exchange_order_id, "600")

    assert sync_trades(bot).new == 2
    trades = list(BotTrade.objects.filter(bot=bot).order_by("traded_at", "pk"))
    assert [t.amount for t in trades] == [D("400"), D("600")]
    assert all(t.price == D("0.012") and t.order_id == order.exchange_order_id for t in trades)
    state = PnlState.objects.get(bot=bot)
    assert state.trade_count == 2

    coinstore.fault = "500"
    with pytest.raises(ExchangeError):
        sync_trades(bot)
    assert TradeSyncCursor.objects.get(bot=bot).last_error
    with pytest.raises(CommandError, match="1 bot"):
        call_command("sync_trades", "--bot", str(bot.pk))
    assert "exchange error exchange_unavailable" in capsys.readouterr().err
    assert API_KEY not in TradeSyncCursor.objects.get(bot=bot).last_error
