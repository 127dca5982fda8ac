"""The bots' wire shapes. Lists are built as plain dicts (a hundred bots per request, no per-field
serializer overhead); the Serializer classes validate input and describe answers in OpenAPI."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from bots.models import Bot
from bots.selectors import api_status, health_of
from clients.api.serializers import StrictSerializer
from pipelabs.api.wire import plain_json

MAX_ID = 2**63 - 1
NOT_FOUND_BALANCE = "Balance not found: {reason}"
TYPES_DIFFER = "type and order_type differ; send one of them."


class ConfigField(serializers.DictField):
    """A JSON object; its numbers stay exact (plain_json) for the config schema to read."""

    def to_internal_value(self, data):
        return plain_json(super().to_internal_value(data))


class KeysMixin(serializers.Serializer):
    api_key = serializers.CharField(max_length=512, required=False, allow_blank=True, write_only=True)
    apiKey = serializers.CharField(max_length=512, required=False, allow_blank=True, write_only=True)
    api_secret = serializers.CharField(max_length=1024, required=False, allow_blank=True, write_only=True)
    apiSecret = serializers.CharField(max_length=1024, required=False, allow_blank=True, write_only=True)
    secret = serializers.CharField(max_length=1024, required=False, allow_blank=True, write_only=True)
    secret_key = serializers.CharField(max_length=1024, required=False, allow_blank=True, write_only=True)
    memo = serializers.CharField(max_length=256, required=False, allow_blank=True, write_only=True)
    uid = serializers.CharField(max_length=256, required=False, allow_blank=True, write_only=True)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, write_only=True)
    private_key = serializers.CharField(max_length=1024, required=False, allow_blank=True, write_only=True)


class BotCreateSerializer(StrictSerializer, KeysMixin):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    account = serializers.CharField(max_length=100, required=False, allow_blank=True)
    connector = serializers.CharField(max_length=40, required=False, allow_blank=True)
    exchange = serializers.CharField(max_length=40, required=False, allow_blank=True)
    pair = serializers.CharField(max_length=40, required=False, allow_blank=True)
    symbol = serializers.CharField(max_length=40, required=False, allow_blank=True)
    base_asset = serializers.CharField(max_length=20, required=False, allow_blank=True)
    quote_asset = serializers.CharField(max_length=20, required=False, allow_blank=True)
    bot_type = serializers.CharField(max_length=20, required=False, allow_blank=True)
    strategy = serializers.CharField(max_length=40, required=False, allow_blank=True)
    config = ConfigField(required=False, allow_empty=True)
    client_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    account_identifier = serializers.CharField(max_length=40, required=False)


class BotUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    pair = serializers.CharField(max_length=40, required=False)
    symbol = serializers.CharField(max_length=40, required=False)
    bot_type = serializers.CharField(max_length=20, required=False)
    config = ConfigField(required=False, allow_empty=True)
    account = serializers.CharField(max_length=100, required=False)
    # Read-only fields the frontend's edit form sends back unchanged; ignored when equal.
    id = serializers.IntegerField(required=False)
    status = serializers.CharField(required=False)
    connector = serializers.CharField(required=False)
    exchange = serializers.CharField(required=False)
    strategy = serializers.CharField(required=False, allow_blank=True)


class CredentialsSerializer(StrictSerializer, KeysMixin):
    pass


def bot_json(bot: Bot, now=None) -> dict:
    health, message = health_of(bot, now)
    return {
        "id": bot.pk,
        "name": bot.name,
        "client_id": bot.client_id,
        "account": bot.account.name,
        "account_id": bot.account_id,
        "connector": bot.account.exchange,
        "exchange": bot.account.exchange,
        "pair": bot.symbol,
        "base_asset": bot.base,
        "quote_asset": bot.quote,
        "bot_type": bot.bot_type,
        "strategy": bot.bot_type,
        "status": api_status(bot),
        "config": bot.config,
        "health_status": health,
        "health_message": message,
        "last_trade_time": bot.last_trade_at,
        "last_heartbeat": bot.heartbeat_at,
        "created_at": bot.created_at,
        "updated_at": bot.updated_at,
    }


def pnl_json(pnl: dict) -> dict:
    usd = pnl["usd"] or {}
    return {
        "realized_usd": usd.get("realized"),
        "unrealized_usd": usd.get("unrealized"),
        "total_usd": usd.get("total"),
        "currency": pnl["currency"],
        "realized": pnl["realized"],
        "unrealized": pnl["unrealized"],
        "total": pnl["total"],
        "mark": pnl["mark"],
        "reason": pnl["unrealized_reason"] or pnl["usd_reason"],
    }


def balance_json(bot: Bot, balances: dict, volume: dict) -> dict:
    pair_assets = (bot.base.upper(), bot.quote.upper())
    by_asset = {a["asset"].upper(): a for a in balances["assets"]}
    answer = {
        "available": {asset: by_asset[asset]["available"] if asset in by_asset else 0 for asset in pair_assets},
        "locked": {asset: by_asset[asset]["locked"] if asset in by_asset else 0 for asset in pair_assets},
        "volume_24h": volume["usd_volume"] if volume["usd_volume"] is not None else volume["quote_volume"],
        "volume_24h_currency": "USD" if volume["usd_volume"] is not None else volume["quote_currency"],
        "trades_24h": {"buys": volume["buy_count"], "sells": volume["sell_count"]},
        "taken_at": balances["taken_at"],
        "age_s": balances.get("age_s"),
        "is_stale": balances["is_stale"],
    }
    if balances["reason"]:
        answer["error"] = NOT_FOUND_BALANCE.format(reason=balances["reason"])
    elif balances["error"]:
        answer["error"] = balances["error"]
    return answer


# --- OpenAPI descriptions of the answers ---------------------------------------------------------
class PnlSerializer(serializers.Serializer):
    realized_usd = serializers.DecimalField(38, 18, allow_null=True)
    unrealized_usd = serializers.DecimalField(38, 18, allow_null=True)
    total_usd = serializers.DecimalField(38, 18, allow_null=True)


class TradeCountSerializer(serializers.Serializer):
    buys = serializers.IntegerField()
    sells = serializers.IntegerField()


class BalanceSerializer(serializers.Serializer):
    available = serializers.DictField(child=serializers.DecimalField(38, 18))
    locked = serializers.DictField(child=serializers.DecimalField(38, 18))
    volume_24h = serializers.DecimalField(38, 18)
    trades_24h = TradeCountSerializer()
    taken_at = serializers.DateTimeField(allow_null=True)
    is_stale = serializers.BooleanField()
    error = serializers.CharField(required=False)


class BotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    client_id = serializers.IntegerField()
    account = serializers.CharField()
    connector = serializers.CharField()
    exchange = serializers.CharField()
    pair = serializers.CharField()
    base_asset = serializers.CharField()
    quote_asset = serializers.CharField()
    bot_type = serializers.ChoiceField(Bot.Type.choices)
    strategy = serializers.CharField()
    status = serializers.CharField()
    config = serializers.DictField()
    health_status = serializers.CharField()
    health_message = serializers.CharField()
    last_trade_time = serializers.DateTimeField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    balance = BalanceSerializer(required=False)
    pnl = PnlSerializer(required=False)
    notice = serializers.CharField(required=False)


class BotListSerializer(serializers.Serializer):
    bots = BotSerializer(many=True)
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()


class StopSerializer(StrictSerializer):
    keep_orders = serializers.BooleanField(required=False, default=False)


class OrderPlaceSerializer(StrictSerializer):
    account_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    account = serializers.CharField(max_length=100, required=False)
    connector = serializers.CharField(max_length=40, required=False)
    exchange = serializers.CharField(max_length=40, required=False)
    client_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    account_identifier = serializers.CharField(max_length=40, required=False)
    pair = serializers.CharField(max_length=40, required=False)
    symbol = serializers.CharField(max_length=40, required=False)
    side = serializers.ChoiceField(["buy", "sell"])
    type = serializers.ChoiceField(["limit", "market"], required=False)
    order_type = serializers.ChoiceField(["limit", "market"], required=False)
    # Numbers or strings, read exactly; bounded like the order columns (38 digits, 18 places).
    amount = serializers.DecimalField(max_digits=38, decimal_places=18, min_value=Decimal("0.000000000000000001"))
    # A limit order's; a market order has none (bots/manual.py checks which the venue takes).
    price = serializers.DecimalField(max_digits=38, decimal_places=18, min_value=Decimal("0.000000000000000001"),
                                     required=False)

    def validate(self, attrs):
        if attrs.get("type") and attrs.get("order_type") and attrs["type"] != attrs["order_type"]:
            raise serializers.ValidationError({"type": TYPES_DIFFER})
        return attrs


def order_json(order) -> dict:
    return {
        "id": order.pk, "client_order_id": order.client_order_id, "exchange_order_id": order.exchange_order_id,
        "account_id": order.account_id, "exchange": order.account.exchange, "account": order.account.name,
        "bot_id": order.bot_id, "pair": order.symbol, "side": order.side, "type": order.kind,
        "amount": order.amount, "price": order.price, "filled": order.filled, "status": order.status,
        "error": order.error_message or None, "created_at": order.created_at,
    }
