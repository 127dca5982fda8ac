from ledger.api import views
from pipelabs.api.base import route

urlpatterns = [
    route(r"api/admin/clients/(?P<client_id>[^/]+)/balances", views.AdminClientBalancesView.as_view(),
          "admin-client-balances"),
    route(r"portfolio", views.PortfolioView.as_view(), "portfolio"),
    route(r"market/price", views.MarketPriceView.as_view(), "market-price"),
]
