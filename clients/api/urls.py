from clients.api import views
from pipelabs.api.base import route

CLIENT = r"clients/(?P<client_id>[^/]+)"

urlpatterns = [
    route(r"auth/message/(?P<wallet>[^/]+)", views.SignInMessageView.as_view(), "auth-message"),
    route(r"auth/verify", views.VerifyView.as_view(), "auth-verify"),
    route(r"clients", views.ClientsView.as_view(), "clients"),
    route(r"clients/create", views.ClientCreateView.as_view(), "clients-create"),
    route(r"clients/by-wallet/(?P<wallet>[^/]+)", views.ByWalletView.as_view(), "client-by-wallet"),
    route(r"exchanges/credentials", views.CredentialsView.as_view(), "exchange-credentials"),
    route(CLIENT, views.ClientDetailView.as_view(), "client"),
    route(CLIENT + r"/management-mode", views.ManagementModeView.as_view(), "client-management-mode"),
    route(CLIENT + r"/setup-bot", views.SetupBotView.as_view(), "client-setup-bot"),
    route(CLIENT + r"/rotate-key", views.RotateKeyView.as_view(), "client-rotate-key"),
    route(CLIENT + r"/revoke-key", views.RevokeKeyView.as_view(), "client-revoke-key"),
    route(CLIENT + r"/key-status", views.KeyStatusView.as_view(), "client-key-status"),
    route(CLIENT + r"/connector", views.ClientConnectorView.as_view(), "client-connector"),
    route(CLIENT + r"/wallet", views.WalletAddView.as_view(), "client-wallet"),
    route(CLIENT + r"/wallet/(?P<wallet_id>[^/]+)", views.WalletDetailView.as_view(), "client-wallet-detail"),
]
