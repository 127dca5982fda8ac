from clients.api import views
from pipelabs.api.base import route

urlpatterns = [
    route(r"auth/message/(?P<wallet>[^/]+)", views.SignInMessageView.as_view(), "auth-message"),
    route(r"auth/verify", views.VerifyView.as_view(), "auth-verify"),
]
