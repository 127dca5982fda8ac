from functools import wraps

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DataError, models, transaction
from django.http import HttpResponseRedirect

from pipelabs.display import amount
from pipelabs.models import WorkerHeartbeat

SHOWN = "_shown"

BAD_FILTER = "The filter {params} is not valid here (a value out of range or of the wrong kind); showing everything."


class FiguresAdmin(admin.ModelAdmin):
    """Decimal columns read as people write them: '12,345.6789', not '12345.678900000000000000'.

    In lists and on read-only pages each decimal field is swapped for a display of the same name
    plus SHOWN; sorting still uses the column.
    """

    def _decimal(self, name):
        try:
            return isinstance(self.model._meta.get_field(name), models.DecimalField)
        except (FieldDoesNotExist, TypeError):
            return False

    def __getattr__(self, name):
        if name.endswith(SHOWN) and self._decimal(name[: -len(SHOWN)]):
            column = name[: -len(SHOWN)]

            def show(obj):
                return amount(getattr(obj, column))

            show.short_description = self.model._meta.get_field(column).verbose_name
            show.admin_order_field = column
            return show
        raise AttributeError(name)

    def get_list_display(self, request):
        return [f"{name}{SHOWN}" if isinstance(name, str) and self._decimal(name) else name
                for name in super().get_list_display(request)]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [f"{name}{SHOWN}" if self._decimal(name) else name for name in fields]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return [f"{name}{SHOWN}" if self._decimal(name) else name for name in fields]
        return fields


class ReadOnlyAdmin(FiguresAdmin):
    """Rows written by services and venues: operators look, they do not add or edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a trade, a snapshot or an audit row would rewrite history the figures rest on.
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
# "View site" opens the client API's documentation: the platform has no public site of its own.
admin.site.site_url = "/api/docs/"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "seen_at")
    readonly_fields = ("name", "host", "pid", "seen_at")

    def has_add_permission(self, request):
        return False
