from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DataError, models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from pipelabs.display import account_label, amount
from pipelabs.models import AuditEvent, WorkerHeartbeat
from pipelabs.selectors import usd_notes, venue_labels

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


def account_column(description="Account"):
    """A list column naming the row's account as 'Demo client · paper:main' (rows of two clients'
    'main' accounts must not look alike); the admin's list_select_related needs 'account__client'."""

    def column(obj):
        return account_label(obj.account) if obj.account_id else "-"

    column.short_description = description
    column.admin_order_field = "account__client__name"
    return column


class VenueFilter(admin.SimpleListFilter):
    """The price venue by name: a paper account's own prices are 'Demo client · paper:main', not 'paper:7'."""

    title = "venue"
    parameter_name = "exchange"

    def lookups(self, request, model_admin):
        keys = model_admin.model.objects.order_by().values_list("exchange", flat=True).distinct()
        labels = venue_labels(keys)
        return sorted(labels.items(), key=lambda item: item[1].lower())

    def queryset(self, request, queryset):
        return queryset.filter(exchange=self.value()) if self.value() else queryset


class VenueChangeList(ChangeList):
    """Names the page's price venues together: one query for the page's paper accounts."""

    def get_results(self, request):
        super().get_results(request)
        labels = venue_labels(row.exchange for row in self.result_list)
        for row in self.result_list:
            row.venue_label = labels[row.exchange]


class VenueAdmin:
    """For price rows: their venue shown by name (VenueChangeList) and filtered by name."""

    def get_changelist(self, request, **kwargs):
        return VenueChangeList

    @admin.display(description="Venue", ordering="exchange")
    def venue(self, row):
        label = getattr(row, "venue_label", None)
        return label if label is not None else venue_labels([row.exchange])[row.exchange]


class UsdNotesChangeList(ChangeList):
    """Says, for the page's balances together, why an asset has no USD value (one query)."""

    def get_results(self, request):
        super().get_results(request)
        notes = usd_notes(row.asset for row in self.result_list)
        for row in self.result_list:
            row.usd_note = notes.get(row.asset.upper(), {})


def usd_value_shown(value, note: dict) -> str:
    """A USD value, or why there is none; a value resting on an old price says so."""
    if value is None:
        return format_html('<span class="usd-missing" style="color:#9a6700">{}</span>',
                           note.get("missing") or "no USD price")
    if note.get("stale"):
        return format_html('${} <span class="usd-stale" style="color:#9a6700">({})</span>', amount(round(value, 2)),
                           note["stale"])
    return f"${amount(round(value, 2))}"


class ServiceRefusals:
    """Admin saves and deletes go through services, which re-check at write time (a bot may start
    using a wallet after the form was checked). Their ValidationError, whose transaction rolled the
    change back, reads as a message on the page instead of a 500."""

    def _refused(self, request, error: ValidationError, url: str):
        self.message_user(request, " ".join(error.messages), messages.ERROR)
        return HttpResponseRedirect(url)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            return self._refused(request, error, request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            opts = self.model._meta
            return self._refused(request, error, reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                                         args=[object_id]))


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


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "target", "reason")
    list_filter = ("action",)
    search_fields = ("actor", "target", "reason")
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False
