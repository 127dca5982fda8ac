"""Orders: rounded once before any venue, recorded before sending, updated from the venue's answers."""

import re
from decimal import Decimal

import pytest
from django.db import connection

from bots.engine.orders import BotNotRunning, bot_id_of, cancel_order, new_client_order_id, place_order, refresh_order
from bots.models import Bot, Order
from exchanges.errors import ExchangeTimeout, InsufficientFunds, InvalidOrder, OrderStateUnknown
from exchanges.registry import connector_for
from tests.factories import BotFactory

D = Decimal


@pytest.fixture
def bot(db):
    return BotFactory(status=Bot.Status.RUNNING, symbol="SOL/USDC")


def test_client_order_ids_carry_the_bot_and_fit_every_venue():
    ids = {new_client_order_id(123456789) for _ in range(1000)} | {new_client_order_id(2**31 - 1)}
    assert len(ids) == 1001
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9]{1,32}", cid), cid
    assert bot_id_of(new_client_order_id(42)) == 42
    assert bot_id_of(new_client_order_id(None)) is None  # manual
    assert bot_id_of("someone-elses-id") is None and bot_id_of("pl42xnothex") is None


def test_unrounded_amount_and_price_are_rounded_once_and_the_paper_venue_takes_them(bot):
    connector = connector_for(bot.account)
    market = connector.market("SOL/USDC")
    order = place_order(connector, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                        amount=D("0.12345678"), price=D("100.123456"), market=market)
    assert (order.amount, order.price) == (D("0.123"), D("100.12"))  # amount down, a buy's price down
    assert order.status == Order.Status.OPEN and order.exchange_order_id
    stored = Order.objects.get(pk=order.pk)
    assert (stored.amount, stored.price, stored.status) == (D("0.123"), D("100.12"), "open")


def test_below_the_minimum_after_rounding_records_and_sends_nothing(bot):
    connector = connector_for(bot.account)
    with pytest.raises(InvalidOrder):
        place_order(connector, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                    amount=D("0.0009"), price=D("100"), market=connector.market("SOL/USDC"))
    assert not Order.objects.exists()


class Spy:
    """A venue stand-in around the real paper connector that looks at the database while called."""

    def __init__(self, inner, fail=None):
        self.inner, self.fail, self.seen = inner, fail, []

    def create_order(self, request):
        self.seen.append((Order.objects.get(client_order_id=request.client_order_id).status,
                          connection.in_atomic_block))
        if self.fail:
            raise self.fail
        return self.inner.create_order(request)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_order_is_recorded_before_it_is_sent_and_no_transaction_is_open(transactional_db):
    bot = BotFactory(status=Bot.Status.RUNNING, symbol="SOL/USDC")
    inner = connector_for(bot.account)
    spy = Spy(inner)
    place_order(spy, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit", amount=D("0.1"),
                price=D("100"), market=inner.market("SOL/USDC"))
    assert spy.seen == [("pending", False)]


def test_venue_that_cannot_say_leaves_the_order_unknown_not_failed(bot):
    inner = connector_for(bot.account)
    spy = Spy(inner, fail=OrderStateUnknown("could not tell", exchange="paper"))
    with pytest.raises(OrderStateUnknown):
        place_order(spy, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                    amount=D("0.1"), price=D("100"), market=inner.market("SOL/USDC"))
    assert Order.objects.get().status == Order.Status.UNKNOWN


def test_a_timeout_is_never_called_a_rejection(bot):
    inner = connector_for(bot.account)
    spy = Spy(inner, fail=ExchangeTimeout("slow", exchange="paper"))
    with pytest.raises(ExchangeTimeout):
        place_order(spy, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                    amount=D("0.1"), price=D("100"), market=inner.market("SOL/USDC"))
    assert Order.objects.get().status == Order.Status.UNKNOWN


def test_refusal_is_recorded_with_the_venues_words(bot):
    inner = connector_for(bot.account)
    spy = Spy(inner, fail=InsufficientFunds("Not enough USDC: 9999 needed.", exchange="paper"))
    with pytest.raises(InsufficientFunds):
        place_order(spy, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                    amount=D("0.1"), price=D("100"), market=inner.market("SOL/USDC"))
    order = Order.objects.get()
    assert order.status == Order.Status.REJECTED and "Not enough USDC" in order.error_message


def test_a_stopped_bot_places_nothing(bot):
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    connector = connector_for(bot.account)
    with pytest.raises(BotNotRunning):
        place_order(connector, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                    amount=D("0.1"), price=D("100"), market=connector.market("SOL/USDC"))
    assert not Order.objects.exists()


def test_manual_order_has_no_bot(db):
    bot = BotFactory(symbol="SOL/USDC")  # only for its paper account
    connector = connector_for(bot.account)
    order = place_order(connector, account=bot.account, symbol="SOL/USDC", side="sell", kind="market",
                        amount=D("0.5"), market=connector.market("SOL/USDC"), reference_price=D("150"))
    assert order.bot is None and order.status == Order.Status.FILLED and order.filled == D("0.5")
    assert order.client_order_id.startswith("pl0x")


def test_cancel_follows_the_venue_and_an_unsent_order_is_gone_only_when_the_venue_says_so(bot):
    connector = connector_for(bot.account)
    market = connector.market("SOL/USDC")
    order = place_order(connector, account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                        amount=D("0.1"), price=D("100"), market=market)
    assert cancel_order(connector, order).status == Order.Status.CANCELED
    # Recorded, then the worker died before sending: the venue confirms it never got it.
    lost = Order.objects.create(account=bot.account, bot=bot, symbol="SOL/USDC", side="buy", kind="limit",
                                client_order_id=new_client_order_id(bot.pk), amount=D("0.1"), price=D("100"))
    assert refresh_order(connector, lost).status == Order.Status.CANCELED
