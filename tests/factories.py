"""factory_boy factories: test data built the way the platform builds it."""

from decimal import Decimal

import factory
from django.utils import timezone

from bots.models import Bot
from clients.models import Client, Wallet
from exchanges.models import ExchangeAccount
from ledger.models import BotTrade


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"client-{n}")


class WalletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wallet

    client = factory.SubFactory(ClientFactory)
    chain = Wallet.Chain.EVM
    address = factory.Sequence(lambda n: f"0x{n:040x}")


class ExchangeAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeAccount

    client = factory.SubFactory(ClientFactory)
    exchange = "paper"
    name = factory.Sequence(lambda n: f"account-{n}")


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot

    client = factory.SubFactory(ClientFactory)
    account = factory.SubFactory(ExchangeAccountFactory, client=factory.SelfAttribute("..client"))
    name = factory.Sequence(lambda n: f"bot-{n}")
    bot_type = Bot.Type.VOLUME
    symbol = "SHARP/USDT"


class BotTradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BotTrade

    bot = factory.SubFactory(BotFactory)
    exchange_trade_id = factory.Sequence(lambda n: f"t{n}")
    side = "buy"
    amount = Decimal("1")
    price = Decimal("1")
    cost = factory.LazyAttribute(lambda t: t.amount * t.price)
    fee = Decimal("0")
    fee_currency = "USDT"
    traded_at = factory.LazyFunction(timezone.now)
