from functools import wraps

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from django.http import HttpResponseRedirect

from pipelabs.models import AuditEvent, WorkerHeartbeat

BAD_FILTER = "The filter {params} is not valid here (a value out of range or of the wrong kind); showing everything."


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services and venues: operators look, they do not add or edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def guard_changelist_filters(admin_view):
    """Wraps the site's admin_view: a changelist whose filter values break the query (a year of
    99999999999, an id past 64 bits) redirects to the unfiltered list with a message instead of a 500.

    Django turns a bad lookup into a message only while building the queryset; these fail later,
    while the query is compiled or run, so every changelist of every app gets the same guard here.
    """

    def wrap(view, cacheable=False):
        wrapped = admin_view(view, cacheable)

        @wraps(wrapped)
        def guarded(request, *args, **kwargs):
            match = request.resolver_match
            if request.method != "GET" or not request.GET or not (match and match.url_name or "").endswith("_changelist"):
                return wrapped(request, *args, **kwargs)
            try:
                # A savepoint, so a query PostgreSQL refused leaves the connection usable for the
                # message and the redirect (and for an enclosing transaction, if any).
                with transaction.atomic():
                    return wrapped(request, *args, **kwargs)
            except (OverflowError, ValueError, DataError, ValidationError):
                params = ", ".join(f"{key}={value[:40]}" for key, value in list(request.GET.items())[:5])
                messages.error(request, BAD_FILTER.format(params=params))
                return HttpResponseRedirect(request.path)

        return guarded

    return wrap


admin.site.admin_view = guard_changelist_filters(admin.site.admin_view)
admin.site.site_header = "pipelabs operations"
admin.site.site_title = "pipelabs"
admin.site.index_title = "Clients, bots and money"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "seen_at")
    readonly_fields = ("name", "host", "pid", "seen_at")

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "target", "reason")
    list_filter = ("action",)
    search_fields = ("actor", "target", "reason")
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False
