from django.contrib import admin

from pipelabs.models import WorkerHeartbeat

class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services and venues: operators look, they do not add or edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.site_header = "pipelabs operations"
admin.site.site_title = "pipelabs"
admin.site.index_title = "Clients, bots and money"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "seen_at")
    readonly_fields = ("name", "host", "pid", "seen_at")

    def has_add_permission(self, request):
        return False
