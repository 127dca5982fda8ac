from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bots import intake
from bots.api.serializers import BotCreateSerializer
from clients import services, signin
from clients.api.serializers import (
    ClientCreateSerializer, ClientOutSerializer, ClientUpdateSerializer, ConnectorInSerializer,
    ManagementModeSerializer, PrivateKeySerializer, SignInMessageSerializer, TokenSerializer, VerifySerializer,
    WalletInSerializer, client_json, connector_json, wallet_json,
)
from clients.models import Client, Wallet
from clients.principal import canonical_wallet, client_for_wallet
from clients.selectors import CLIENT_NOT_FOUND, access_client, acting_client, clients_for
from exchanges.models import ExchangeAccount
from clients.api.permissions import AdminWrites
from pipelabs.api.base import ApiView, deleted
from pipelabs.api.exceptions import Conflict
from pipelabs.middleware import _limited, client_key

SIGN_IN_LIMITED = "Too many sign-in attempts; wait a minute and try again."


def _check_sign_in_limits(request, wallet: str) -> None:
    if not settings.RATELIMIT_ENABLE:
        return
    found = canonical_wallet(wallet)
    keys = [("signin-ip", client_key(request), settings.SIGN_IN_RATE_LIMIT)]
    if found:
        keys.append(("signin-wallet", ":".join(found), settings.SIGN_IN_WALLET_RATE_LIMIT))
    for group, key, rate in keys:
        if _limited(request, group=group, key=key, rate=rate, increment=True):
            raise Throttled(detail=SIGN_IN_LIMITED)


class SignInMessageView(ApiView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses=SignInMessageSerializer, tags=["auth"])
    def get(self, request, wallet):
        _check_sign_in_limits(request, wallet)
        issued = signin.issue_message(wallet)
        return Response({"message": issued.message, "nonce": issued.nonce, "expires_at": issued.expires_at})


def user_json(client, wallet_address: str = "") -> dict:
    return {
        "id": client.pk, "email": client.email, "wallet_address": wallet_address, "role": client.role,
        "name": client.name, "account_identifier": client.account_identifier,
    }


class VerifyView(ApiView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=VerifySerializer, responses=TokenSerializer, tags=["auth"])
    def post(self, request):
        body = VerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        _check_sign_in_limits(request, data["wallet_address"])
        try:
            done = signin.verify_sign_in(address=data["wallet_address"], message=data["message"],
                                         signature=data["signature"])
        except signin.SignInRefused as exc:
            code = "not_registered" if exc.status == 403 else "authentication_failed"
            response = Response({"detail": str(exc), "code": code}, status=exc.status)
            if exc.status == 401:
                response["WWW-Authenticate"] = "Bearer"
            return response
        return Response({
            "access_token": done.token, "token_type": "bearer", "expires_at": done.expires_at,
            "user": user_json(done.client, canonical_wallet(data["wallet_address"])[1]),
        })


# --- clients ------------------------------------------------------------------------------------


WALLET_NOT_FOUND = "Wallet not found."
WALLET = inline_serializer("Wallet", {"id": serializers.IntegerField(), "address": serializers.CharField(),
                                      "chain": serializers.CharField(), "label": serializers.CharField(),
                                      "has_key": serializers.BooleanField()})
NO_KEY = "This client has no trading-wallet key."
STATUS_ACTIVE = {"active": True, "inactive": False}


def _with_relations(queryset):
    return queryset.prefetch_related("wallets", "exchange_accounts__credential", "exchange_accounts__wallet")


def _client(request, client_id) -> Client:
    client = access_client(request.user, client_id)
    return _with_relations(Client.objects.filter(pk=client.pk)).get()


class ByWalletView(ApiView):
    @extend_schema(responses=ClientOutSerializer, tags=["clients"])
    def get(self, request, wallet):
        client = client_for_wallet(wallet)
        if client is None or not clients_for(request.user).filter(pk=client.pk).exists():
            raise Http404(CLIENT_NOT_FOUND)
        return Response(client_json(_with_relations(Client.objects.filter(pk=client.pk)).get()))


class ClientsView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(responses=inline_serializer("ClientList", {"clients": ClientOutSerializer(many=True)}),
                   tags=["clients"], operation_id="clients_list")
    def get(self, request):
        return Response({"clients": [client_json(c) for c in _with_relations(Client.objects.order_by("id"))]})


class ClientCreateView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(request=ClientCreateSerializer, responses={201: ClientOutSerializer}, tags=["clients"])
    def post(self, request):
        body = ClientCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        wallets = []
        if data.get("wallet_address"):
            found = canonical_wallet(data["wallet_address"])
            wallets.append((data.get("chain") or (found[0] if found else "solana"), data["wallet_address"]))
        client = services.create_client(name=data["name"], role=data.get("role", "client"), wallets=wallets,
                                        email=data.get("email", ""),
                                        management_mode=data.get("management_mode", Client.ManagementMode.MANAGED),
                                        actor=request.user.actor)
        return Response(client_json(_client(request, client.pk)), status=201)


class ClientDetailView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(responses=ClientOutSerializer, tags=["clients"])
    def get(self, request, client_id):
        return Response(client_json(_client(request, client_id)))

    @extend_schema(request=ClientUpdateSerializer, responses=ClientOutSerializer, tags=["clients"])
    def put(self, request, client_id):
        client = _client(request, client_id)
        body = ClientUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        changes = {f: data[f] for f in ("name", "email", "role", "management_mode") if f in data}
        if "status" in data:
            changes["is_active"] = STATUS_ACTIVE[data["status"]]
        services.update_client(client, actor=request.user.actor, **changes)
        return Response(client_json(_client(request, client.pk)))

    @extend_schema(responses=inline_serializer("ClientDeleted", {"status": serializers.CharField(),
                                                                 "client_id": serializers.IntegerField()}),
                   tags=["clients"])
    def delete(self, request, client_id):
        client = _client(request, client_id)
        if client.pk == request.user.client_id:
            raise Conflict("An admin cannot delete its own client.")
        try:
            pk = services.delete_client(client, actor=request.user.actor)
        except ValidationError as exc:
            if getattr(exc, "code", None) == "client_has_live_bots":
                raise Conflict(exc.messages[0]) from None
            raise
        return Response(deleted(pk, "client_id"))


class ManagementModeView(ApiView):
    """A client chooses whether the agency operates its bots (managed) or it does (self); admins too."""

    managed_clients_may = True

    @extend_schema(request=ManagementModeSerializer, responses=ClientOutSerializer, tags=["clients"])
    def put(self, request, client_id):
        client = _client(request, client_id)
        body = ManagementModeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mode = body.validated_data.get("management_mode") or body.validated_data.get("mode")
        if not mode:
            raise ValidationError({"management_mode": "management_mode is self or managed."})
        services.update_client(client, actor=request.user.actor, management_mode=mode)
        return Response(client_json(_client(request, client.pk)))


class SetupBotView(ApiView):
    @extend_schema(request=BotCreateSerializer, tags=["clients"], responses={201: inline_serializer(
        "SetupBot", {"success": serializers.BooleanField(), "bot_id": serializers.IntegerField()})})
    def post(self, request, client_id):
        client = access_client(request.user, client_id)
        body = BotCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bot, notice = intake.create_bot_for(client, body.validated_data, actor=request.user.actor)
        answer = {"success": True, "bot_id": bot.pk}
        if notice:
            answer["notice"] = notice
        return Response(answer, status=201)


def _key_wallet(client: Client) -> Wallet | None:
    """The client's trading wallet: the one holding a key, else the newest Solana wallet."""
    wallets = list(client.wallets.filter(chain=Wallet.Chain.SOLANA).order_by("-id"))
    return next((w for w in wallets if w.has_private_key), wallets[0] if wallets else None)


def key_status_json(client: Client) -> dict:
    wallet = _key_wallet(client)
    return {
        "client_id": client.pk, "has_key": bool(wallet and wallet.has_private_key),
        "key_added_by": wallet.key_added_by if wallet and wallet.has_private_key else None,
        "key_connected_at": wallet.key_connected_at if wallet and wallet.has_private_key else None,
        "wallet_address": wallet.address if wallet else None, "chain": wallet.chain if wallet else None,
    }


KEY_STATUS = inline_serializer("KeyStatus", {
    "has_key": serializers.BooleanField(), "key_added_by": serializers.CharField(allow_null=True),
    "key_connected_at": serializers.DateTimeField(allow_null=True),
    "wallet_address": serializers.CharField(allow_null=True), "chain": serializers.CharField(allow_null=True),
})


class KeyStatusView(ApiView):
    @extend_schema(responses=KEY_STATUS, tags=["clients"])
    def get(self, request, client_id):
        return Response(key_status_json(access_client(request.user, client_id)))


class RotateKeyView(ApiView):
    @extend_schema(request=PrivateKeySerializer, responses=KEY_STATUS, tags=["clients"])
    def put(self, request, client_id):
        client = access_client(request.user, client_id)
        body = PrivateKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.store_wallet_key(client, private_key=body.validated_data["private_key"], actor=request.user.actor)
        return Response(key_status_json(client))


class RevokeKeyView(ApiView):
    @extend_schema(responses=KEY_STATUS, tags=["clients"])
    def delete(self, request, client_id):
        client = access_client(request.user, client_id)
        stopped = services_revoke_key(client, actor=request.user.actor)
        return Response({**key_status_json(client), "status": "revoked", "stopped_bots": stopped})


def services_revoke_key(client: Client, *, actor: str) -> list[int]:
    from bots.lifecycle import revoke_trading_key

    return revoke_trading_key(client, actor=actor)


class ClientConnectorView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(request=ConnectorInSerializer, tags=["clients"], responses=inline_serializer(
        "ConnectorSaved", {"status": serializers.CharField(), "connector": serializers.DictField()}))
    def put(self, request, client_id):
        client = access_client(request.user, client_id)
        return Response({"status": "saved", "connector": _save_connector(request, client)})


def _save_connector(request, client: Client) -> dict:
    body = ConnectorInSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    account = intake.account_with_keys(
        client, exchange=data.get("exchange") or data.get("connector") or "",
        name=data.get("name") or data.get("label") or data.get("account") or "", keys=intake.keys_from(data),
        actor=request.user.actor)
    return connector_json(ExchangeAccount.objects.select_related("credential", "wallet").get(pk=account.pk))


class CredentialsView(ApiView):
    """The caller's own exchange keys (an admin names the client with X-Client-ID); previews only."""

    @extend_schema(tags=["clients"], responses=inline_serializer(
        "CredentialList", {"client_id": serializers.IntegerField(), "credentials": serializers.ListField()}))
    def get(self, request):
        client = acting_client(request.user, header=request.headers.get("X-Client-ID"))
        accounts = ExchangeAccount.objects.filter(client=client).select_related("credential", "wallet")
        return Response({"client_id": client.pk, "credentials": [connector_json(a) for a in accounts]})

    @extend_schema(request=ConnectorInSerializer, tags=["clients"], responses={201: inline_serializer(
        "CredentialSaved", {"status": serializers.CharField(), "connector": serializers.DictField()})})
    def post(self, request):
        client = acting_client(request.user, header=request.headers.get("X-Client-ID"))
        return Response({"status": "saved", "connector": _save_connector(request, client)}, status=201)


class WalletAddView(ApiView):
    permission_classes = [AdminWrites]

    @extend_schema(request=WalletInSerializer, responses={201: WALLET}, tags=["clients"],
                   operation_id="client_wallet_add")
    def put(self, request, client_id):
        client = access_client(request.user, client_id)
        body = WalletInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        address = data.get("address") or data.get("wallet_address") or ""
        found = canonical_wallet(address)
        chain = data.get("chain") or (found[0] if found else "solana")
        wallet = services.add_wallet(client, chain=chain, address=address, label=data.get("label", ""),
                                     actor=request.user.actor)
        return Response(wallet_json(wallet), status=201)


class WalletDetailView(ApiView):
    permission_classes = [AdminWrites]

    def _wallet(self, request, client_id, wallet_id) -> Wallet:
        client = access_client(request.user, client_id)
        wallet = Wallet.objects.filter(client=client, pk=int(wallet_id)).first() if str(wallet_id).isascii() and str(wallet_id).isdigit() \
            and int(wallet_id) < 2**63 else None
        if wallet is None:
            raise Http404(WALLET_NOT_FOUND)
        return wallet

    @extend_schema(request=WalletInSerializer, responses=WALLET, tags=["clients"])
    def put(self, request, client_id, wallet_id):
        wallet = self._wallet(request, client_id, wallet_id)
        body = WalletInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        wallet = services.change_wallet(wallet, actor=request.user.actor,
                                        address=data.get("address") or data.get("wallet_address"),
                                        chain=data.get("chain"), label=data.get("label"))
        return Response(wallet_json(wallet))

    @extend_schema(tags=["clients"], responses=inline_serializer("WalletDeleted", {
        "status": serializers.CharField(), "id": serializers.IntegerField()}))
    def delete(self, request, client_id, wallet_id):
        wallet = self._wallet(request, client_id, wallet_id)
        return Response(deleted(services.remove_wallet(wallet, actor=request.user.actor)))
