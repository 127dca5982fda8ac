import csv

from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from bots import intake, selectors
from bots.api import hot
from bots.api.serializers import (
    BotCreateSerializer, BotListSerializer, BotSerializer, BotUpdateSerializer, CredentialsSerializer,
    OrderPlaceSerializer, StopSerializer, balance_json, bot_json, order_json, pnl_json,
)
from bots.manual import place_manual_order
from bots.services import start_bot, stop_bot
from bots.models import Bot, Order
from bots.services import delete_bots, update_bot
from clients.selectors import acting_client
from exchanges.models import ExchangeAccount
from exchanges.errors import ExchangeTimeout, OrderStateUnknown
from ledger import prices
from ledger.models import BotTrade
from ledger.selectors import balances_for_bot, pnl_for_bot, stats_for_bot, summaries_for_bots, volume_for_bots
from clients.api.permissions import AdminWrites
from pipelabs.api.base import ApiView, deleted
from pipelabs.api.exceptions import Conflict
from pipelabs.api.idempotency import HEADER, idempotent
from pipelabs.api.memo import ListCache, writes_version
from pipelabs.api.wire import dumps

DEFAULT_PAGE_SIZE = 100
IDEMPOTENCY_KEY = OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False,
                                   description="Retry-safe: the same key and body answer the first result again.")
MAX_PAGE_SIZE = 500
TRUE = ("1", "true", "yes", "on")
list_cache = ListCache("API_LIST_CACHE_S", shared=True)
detail_cache = ListCache("API_DETAIL_CACHE_S")
BAD_PAGE = "{name} is a whole number from 1 to {high}."
NO_SUCH_ACCOUNT = "No exchange account of this bot's client has this name."
READ_ONLY = "{field} cannot be changed here."
RECENT_TRADES = 20
CSV_MAX_ROWS = 100_000


def _page(params) -> tuple[int, int]:
    values = {}
    for name, default, high in (("page", 1, 10**9), ("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)):
        raw = params.get(name) or params.get("limit" if name == "page_size" else "_")
        raw = default if raw in (None, "") else raw
        if not (str(raw).isascii() and str(raw).isdigit()) or not 1 <= int(raw) <= high:
            raise ValidationError({name: BAD_PAGE.format(name=name, high=high)})
        values[name] = int(raw)
    return values["page"], values["page_size"]


def _with_figures(bots: list, now) -> list[dict]:
    summaries = summaries_for_bots(bots, now=now)
    answer = []
    for bot in bots:
        item = bot_json(bot, now)
        figures = summaries[bot.pk]
        item["balance"] = balance_json(bot, figures["balances"], figures["volume"])
        item["pnl"] = pnl_json(figures["pnl"])
        answer.append(item)
    return answer


def bots_answer(principal, params) -> bytes:
    """The rendered list for ``params``; an unchanged list (same bots, none updated: one query says)
    comes from memory, this process's or another's, for up to API_LIST_CACHE_S."""
    page, size = _page(params)
    queryset = selectors.bots_for(principal, account=params.get("account"), bot_type=params.get("bot_type"),
                                  status=params.get("status"))
    # Keyed by whose view it is: a client's own bots, or every client's.
    scope = "all" if principal.sees_all_clients else principal.client_id
    key = (scope, tuple(sorted(params.items())))
    version = writes_version()
    cached = list_cache.unchanged(key, version)
    if cached is not None:
        return cached
    stamp = hot.list_stamp(key, queryset)
    list_cache.stamp_read(key, version, scope, stamp)

    def build():
        built_stamp = hot.list_stamp(key, queryset)
        bots = list(queryset[(page - 1) * size: page * size])
        now = timezone.now()
        if str(params.get("include_balances", "")).lower() in TRUE:
            items = _with_figures(bots, now)
        else:
            items = [bot_json(bot, now) for bot in bots]
        return built_stamp, dumps({"bots": items, "count": built_stamp[0], "page": page, "page_size": size})

    return list_cache.answer(key, stamp, build)


def bot_answer(principal, bot_id) -> bytes:
    """One bot rendered; answered from this process's memory while its row (every field the answer
    shows) is unchanged, for up to API_DETAIL_CACHE_S (its health reads the heartbeat's age). The row
    is not read again while no write went through the API since it was; the caller's right to see the
    bot is checked against the row's client either way."""
    bot_id = hot.bot_id_from(bot_id)
    version = writes_version()
    cached = detail_cache.unchanged(bot_id, version,
                                    lambda owner: principal.sees_all_clients or owner == principal.client_id)
    if cached is not None:
        return cached
    row = hot.bot_row(principal, bot_id)
    if row is None:
        raise Http404(selectors.BOT_NOT_FOUND)
    detail_cache.stamp_read(bot_id, version, row[hot.BOT_CLIENT], row)
    cached = detail_cache.get(bot_id, row)
    if cached is None:
        cached = dumps(bot_json(selectors.access_bot(principal, bot_id)))
        detail_cache.put(bot_id, row, cached)
    return cached


class BotsView(hot.HotGetMixin, ApiView):
    @extend_schema(
        parameters=[*(OpenApiParameter(name, str, required=False)
                      for name in ("account", "bot_type", "status", "include_balances")),
                    # _page's bounds, so a schema-valid page is one the view accepts.
                    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 10**9}, required=False),
                    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                                     required=False)],
        responses=BotListSerializer, tags=["bots"], operation_id="bots_list",
    )
    def get(self, request):
        return hot.json_bytes(bots_answer(request.user, request.query_params))

    def hot_get(self, request, principal):
        try:
            return hot.json_bytes(bots_answer(principal, request.GET))
        except ValidationError:
            return None  # the ordinary path answers the 400

    @extend_schema(request=BotCreateSerializer, responses={201: BotSerializer}, tags=["bots"],
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request):
        return create(request)


def create(request):
    body = BotCreateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    client = acting_client(request.user, client_id=data.get("client_id"),
                           account_identifier=data.get("account_identifier"),
                           header=request.headers.get("X-Client-ID"))
    bot, notice = intake.create_bot_for(client, data, actor=request.user.actor)
    answer = bot_json(Bot.objects.select_related("account").get(pk=bot.pk))
    if notice:
        answer["notice"] = notice
    return Response(answer, status=201)


class BotCreateView(ApiView):
    @extend_schema(request=BotCreateSerializer, responses={201: BotSerializer}, tags=["bots"],
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request):
        return create(request)


class BotDetailView(hot.HotGetMixin, ApiView):
    trader_methods = ("PUT", "PATCH")  # edit a bot's config; deleting it is an admin's or its client's

    @extend_schema(responses=BotSerializer, tags=["bots"])
    def get(self, request, bot_id):
        return hot.json_bytes(bot_answer(request.user, bot_id))

    def hot_get(self, request, principal, bot_id):
        try:
            return hot.json_bytes(bot_answer(principal, bot_id))
        except Http404:
            return None  # the ordinary path answers the 404

    @extend_schema(request=BotUpdateSerializer, responses=BotSerializer, tags=["bots"])
    def put(self, request, bot_id):
        return self._update(request, bot_id)

    @extend_schema(request=BotUpdateSerializer, responses=BotSerializer, tags=["bots"])
    def patch(self, request, bot_id):
        return self._update(request, bot_id)

    def _update(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        body = BotUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        current = bot_json(bot)
        errors = {field: READ_ONLY.format(field=field) for field in ("status", "connector", "exchange")
                  if field in data and data[field] != current[field]}
        if errors:
            raise ValidationError(errors)
        changes = {field: data[field] for field in ("name", "bot_type", "config") if field in data}
        if "pair" in data or "symbol" in data:
            changes["symbol"] = data.get("pair") or data.get("symbol")
        if "account" in data and data["account"] != bot.account.name:
            account = ExchangeAccount.objects.filter(client_id=bot.client_id, name=data["account"]).first()
            if account is None:
                raise ValidationError({"account": NO_SUCH_ACCOUNT})
            changes["account"] = account
        update_bot(bot, actor=request.user.actor, **changes)
        return Response(bot_json(selectors.access_bot(request.user, bot.pk)))

    @extend_schema(responses=inline_serializer("Deleted", {"status": serializers.CharField(),
                                                           "id": serializers.IntegerField()}), tags=["bots"])
    def delete(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        try:
            delete_bots([bot], actor=request.user.actor)
        except ValidationError as exc:
            if getattr(exc, "code", None) == "bot_not_stopped":
                raise Conflict(exc.messages[0]) from None
            raise
        return Response(deleted(bot.pk))


class BalanceAndVolumeView(ApiView):
    @extend_schema(tags=["bots"], responses=inline_serializer("BalanceAndVolume", {
        "bot_id": serializers.IntegerField(), "bot_type": serializers.CharField(), "pair": serializers.CharField(),
        "available": serializers.DictField(), "locked": serializers.DictField(), "volume": serializers.DictField(),
        "pnl": serializers.DictField(), "balance_taken_at": serializers.DateTimeField(allow_null=True),
        "error": serializers.CharField(required=False),
    }))
    def get(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        now = timezone.now()
        balances = balances_for_bot(bot)
        day, total = volume_for_bots([bot], "24h", now=now)[bot.pk], volume_for_bots([bot], "all", now=now)[bot.pk]
        pnl = pnl_for_bot(bot)
        figures = balance_json(bot, balances, day)
        answer = {
            "bot_id": bot.pk, "bot_type": bot.bot_type, "pair": bot.symbol,
            "available": figures["available"], "locked": figures["locked"],
            "volume": {
                "window": day["window"], "since": day["since"],
                "value_usd": day["usd_volume"], "total_volume_usd": total["usd_volume"],
                "quote_volume": day["quote_volume"], "total_quote_volume": total["quote_volume"],
                "quote_currency": day["quote_currency"],
                "buy_count": day["buy_count"], "sell_count": day["sell_count"],
                "usd_rate": day["usd_rate"], "as_of": now,
            },
            "pnl": pnl_json(pnl),
            "balance_taken_at": balances["taken_at"],
            "balance_is_stale": balances["is_stale"],
            "price_taken_at": (pnl["mark"] or {}).get("taken_at"),
        }
        if "error" in figures:
            answer["error"] = figures["error"]
        return Response(answer)


def _usd_rate(bot):
    snapshots = prices.load_snapshots(prices.usd_symbols(bot.quote))
    return prices.usd_rate(bot.quote, prices.venue_key(bot.account.exchange, bot.account_id), snapshots)


def _trade_json(trade: BotTrade, rate) -> dict:
    return {
        "id": trade.pk, "created_at": trade.traded_at, "traded_at": trade.traded_at, "side": trade.side,
        "amount": trade.amount, "price": trade.price, "cost": trade.cost, "fee": trade.fee,
        "fee_currency": trade.fee_currency, "exchange_trade_id": trade.exchange_trade_id,
        "value_usd": None if rate is None else trade.cost * rate.value,
    }


class StatsView(ApiView):
    @extend_schema(tags=["bots"], responses=inline_serializer("BotStats", {
        "bot_id": serializers.IntegerField(), "total_trades": serializers.IntegerField(),
        "buy_count": serializers.IntegerField(), "sell_count": serializers.IntegerField(),
        "windows": serializers.DictField(), "pnl": serializers.DictField(), "daily": serializers.ListField(),
        "recent_trades": serializers.ListField(),
    }))
    def get(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        stats = stats_for_bot(bot)
        every = stats["windows"]["all"]
        rate = _usd_rate(bot)
        recent = BotTrade.objects.filter(bot=bot).order_by("-traded_at", "-id")[:RECENT_TRADES]
        return Response({
            "bot_id": bot.pk, "pair": bot.symbol,
            "total_trades": every["trade_count"], "buy_count": every["buy_count"], "sell_count": every["sell_count"],
            "volume_24h_usd": stats["windows"]["24h"]["usd_volume"], "total_volume_usd": every["usd_volume"],
            "windows": stats["windows"], "pnl": pnl_json(stats["pnl"]), "daily": stats["daily"],
            "recent_trades": [_trade_json(trade, rate) for trade in recent],
        })


class _Echo:
    def write(self, value):
        return value


class TradesView(ApiView):
    @extend_schema(tags=["bots"], parameters=[OpenApiParameter("format", str, enum=["json", "csv"], required=False),
                                              OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
                   responses=inline_serializer("BotTrades", {"trades": serializers.ListField(),
                                                             "count": serializers.IntegerField()}))
    def get(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        trades = BotTrade.objects.filter(bot=bot).order_by("-traded_at", "-id")
        rate = _usd_rate(bot)
        if request.query_params.get("format") == "csv":
            return self._csv(bot, trades, rate)
        page, size = _page(request.query_params)
        rows = trades[(page - 1) * size: page * size]
        return Response({"bot_id": bot.pk, "trades": [_trade_json(t, rate) for t in rows], "count": trades.count(),
                         "page": page, "page_size": size})

    def _csv(self, bot, trades, rate):
        columns = ["id", "traded_at", "side", "amount", "price", "cost", "fee", "fee_currency", "value_usd",
                   "exchange_trade_id"]
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(columns)
            for trade in trades[:CSV_MAX_ROWS].iterator(chunk_size=2000):
                item = _trade_json(trade, rate)
                item["traded_at"] = item["traded_at"].isoformat()
                yield writer.writerow(["" if item[c] is None else item[c] for c in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="bot-{bot.pk}-trades.csv"'
        return response


class HealthSummaryView(ApiView):
    @extend_schema(tags=["bots"], responses=inline_serializer("BotHealthSummary", {
        name: serializers.IntegerField() for name in ("total", "running", "stopped", "error", "stale", "healthy")
    }))
    def get(self, request):
        return Response(selectors.health_summary(request.user))


class AddCredentialsView(ApiView):
    @extend_schema(request=CredentialsSerializer, tags=["bots"], responses=inline_serializer("CredentialsSaved", {
        "status": serializers.CharField(), "bot_id": serializers.IntegerField(),
        "api_key_preview": serializers.CharField(allow_null=True), "has_key": serializers.BooleanField(),
    }))
    def post(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        body = CredentialsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        keys = intake.keys_from(body.validated_data)
        if not keys.has_api_key and not keys.private_key:
            raise ValidationError({"api_key": intake.CREDENTIALS_REQUIRED})
        intake.store_keys(bot.account, keys, actor=request.user.actor)
        credential = getattr(ExchangeAccount.objects.select_related("credential").get(pk=bot.account_id),
                             "credential", None)
        return Response({"status": "saved", "bot_id": bot.pk,
                         "api_key_preview": credential.key_hint if credential else None,
                         "has_key": credential is not None,
                         "has_wallet_key": bool(bot.account.wallet and bot.account.wallet.has_private_key)})


class StartView(ApiView):
    """Start the bot (idempotent: a running bot is left running); 409 while it is stopping or the
    kill switch is on. Its first tick reconciles its orders with the venue before trading."""

    trader_methods = ("POST",)

    @extend_schema(request=None, responses=BotSerializer, tags=["bots"])
    def post(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        start_bot(bot, actor=request.user.actor)
        return Response(bot_json(selectors.access_bot(request.user, bot.pk)))


STOP_UNDER_WAY = "Stopping: the engine cancels its open orders and syncs its fills, then it reads stopped."


class StopView(ApiView):
    """Stop the bot (idempotent). It moves to stopping at once and places nothing more; the engine
    cancels its open orders (unless keep_orders) and syncs its last fills, so no venue is waited on here."""

    trader_methods = ("POST",)

    @extend_schema(request=StopSerializer, responses=BotSerializer, tags=["bots"])
    def post(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        body = StopSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stopped = stop_bot(bot, actor=request.user.actor, keep_orders=body.validated_data["keep_orders"],
                           finish=False)
        answer = bot_json(selectors.access_bot(request.user, bot.pk))
        answer["lifecycle_status"] = stopped.status
        if stopped.status == Bot.Status.STOPPING:
            answer["message"] = STOP_UNDER_WAY
        return Response(answer)


NO_SUCH_ORDER_ACCOUNT = "No exchange account of this client matches; give account_id, or account and connector."


class PlaceOrderView(ApiView):
    """A manual order for a client's account (admins): limit, or ``type: "market"`` (no price) on the
    venues that take one cleanly (paper, BitMart, Coinstore, Jupiter; elsewhere a 400). Recorded as an
    order of no bot, audited, sent through the guard within MANUAL_ORDER_TIMEOUT_S; the venue's
    refusal or silence is the answer."""

    permission_classes = [AdminWrites]

    @extend_schema(request=OrderPlaceSerializer, parameters=[IDEMPOTENCY_KEY], tags=["orders"],
                   responses={201: inline_serializer("PlacedOrder", {
                       "id": serializers.IntegerField(), "client_order_id": serializers.CharField(),
                       "status": serializers.CharField(), "type": serializers.ChoiceField(["limit", "market"]),
                       "amount": serializers.DecimalField(38, 18),
                       "price": serializers.DecimalField(38, 18, allow_null=True)})})
    @idempotent
    def post(self, request):
        body = OrderPlaceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        client = acting_client(request.user, client_id=data.get("client_id"),
                               account_identifier=data.get("account_identifier"),
                               header=request.headers.get("X-Client-ID"))
        accounts = ExchangeAccount.objects.filter(client=client)
        if data.get("account_id"):
            accounts = accounts.filter(pk=data["account_id"])
        else:
            if data.get("account"):
                accounts = accounts.filter(name=data["account"])
            if data.get("connector") or data.get("exchange"):
                accounts = accounts.filter(exchange=(data.get("connector") or data.get("exchange")).lower())
        found = list(accounts[:2])
        if len(found) != 1:
            raise ValidationError({"account": NO_SUCH_ORDER_ACCOUNT})
        symbol = intake.pair_from(data)
        try:
            order = place_manual_order(found[0], symbol=symbol, side=data["side"], amount=data["amount"],
                                       price=data.get("price"), actor=request.user.actor,
                                       kind=data.get("type") or data.get("order_type") or Order.Kind.LIMIT)
        except (ExchangeTimeout, OrderStateUnknown) as exc:
            answer = {"detail": str(exc), "code": exc.code}
            if getattr(exc, "client_order_id", ""):
                answer["client_order_id"] = exc.client_order_id
            return Response(answer, status=504)
        return Response(order_json(order), status=201)
