"""A bot's ledger cannot be corrupted by editing the bot: once it has trades, account and symbol are fixed."""
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from bots.admin import BotForm
from bots.models import Bot
from pipelabs.models import AuditEvent
from bots.services import BOT_HAS_TRADES, update_bot
from clients.services import create_operator
from ledger.models import BotTrade, PnlState
from ledger.services import ingest_trades
from tests.factories import BotFactory, BotTradeFactory, ExchangeAccountFactory
from tests.ledger.conftest import fill


@pytest.fixture
def operator_client(client, db):
    _, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client


def change_form(bot, **fields):
    return {"account": bot.account.pk, "name": bot.name, "bot_type": bot.bot_type, "symbol": bot.symbol,
            "config": "{}", **fields}


def test_a_stopped_bot_with_trades_keeps_its_symbol_so_a_foo_sale_never_closes_a_sharp_lot(db):
    bot = BotFactory(symbol="SHARP/USDT", status=Bot.Status.STOPPED)
    ingest_trades(bot, [fill("1001", "buy", "10", "1")])
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", symbol="FOO/USDT")
    assert caught.value.message_dict == {"symbol": [BOT_HAS_TRADES.format(field="symbol")]}
    bot.refresh_from_db()
    assert bot.symbol == "SHARP/USDT" and not AuditEvent.objects.exists()
    # The FOO venue's own fill "1001" is not the SHARP one; it belongs on a new bot, which takes it.
    foo_bot = BotFactory(client=bot.client, account=bot.account, symbol="FOO/USDT")
    assert ingest_trades(foo_bot, [fill("1001", "sell", "5", "1", symbol="FOO/USDT")]) == 1
    assert PnlState.objects.get(bot=bot).realized_pnl == 0


def test_a_bot_with_trades_cannot_move_to_another_account(db):
    bot = BotFactory(status=Bot.Status.STOPPED)
    BotTradeFactory(bot=bot)
    other = ExchangeAccountFactory(client=bot.client)
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", account=other, name="renamed")
    assert caught.value.message_dict == {"account": [BOT_HAS_TRADES.format(field="account")]}
    assert caught.value.error_dict["account"][0].code == "bot_has_trades"
    bot.refresh_from_db()
    assert (bot.account_id, bot.name) != (other.pk, "renamed") and not AuditEvent.objects.exists()


def test_a_bot_with_trades_can_still_be_renamed_and_reconfigured(db):
    bot = BotFactory(status=Bot.Status.STOPPED)
    BotTradeFactory(bot=bot)
    update_bot(bot, actor="op", name="renamed", symbol=bot.symbol.lower(), account=bot.account)
    bot.refresh_from_db()
    assert bot.name == "renamed"


def test_a_bot_without_trades_can_still_move(db):
    bot = BotFactory(status=Bot.Status.STOPPED)
    other = ExchangeAccountFactory(client=bot.client)
    update_bot(bot, actor="op", account=other, symbol="FOO/USDT")
    bot.refresh_from_db()
    assert (bot.account, bot.symbol) == (other, "FOO/USDT")


def test_admin_shows_account_and_symbol_read_only_once_the_bot_has_trades(operator_client):
    bot = BotFactory(status=Bot.Status.STOPPED)
    page = operator_client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert 'name="symbol"' in page and 'name="account"' in page
    BotTradeFactory(bot=bot)
    page = operator_client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert 'name="symbol"' not in page and 'name="account"' not in page
    assert "SHARP/USDT" in page
    other = ExchangeAccountFactory(client=bot.client)
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/",
                                    change_form(bot, symbol="FOO/USDT", account=other.pk, name="renamed"))
    assert response.status_code == 302
    bot.refresh_from_db()
    assert (bot.symbol, bot.account_id, bot.name) == ("SHARP/USDT", bot.account_id, "renamed")
    assert bot.account_id != other.pk


def test_bot_form_loaded_before_the_first_trade_shows_a_form_error(db):
    """A form opened while the bot had no trades, posted after one arrived: an error on the field."""
    bot = BotFactory(status=Bot.Status.STOPPED)
    BotTradeFactory(bot=bot)
    form = BotForm(instance=bot, data={"client": bot.client.pk, **change_form(bot, symbol="FOO/USDT")})
    assert not form.is_valid()
    assert form.errors["symbol"] == [BOT_HAS_TRADES.format(field="symbol")]


def test_admin_turns_a_refusal_at_save_time_into_a_message_not_a_500(operator_client):
    """The form passed, then a trade landed before the save: the service refuses, the admin says why."""
    bot = BotFactory(status=Bot.Status.STOPPED)
    original = BotForm.clean

    def clean_then_trade_arrives(form):
        data = original(form)
        BotTradeFactory(bot=bot)
        return data

    BotForm.clean = clean_then_trade_arrives
    try:
        response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", change_form(bot, symbol="FOO/USDT"))
    finally:
        BotForm.clean = original
    assert response.status_code == 302
    page = operator_client.get(response.url).content.decode()
    assert BOT_HAS_TRADES.format(field="symbol") in page
    bot.refresh_from_db()
    assert bot.symbol == "SHARP/USDT" and not AuditEvent.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: SQLite serialises whole-database writes, so nothing really races")
@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_a_trade_ingest_waits_for_it_and_is_refused():
    """Ingest holds the bot's P&L row while it inserts trades; the edit waits for it, then sees them."""
    bot = BotFactory(status=Bot.Status.STOPPED)
    PnlState.objects.create(bot=bot)
    locked, outcome = threading.Event(), {}

    def ingest():
        try:
            with transaction.atomic():
                PnlState.objects.select_for_update().get(bot=bot)  # what ingest_trades takes first
                BotTrade.objects.create(bot=bot, exchange_trade_id="1001", side="buy", amount=1, price=1, cost=1,
                                        traded_at="2026-11-20T12:00:00Z")
                locked.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    def edit():
        try:
            assert locked.wait(10)
            update_bot(Bot.objects.get(pk=bot.pk), actor="op", symbol="FOO/USDT")
            outcome["result"] = "changed"
        except ValidationError as exc:
            outcome["result"] = exc.message_dict
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ingest), threading.Thread(target=edit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["result"] == {"symbol": [BOT_HAS_TRADES.format(field="symbol")]}
    bot.refresh_from_db()
    assert bot.symbol == "SHARP/USDT"


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: SQLite serialises whole-database writes, so nothing really races")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_are_checked_one_after_the_other():
    """One operator makes the bot a spread bot while another saves a volume config: the second is
    checked against the first's committed type, never against the row both read before."""
    bot = BotFactory(status=Bot.Status.STOPPED, bot_type="volume")
    first_saved, outcome = threading.Event(), {}

    def retype():
        try:
            with transaction.atomic():
                update_bot(Bot.objects.get(pk=bot.pk), actor="a", bot_type="spread", config={"spread_bps": 40})
                first_saved.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    def reconfigure():
        try:
            assert first_saved.wait(10)
            update_bot(Bot.objects.get(pk=bot.pk), actor="b", config={"min_trade_usd": "5"})
            outcome["result"] = "changed"
        except ValidationError as exc:
            outcome["result"] = exc.message_dict
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retype), threading.Thread(target=reconfigure)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["result"] == {"config": ["min_trade_usd: Unknown setting for a spread bot."]}
    bot.refresh_from_db()
    assert (bot.bot_type, bot.config) == ("spread", {"spread_bps": 40})


def test_a_bot_with_orders_but_no_fills_yet_is_fixed_too(db):
    """Its orders' fills may not be synced yet: they would arrive on a bot now pointing elsewhere."""
    from bots.models import Order

    bot = BotFactory(status=Bot.Status.STOPPED)
    Order.objects.create(bot=bot, account=bot.account, symbol=bot.symbol, client_order_id="c1", side="buy",
                         kind="limit", amount=1, price=1, status=Order.Status.FILLED)
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", symbol="FOO/USDT")
    assert list(caught.value.message_dict) == ["symbol"]
