from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pipelabs import admin_views, health

handler404 = "pipelabs.api.exceptions.json_404"
handler500 = "pipelabs.api.exceptions.json_500"

urlpatterns = [
    re_path(r"^health/?$", health.health, name="health"),
    re_path(r"^health/bot-runner/?$", health.bot_runner, name="health-bot-runner"),
    re_path(r"^egress-ip/?$", health.egress_ip, name="egress-ip"),
    # The earlier system's path, kept for operators' bookmarks and scripts.
    re_path(r"^railway-ip/?$", health.egress_ip, name="railway-ip"),
    path("admin/kill-switch/", admin.site.admin_view(admin_views.kill_switch), name="kill-switch"),
    path("admin/api-token/", admin.site.admin_view(admin_views.api_token), name="api-token"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The client API sits at the root, path for path as the frontend calls it; the bots' routes
    # first, as the frontend polls them (their paths overlap no other app's).
    path("", include("bots.api.urls")),
    path("", include("clients.api.urls")),
    path("", include("ledger.api.urls")),
]
