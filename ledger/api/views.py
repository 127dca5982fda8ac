from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from bots.services import normalise_symbol
from clients.selectors import access_client
from exchanges.models import ExchangeAccount
from ledger.selectors import current_balances, portfolio, stored_price
from clients.api.permissions import AdminWrites
from pipelabs.api.base import ApiView

PRICE_NOT_FOUND = "Price not found: no stored price for {pair} on {connector} yet."
PRICE_PARAMS = "Give connector and pair, e.g. ?connector=bitmart&pair=SHARP/USDT."

BALANCE = inline_serializer("AccountBalance", {
    "asset": serializers.CharField(), "total": serializers.DecimalField(38, 18),
    "available": serializers.DecimalField(38, 18), "locked": serializers.DecimalField(38, 18),
    "exchange": serializers.CharField(), "taken_at": serializers.DateTimeField(),
})


class AdminClientBalancesView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(tags=["portfolio"], responses=inline_serializer("ClientBalances", {"balances": BALANCE}))
    def get(self, request, client_id):
        client = access_client(request.user, client_id)
        ids = ExchangeAccount.objects.filter(client=client).values_list("pk", flat=True)
        return Response({"client_id": client.pk, "balances": current_balances(ids)})


class PortfolioView(ApiView):
    permission_classes = [AdminWrites]
    @extend_schema(tags=["portfolio"], parameters=[OpenApiParameter("account", str, required=False)],
                   responses=inline_serializer("Portfolio", {"exchanges": serializers.ListField(),
                                                             "balances": serializers.ListField(),
                                                             "total_usd": serializers.DecimalField(38, 18)}))
    def get(self, request):
        account = request.query_params.get("account") or ""
        accounts = ExchangeAccount.objects.all()
        if request.user.sees_all_clients and account:
            try:
                accounts = accounts.filter(client=access_client(request.user, account))
            except Http404:
                accounts = accounts.filter(name=account)
        else:
            if request.user.client_id is None:
                raise Http404("Client not found")
            accounts = accounts.filter(client_id=request.user.client_id)
            if account and not account.startswith("acct_"):
                accounts = accounts.filter(name=account)
        return Response({"account": account or None, **portfolio(accounts.values_list("pk", flat=True))})


class MarketPriceView(ApiView):
    permission_classes = [AdminWrites]
    @extend_schema(tags=["portfolio"], parameters=[OpenApiParameter("connector", str), OpenApiParameter("pair", str)],
                   responses=inline_serializer("MarketPrice", {
                       "connector": serializers.CharField(), "pair": serializers.CharField(),
                       "price": serializers.DecimalField(38, 18), "source": serializers.CharField(),
                       "taken_at": serializers.DateTimeField(), "age_s": serializers.FloatField()}))
    def get(self, request):
        connector = (request.query_params.get("connector") or request.query_params.get("exchange") or "").strip().lower()
        pair = normalise_symbol(request.query_params.get("pair") or request.query_params.get("symbol")).replace("-", "/")
        if not connector or not pair or len(connector) > 40 or len(pair) > 40:
            raise ValidationError({"pair": PRICE_PARAMS})
        own = ExchangeAccount.objects.filter(exchange="paper")
        if not request.user.sees_all_clients:
            own = own.filter(client_id=request.user.client_id)
        snapshot = stored_price(connector, pair, account_ids=list(own.values_list("pk", flat=True)[:1000]))
        if snapshot is None:
            raise Http404(PRICE_NOT_FOUND.format(pair=pair, connector=connector))
        return Response({
            "connector": connector, "pair": pair, "price": snapshot.price, "source": snapshot.source,
            "taken_at": snapshot.taken_at, "age_s": round((timezone.now() - snapshot.taken_at).total_seconds(), 3),
        })
