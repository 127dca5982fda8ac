"""Syncing a bot's own fills from its exchange: the paper venue and Coinstore's fake over real HTTP."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from bots.models import Bot
from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.coinstore import CoinstoreConnector
from exchanges.connectors.coinstore import connector as coinstore_connector
from exchanges.connectors.paper import PaperConnector
from exchanges.errors import ExchangeError, ExchangeUnavailable
from exchanges.services import save_credentials
from ledger.models import BotTrade, PnlState, TradeSyncCursor
from ledger.selectors import pnl_for_bot
from ledger.services import sync_trades
from ledger.services.sync import CURSOR_OVERLAP
from tests.factories import BotFactory, ExchangeAccountFactory
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market
from tests.ownership import own_order

D = Decimal
API_KEY = "CSKEY-ledger-0123456789"
SECRET = "CSSECRET-ledger-9876543210"


CLOCK_START = datetime(2026, 3, 2, 9, 0, tzinfo=dt_timezone.utc)


class Clock:
    def __init__(self):
        self.at = CLOCK_START

    def __call__(self):
        self.at += timedelta(seconds=5)
        return self.at


# An hourly price walk keeps settling from the test's dates up to the wall clock cheap.
PAPER = {"paper": {"markets": {"SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1",
                                              "depth_quote": "300", "step_ms": 3_600_000}}}}


def created(bot, at):
    """The bot as if created at ``at`` (created_at is set on insert)."""
    Bot.objects.filter(pk=bot.pk).update(created_at=at)
    bot.refresh_from_db()
    return bot


def paper_bot():
    account = ExchangeAccountFactory(exchange="paper", options=PAPER)
    bot = BotFactory(client=account.client, account=account, symbol="SHARP/USDT")
    return created(bot, CLOCK_START - timedelta(hours=1))  # before the test's fills


def paper_trade(account, clock, side, amount):
    venue = PaperConnector(account, clock=clock)
    own_order(Bot.objects.get(account=account), venue.create_order(OrderRequest("SHARP/USDT", side, "market", D(amount), "")))


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
    # The 2nd was never read: a cursor at the 4th would make the scheduled sync skip it for good.
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at is None
    sync_trades(bot)
    newest = TradeSyncCursor.objects.get(bot=bot).last_trade_at
    assert newest == max(t.traded_at for t in BotTrade.objects.filter(bot=bot))
    call_command("sync_trades", "--all", "--since", "2026-03-01", "--until", "2026-03-02")
    out = capsys.readouterr().out
    assert "new of" in out and "page 1" in out
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == newest
    assert {t.traded_at.date().isoformat() for t in BotTrade.objects.filter(bot=bot)} == {"2026-03-02", "2026-03-04"}


@pytest.mark.django_db
def test_backfill_starting_after_the_cursor_leaves_the_cursor_where_it_is():
    bot = paper_bot()
    clock = Clock()
    paper_trade(bot.account, clock, "buy", "100")
    sync_trades(bot)
    cursor = TradeSyncCursor.objects.get(bot=bot).last_trade_at
    clock.at += timedelta(days=1)
    paper_trade(bot.account, clock, "buy", "100")  # 3 March: not read by the backfill below
    clock.at += timedelta(days=1)
    paper_trade(bot.account, clock, "buy", "100")
    call_command("sync_trades", "--bot", str(bot.pk), "--since", "2026-03-04")
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == cursor
    sync_trades(bot)
    days = {t.traded_at.date().isoformat() for t in BotTrade.objects.filter(bot=bot)}
    assert days == {"2026-03-02", "2026-03-03", "2026-03-04"}


@pytest.mark.django_db
def test_fills_before_the_bot_existed_are_not_its_own():
    clock = Clock()
    bot = paper_bot()
    paper_trade(bot.account, clock, "buy", "100")
    created(bot, clock.at + CURSOR_OVERLAP + timedelta(minutes=1))  # the account traded before the bot
    clock.at += timedelta(hours=1)
    paper_trade(bot.account, clock, "buy", "100")
    sync_trades(bot)
    assert {t.traded_at > bot.created_at for t in BotTrade.objects.filter(bot=bot)} == {True}


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
    order = own_order(bot, venue.create_order(OrderRequest("SHARP/USDT", "buy", "limit", D("1000"), "c1", D("0.01200"))))
    venue.close()
    coinstore.fill(order.exchange_order_id, "400")
    coinstore.fill(order.exchange_order_id, "600")

    assert sync_trades(bot).new == 2
    trades = list(BotTrade.objects.filter(bot=bot).order_by("traded_at", "pk"))
    assert [t.amount for t in trades] == [D("400"), D("600")]
    assert all(t.price == D("0.012") and t.order_id == order.exchange_order_id for t in trades)
    state = PnlState.objects.get(bot=bot)
    assert state.trade_count == 2

    coinstore.fault = "echo"  # the venue's error quotes our API key back
    with pytest.raises(ExchangeError):
        sync_trades(bot)
    error = TradeSyncCursor.objects.get(bot=bot).last_error
    assert "system busy" in error and "***" in error  # the venue's words, its echo of the key masked
    assert API_KEY not in error
    with pytest.raises(CommandError, match="1 bot"):
        call_command("sync_trades", "--bot", str(bot.pk))
    err = capsys.readouterr().err
    assert "exchange error exchange_unavailable" in err and "system busy" in err and API_KEY not in err
    assert API_KEY not in TradeSyncCursor.objects.get(bot=bot).last_error


T0 = datetime(2026, 6, 1, 12, 0, tzinfo=dt_timezone.utc)
T0_S = int(T0.timestamp())


def coinstore_bot(fake, *, created_at=T0):
    account = ExchangeAccountFactory(exchange="coinstore", options={"api_url": fake.url})
    save_credentials(account, api_key=API_KEY, secret=SECRET)
    return created(BotFactory(client=account.client, account=account, symbol="SHARP/USDT"), created_at)


def fill_at(fake, seconds):
    """One 1-SHARP fill of a fresh order per second in ``seconds`` (accountMatches, whole seconds)."""
    venue = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url, timeout_s=5)
    seconds = list(seconds)
    order = venue.create_order(OrderRequest("SHARP/USDT", "buy", "limit", D(max(len(seconds), 10)), "", D("0.01200")))
    venue.close()
    own_order(Bot.objects.get(account__options__api_url=fake.url), order)
    for second in seconds:
        fake.fill(order.exchange_order_id, "1", match_time_s=second)


@pytest.mark.django_db
def test_first_sync_reads_every_fill_since_the_bot_was_created(coinstore):
    bot = coinstore_bot(coinstore)
    fill_at(coinstore, [T0_S - 86_400 + n for n in range(3)])  # the account's trading before the bot
    fill_at(coinstore, [T0_S + 60 + n for n in range(120)])

    result = sync_trades(bot, page_limit=50)

    stored = BotTrade.objects.filter(bot=bot)
    assert result.new == stored.count() == 120
    assert min(t.traded_at for t in stored) == T0 + timedelta(seconds=60)
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == T0 + timedelta(seconds=179)


@pytest.mark.django_db
def test_sync_stores_more_fills_than_twenty_pages_of_a_hundred(coinstore):
    bot = coinstore_bot(coinstore)
    fill_at(coinstore, [T0_S + n for n in range(2_050)])

    assert sync_trades(bot).new == BotTrade.objects.filter(bot=bot).count() == 2_050
    assert TradeSyncCursor.objects.get(bot=bot).last_trade_at == T0 + timedelta(seconds=2_049)


@pytest.mark.django_db
def test_a_backlog_deeper_than_the_walk_back_still_drains(coinstore, monkeypatch):
    monkeypatch.setattr(coinstore_connector, "TRADES_MAX_PAGES", 2)  # 200 fills by walking back
    bot = coinstore_bot(coinstore)
    fill_at(coinstore, [T0_S + n for n in range(1_250)])

    assert sync_trades(bot).new == BotTrade.objects.filter(bot=bot).count() == 1_250
    cursor = TradeSyncCursor.objects.get(bot=bot)
    assert cursor.last_trade_at == T0 + timedelta(seconds=1_249) and cursor.last_error == ""


@pytest.mark.django_db
def test_a_full_page_of_fills_in_one_second_is_read_whole_not_stepped_past(coinstore):
    bot = coinstore_bot(coinstore)
    fill_at(coinstore, [T0_S + 60] * 5 + [T0_S + 61])

    sync_trades(bot, page_limit=2)

    assert BotTrade.objects.filter(bot=bot).count() == 6


@pytest.mark.django_db
def test_a_fill_without_a_trade_id_is_an_error_not_a_made_up_id(coinstore):
    bot = coinstore_bot(coinstore)
    fill_at(coinstore, [T0_S + 60, T0_S + 61])
    for match in coinstore.matches:
        for name in ("id", "tradeId", "matchId"):
            match.pop(name)

    with pytest.raises(ExchangeUnavailable, match="without a trade id"):
        sync_trades(bot)

    assert not BotTrade.objects.filter(bot=bot).exists()
    assert "without a trade id" in TradeSyncCursor.objects.get(bot=bot).last_error


@pytest.mark.django_db
def test_an_account_without_credentials_is_recorded_on_the_cursor():
    bot = BotFactory(symbol="SHARP/USDT", account=ExchangeAccountFactory(exchange="coinstore"))

    with pytest.raises(ExchangeError):
        sync_trades(bot)

    assert "No API credentials" in TradeSyncCursor.objects.get(bot=bot).last_error
