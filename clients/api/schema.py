"""How the OpenAPI schema describes our two ways of calling the API."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clients.principal.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Token from POST /auth/verify."}


class WalletHeaderScheme(OpenApiAuthenticationExtension):
    target_class = "clients.principal.WalletHeaderAuthentication"
    name = "walletHeader"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Wallet-Address",
                "description": "Compatibility only (API_ALLOW_WALLET_HEADER); never in production."}
