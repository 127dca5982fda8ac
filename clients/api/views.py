from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clients import signin
from clients.api.serializers import SignInMessageSerializer, TokenSerializer, VerifySerializer
from clients.principal import canonical_wallet
from pipelabs.middleware import client_key, _limited

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


class SignInMessageView(APIView):
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


class VerifyView(APIView):
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
