from django.contrib import admin

from pipelabs.models import WorkerHeartbeat

admin.site.site_header = "pipelabs operations"
admin.site.site_title = "pipelabs"
admin.site.index_title = "Clients, bots and money"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "seen_at")
    readonly_fields = ("name", "host", "pid", "seen_at")

    def has_add_permission(self, request):
        return False
