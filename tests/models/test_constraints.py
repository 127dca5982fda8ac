from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from bots.models import Bot, Order
from pipelabs.models import AuditEvent
from bots.services import record_event
from clients.models import Client, Wallet
from exchanges.models import ExchangeAccount, ExchangeCredential
from ledger.models import BalanceSnapshot, BotTrade
from tests.factories import BotFactory, BotTradeFactory, ClientFactory, ExchangeAccountFactory, WalletFactory

pytestmark = pytest.mark.django_db


def test_a_trade_is_unique_per_bot():
    trade = BotTradeFactory(exchange_trade_id="T1")
    with pytest.raises(IntegrityError), transaction.atomic():
        BotTradeFactory(bot=trade.bot, exchange_trade_id="T1")
    # the same exchange trade id on another bot is a different trade
    BotTradeFactory(exchange_trade_id="T1")
    assert BotTrade.objects.filter(exchange_trade_id="T1").count() == 2


@pytest.mark.parametrize("field,value", [("status", "flying"), ("desired_status", "maybe"), ("bot_type", "arbitrage")])
def test_bot_rejects_invalid_choice_values(field, value):
    bot = BotFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(**{field: value})


def test_trade_amount_must_be_positive_unless_the_trade_only_paid_a_fee():
    with pytest.raises(IntegrityError), transaction.atomic():
        BotTradeFactory(amount=Decimal("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        BotTradeFactory(amount=Decimal("0"), fee=Decimal("-0.1"))
    BotTradeFactory(amount=Decimal("0"), fee=Decimal("0.00001"), fee_currency="SOL")  # a failed swap's fee


def test_wallet_address_is_unique_per_chain():
    WalletFactory(address="0x" + "a" * 40)
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletFactory(address="0x" + "a" * 40)


def test_deleting_a_client_leaves_no_orphans():
    bot = BotFactory()
    client = bot.client
    WalletFactory(client=client)
    BotTradeFactory(bot=bot)
    Order.objects.create(bot=bot, account=bot.account, symbol=bot.symbol, client_order_id="c1", side="buy", kind="limit", amount=Decimal("1"), price=Decimal("2"))
    ExchangeCredential.objects.create(account=bot.account, api_key_encrypted="x", secret_encrypted="y")
    BalanceSnapshot.objects.create(account=bot.account, asset="USDT", available=1, locked=0, total=1,
                                   taken_at="2026-01-01T00:00:00Z", confirmed_at="2026-01-01T00:00:00Z")
    record_event(actor="test", action="bot.create", bot=bot)
    other = BotFactory()

    client.delete()

    for model in (Bot, ExchangeAccount, Wallet, BotTrade, Order, ExchangeCredential, BalanceSnapshot):
        assert not model.objects.exclude(pk__in=_ids_of(other, model)).exists(), model.__name__
    assert Client.objects.filter(pk=other.client.pk).exists()
    # The audit trail outlives the client, readable by its target text.
    event = AuditEvent.objects.get()
    assert (event.client, event.bot) == (None, None) and event.target


def _ids_of(bot, model):
    if model is Bot:
        return [bot.pk]
    if model is ExchangeAccount:
        return [bot.account_id]
    return []


def test_deleting_a_bot_removes_its_trades_and_orders_but_keeps_its_audit():
    bot = BotFactory()
    BotTradeFactory(bot=bot)
    record_event(actor="test", action="bot.delete", bot=bot)
    bot.delete()
    assert not BotTrade.objects.exists()
    event = AuditEvent.objects.get()
    assert event.bot is None
    assert event.target  # still readable after the bot is gone


def test_an_account_in_use_cannot_be_deleted_alone():
    bot = BotFactory()
    with pytest.raises(RestrictedError):
        bot.account.delete()
    assert Bot.objects.filter(pk=bot.pk).exists()


def test_account_names_are_unique_per_client_and_exchange():
    client = ClientFactory()
    ExchangeAccountFactory(client=client, exchange="bitmart", name="main")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExchangeAccountFactory(client=client, exchange="bitmart", name="main")
