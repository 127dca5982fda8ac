"""Config schemas are enforced by the bot services and shown per key by the admin."""
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from bots.models import Bot
from pipelabs.models import AuditEvent
from bots.services import create_bot, update_bot
from clients.services import create_operator
from exchanges.connectors.base import Market
from tests.factories import BotFactory, ExchangeAccountFactory

MARKETS = {"SHARP/USDT": Market("SHARP/USDT", "SHARP", "USDT", "SHARPUSDT", Decimal("0.000001"), Decimal(1),
                                min_notional=Decimal(5))}


@pytest.fixture
def operator_client(client, db):
    _, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client


def make(account, **fields):
    return create_bot(**{"client": account.client, "account": account, "name": "vol", "bot_type": "volume",
                         "symbol": "SHARP/USDT", **fields})


def test_create_bot_refuses_negative_and_absurd_amounts_one_message_per_key(db):
    account = ExchangeAccountFactory()
    with pytest.raises(ValidationError) as caught:
        make(account, config={"min_trade_usd": "-10", "daily_volume_usd": 1e30, "size": 5})
    assert sorted(caught.value.message_dict["config"]) == [
        "daily_volume_usd: Must be at most 1000000000.",
        "min_trade_usd: Must be more than 0.",
        "size: Unknown setting for a volume bot.",
    ]
    assert not Bot.objects.exists() and not AuditEvent.objects.exists()


def test_create_bot_stores_the_operators_keys_as_written(db):
    config = {"spread_percent": 1.0, "order_size_usd": "20", "poll_interval_seconds": 5}
    bot = make(ExchangeAccountFactory(), bot_type="spread", config=config)
    bot.refresh_from_db()
    assert bot.config == config


def test_create_bot_checks_the_market_when_given_a_snapshot(db):
    account = ExchangeAccountFactory()
    with pytest.raises(ValidationError) as caught:
        make(account, symbol="NOPE/USDT", markets=MARKETS)
    assert caught.value.message_dict == {"symbol": ["NOPE/USDT is not listed on this account's exchange."]}
    with pytest.raises(ValidationError) as caught:
        make(account, config={"min_trade_usd": 1}, markets=MARKETS)
    assert caught.value.message_dict == {"config": ["min_trade_usd: Below the market's minimum order value of 5 USDT."]}
    assert make(account, config={"min_trade_usd": 5}, markets=MARKETS).config == {"min_trade_usd": 5}


def test_update_bot_refuses_a_bad_config_and_keeps_the_old_one(db):
    bot = BotFactory(config={"min_trade_usd": "10"})
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", config={"min_trade_usd": "50", "max_trade_usd": "20"})
    assert caught.value.message_dict == {"config": ["min_trade_usd: Must not be more than max_trade_usd (20)."]}
    bot.refresh_from_db()
    assert bot.config == {"min_trade_usd": "10"} and not AuditEvent.objects.exists()


def test_changing_the_type_checks_the_kept_config_against_the_new_type(db):
    bot = BotFactory(bot_type="volume", config={"min_trade_usd": "10"})
    with pytest.raises(ValidationError) as caught:
        update_bot(bot, actor="op", bot_type="spread")
    assert caught.value.message_dict == {"config": ["min_trade_usd: Unknown setting for a spread bot."]}


def test_a_bot_stored_before_the_schema_can_still_be_renamed(db):
    bot = BotFactory(config={"whatever": "old"})
    update_bot(bot, actor="op", name="renamed")
    bot.refresh_from_db()
    assert bot.name == "renamed"


def test_admin_shows_one_message_per_config_key(operator_client):
    account = ExchangeAccountFactory()
    response = operator_client.post("/admin/bots/bot/add/", {
        "client": account.client.pk, "account": account.pk, "name": "mm", "bot_type": "volume",
        "symbol": "SHARP/USDT", "config__min_trade_usd": "-1", "config__max_trade_usd": "x",
        "config__interval_min_seconds": "1.5"})
    assert response.status_code == 200
    page = response.content.decode()
    for key, message in (("min_trade_usd", "Must be more than 0."), ("max_trade_usd", "Must be a number."),
                         ("interval_min_seconds", "Must be a whole number.")):
        row = page.split(f"errors field-config__{key}", 1)[1][:600]  # the message sits on its own field
        assert message in row, key
    assert not Bot.objects.exists()


def test_admin_change_refuses_a_bad_config_per_key(operator_client):
    bot = BotFactory(bot_type="spread")
    response = operator_client.post(f"/admin/bots/bot/{bot.pk}/change/", {
        "account": bot.account.pk, "name": bot.name, "bot_type": "spread", "symbol": bot.symbol,
        "config__spread_bps": "0", "config__levels": "100"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Must be more than 0." in page.split("errors field-config__spread_bps", 1)[1][:600]
    assert "Must be at most 50." in page.split("errors field-config__levels", 1)[1][:600]
    bot.refresh_from_db()
    assert bot.config == {}


def test_a_reference_price_comes_only_from_the_clients_own_account(db):
    account = ExchangeAccountFactory()
    foreign = ExchangeAccountFactory()
    config = {"price_source": "reference", "reference_account": foreign.pk}
    with pytest.raises(ValidationError) as caught:
        make(account, bot_type="spread", config=config)
    assert caught.value.message_dict == {
        "config": ["reference_account: No exchange account of this client has this id."]}
    own = ExchangeAccountFactory(client=account.client)
    assert make(account, bot_type="spread", config={**config, "reference_account": own.pk}).pk
