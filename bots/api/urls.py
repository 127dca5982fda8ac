from bots.api import views
from pipelabs.api.base import route

BOT = r"bots/(?P<bot_id>[^/]+)"

urlpatterns = [
    route(r"bots", views.BotsView.as_view(), "bots"),
    route(r"bots/create", views.BotCreateView.as_view(), "bots-create"),
    route(r"bots/health/summary", views.HealthSummaryView.as_view(), "bots-health-summary"),
    route(BOT, views.BotDetailView.as_view(), "bot"),
    route(BOT + r"/balance-and-volume", views.BalanceAndVolumeView.as_view(), "bot-balance-and-volume"),
    route(BOT + r"/stats", views.StatsView.as_view(), "bot-stats"),
    route(BOT + r"/trades", views.TradesView.as_view(), "bot-trades"),
    route(BOT + r"/add-exchange-credentials", views.AddCredentialsView.as_view(), "bot-add-credentials"),
    route(BOT + r"/start", views.StartView.as_view(), "bot-start"),
    route(BOT + r"/stop", views.StopView.as_view(), "bot-stop"),
    route(r"orders/place", views.PlaceOrderView.as_view(), "orders-place"),
]
