from django.contrib import admin, messages
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from urllib.parse import urlsplit

from exchanges.forms import SECRET_FIELDS, VENUE_NAMES, AccountForm, venue_fields
from exchanges.models import ExchangeAccount, ExchangeCredential, PaperBalance, PaperMarket, PaperOrder
from exchanges.services import (
    TEST_QUEUED, delete_account, delete_credentials, queue_connection_test, save_account, save_credentials,
)
from pipelabs.admin import ReadOnlyAdmin, ServiceRefusals, account_column, usd_value_shown
from pipelabs.display import account_label, age, amount
from pipelabs.selectors import account_balances

def _shown(value) -> str:
    """An option as a viewer may see it: a URL by its host only (a provider's URL can carry its key)."""
    if isinstance(value, str) and "://" in value:
        return urlsplit(value).netloc or "—"
    if isinstance(value, dict):
        return ", ".join(sorted(value))
    return str(value)


class CredentialInline(admin.StackedInline):
    model = ExchangeCredential
    extra = 0
    max_num = 0  # credentials are entered through the account form, never edited raw
    can_delete = True
    fields = ("masked_key", "updated_at")
    readonly_fields = fields

    @admin.display(description="API key")
    def masked_key(self, credential):
        return f"••••{credential.key_hint}" if credential.key_hint else "••••"


# add_view and change_view both go through changeform_view.
@method_decorator(sensitive_post_parameters(*SECRET_FIELDS), name="changeform_view")
@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(ServiceRefusals, admin.ModelAdmin):
    form = AccountForm
    list_display = ("__str__", "client", "exchange", "key", "key_status", "created_at")
    readonly_fields = ("test_status", "tested_at", "test_message")
    TEST_FIELDS = readonly_fields

    def _venue(self, request, obj):
        return obj.exchange if obj else (request.POST.get("exchange") or request.GET.get("exchange"))

    def get_readonly_fields(self, request, obj=None):
        # The venue is fixed once saved: its bots, orders and figures belong to that venue.
        return ("exchange", *self.TEST_FIELDS, "balances") if obj else ()

    def get_fieldsets(self, request, obj=None):
        venue = self._venue(request, obj)
        if obj and not self.has_change_permission(request, obj):
            return [(None, {"fields": ("client", "exchange", "name", "wallet", "settings", "key")}),
                    ("Balances", {"fields": ("balances",)}),
                    ("Last connection test", {"fields": self.TEST_FIELDS})]
        fields = venue_fields(venue)
        settings = [name for name in fields if name not in (*SECRET_FIELDS, "test_after_save")]
        keys = [name for name in fields if name not in settings]
        fieldsets = [(None, {"fields": ("client", "exchange", "name")})]
        if not venue:
            fieldsets[0][1]["description"] = "Choose the venue and save: its settings and key fields follow."
        if settings:
            fieldsets.append((f"{VENUE_NAMES.get(venue, venue)} settings", {"fields": settings}))
        if keys:
            fieldsets.append(("API key", {"fields": keys, "description": (
                "Encrypted when saved and never shown again; the list shows the key's last four characters.")}))
        if obj:
            fieldsets.append(("Balances", {"fields": ("balances",)}))
            fieldsets.append(("Last connection test", {"fields": self.TEST_FIELDS}))
        return fieldsets

    def response_add(self, request, obj, post_url_continue=None):
        # The add page asks only for the venue; its settings and key are on the account's page.
        if "_addanother" in request.POST or "_popup" in request.POST or not venue_fields(obj.exchange):
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Account {obj} saved. Set its venue settings and key below.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:exchanges_exchangeaccount_change", args=[obj.pk]))
    list_filter = ("exchange",)
    search_fields = ("name", "client__name")
    list_select_related = ("client", "credential")
    inlines = [CredentialInline]
    actions = ["test_connection"]

    @admin.display(description="Settings")
    def settings(self, account):
        return format_html_join(mark_safe("<br>"), "{}: {}", (
            (key, _shown(value)) for key, value in sorted((account.options or {}).items()))) or "defaults"

    @admin.display(description="Latest balances")
    def balances(self, account):
        rows, notes = account_balances(account)
        if not rows:
            return "None yet: the background refresh has not answered for this account."
        stale = " (stale: the last refresh failed)" if rows[0]["is_stale"] else ""
        lines = format_html_join(mark_safe("<br>"), "{} {} available, {} locked · {}", (
            (row["asset"], amount(row["available"]), amount(row["locked"]),
             usd_value_shown(row["usd_value"], notes.get(row["asset"], {}))) for row in rows))
        return format_html('<div class="balances"><b>{}</b>, confirmed {}{}<br>{}</div>', account_label(account),
                           age(rows[0]["taken_at"]), stale, lines)

    @admin.display(description="Key")
    def key(self, account):
        credential = getattr(account, "credential", None)
        return f"••••{credential.key_hint}" if credential else "—"

    @admin.display(boolean=True, description="Connection OK")
    def key_status(self, account):
        return account.test_ok

    @admin.display(description="Last test")
    def test_status(self, account):
        if account.test_ok is None:
            return TEST_QUEUED if account.test_queued_at and not account.tested_at else "—"
        return "OK" if account.test_ok else "Failed"

    @method_decorator(sensitive_variables("data"))
    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        save_account(obj, actor=request.user.get_username())  # the form's clean() ran the same checks
        if data.get("api_key"):
            save_credentials(
                obj, api_key=data["api_key"], secret=data["secret"], memo=data.get("memo", ""),
                passphrase=data.get("passphrase", ""), actor=request.user.get_username(),
                test=data.get("test_after_save", False),
            )
            self.message_user(request, "Credentials encrypted and saved." + (
                " A worker is testing them; the answer appears on the account." if data.get("test_after_save") else ""))

    def save_formset(self, request, form, formset, change):
        if formset.model is not ExchangeCredential:
            return super().save_formset(request, form, formset, change)
        # The key's only change here is its removal (it is typed in the account form): audited.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.deleted_forms:
            if row.instance.pk and delete_credentials(form.instance, actor=request.user.get_username()):
                formset.deleted_objects.append(row.instance)

    def delete_model(self, request, obj):
        delete_account(obj, actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for account in queryset:
            delete_account(account, actor=request.user.get_username())

    @admin.action(description="Test connection (balance request, in the background)")
    def test_connection(self, request, queryset):
        with transaction.atomic():
            for account in queryset:
                queue_connection_test(account)
        self.message_user(request, f"Test queued for {len(queryset)} account(s); each answer appears on its account.",
                          messages.INFO)


class PaperReadOnly(ReadOnlyAdmin):
    """The paper exchange's state; it changes through its connector, like a real venue's."""


@admin.register(PaperMarket)
class PaperMarketAdmin(PaperReadOnly):
    list_display = ("symbol", account_column(), "initial_price", "ref_price", "volatility_bps", "spread_bps",
                    "maker_fee_rate", "taker_fee_rate")
    list_select_related = ("account__client",)
    search_fields = ("symbol", "account__client__name")


@admin.register(PaperBalance)
class PaperBalanceAdmin(PaperReadOnly):
    list_display = (account_column(), "asset", "available", "locked")
    list_select_related = ("account__client",)
    search_fields = ("account__name", "asset")


@admin.register(PaperOrder)
class PaperOrderAdmin(PaperReadOnly):
    list_display = ("created_at", account_column(), "market", "side", "kind", "amount", "price", "filled", "status")
    list_filter = ("status", "side", "kind")
    list_select_related = ("account__client", "market")
    show_full_result_count = False
