from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bots.models import Bot, KillSwitch, Order, UnownedFill
from bots.services import (
    EDITABLE_FIELDS, LEDGER_FIELDS, UNDELETABLE_STATUSES, bot_change_errors, bot_field_errors, create_bot, delete_bots,
    has_ledger, update_bot,
)
from pipelabs.admin import ReadOnlyAdmin
from pipelabs.forms import StrictJSONField

STATUS_COLOURS = {
    Bot.Status.RUNNING: "#1a7f37",
    Bot.Status.ERROR: "#cf222e",
    Bot.Status.PAUSED: "#9a6700",
    Bot.Status.STOPPING: "#9a6700",
}


def account_label(account) -> str:
    """'Client name · bitmart:main', so accounts of different clients can be told apart."""
    return f"{account.client.name} · {account}"


class BotForm(forms.ModelForm):
    """The operator's fields of a bot, checked by the same rules as bots.services; saving goes through them."""

    config = StrictJSONField(help_text=Bot._meta.get_field("config").help_text)

    class Meta:
        model = Bot
        fields = ("client", *EDITABLE_FIELDS)

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            changes = {field: data[field] for field in self.changed_data
                       if field in EDITABLE_FIELDS and field in data}
            errors = bot_change_errors(self.instance, changes)
        else:
            errors = bot_field_errors(
                client=data.get("client"), account=data.get("account"), name=data.get("name", ""),
                bot_type=data.get("bot_type", ""), symbol=data.get("symbol", ""), config=data.get("config"),
            )
        for field, message in errors.items():
            # A field that failed its own cleaning already shows why; don't pile a second message on.
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return data


@admin.action(permissions=["delete"], description="Delete selected bots (stopped ones only)")
def delete_stopped_bots(modeladmin, request, queryset):
    """Django's delete-selected, minus the running and stopping bots, which are named and kept."""
    busy = [str(bot) for bot in queryset.filter(status__in=UNDELETABLE_STATUSES)]
    if busy:
        modeladmin.message_user(request, f"Not deleted, stop them first: {', '.join(busy)}.", messages.WARNING)
        queryset = queryset.exclude(status__in=UNDELETABLE_STATUSES)
    if not queryset.exists():
        return None
    return delete_selected(modeladmin, request, queryset)


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    form = BotForm
    list_display = ("name", "client", "bot_type", "exchange", "symbol", "coloured_status", "heartbeat_age", "updated_at")
    list_filter = ("status", "bot_type", "account__exchange", "client")
    search_fields = ("name", "symbol", "client__name")
    list_select_related = ("client", "account")
    readonly_fields = ("status", "desired_status", "status_reason", "heartbeat_at", "last_trade_at", "error_message",
                       "lease_owner", "lease_until", "created_at", "updated_at")
    autocomplete_fields = ("client",)
    RECENT = 20

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A bot's client is fixed once created: its trades and P&L are that client's; so are its account
        # and symbol once it has traded (bots.services.ledger_field_errors).
        fixed = LEDGER_FIELDS if has_ledger(obj) else ()
        return (*self.readonly_fields, "client", *fixed, "recent_orders")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # The service re-checks at save time (a trade may land after the form was checked); its
            # refusal rolled the change back, so say why instead of answering 500.
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account":
            kwargs["queryset"] = db_field.related_model.objects.select_related("client").order_by(
                "client__name", "exchange", "name")
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = account_label
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        actor = request.user.get_username()
        data = form.cleaned_data
        if change:
            changes = {field: data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
            if changes:
                update_bot(obj, actor=actor, **changes)
            return
        bot = create_bot(client=data["client"], account=data["account"], name=data["name"], bot_type=data["bot_type"],
                         symbol=data["symbol"], config=data.get("config"), actor=actor)
        # The admin logs and redirects with `obj`; make it the row create_bot wrote.
        obj.pk, obj.symbol, obj.name = bot.pk, bot.symbol, bot.name
        obj._state.adding, obj._state.db = False, bot._state.db

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status in UNDELETABLE_STATUSES:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                delete_stopped_bots, "delete_selected", delete_stopped_bots.short_description)
        return actions

    def delete_model(self, request, obj):
        delete_bots([obj], actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        delete_bots(list(queryset), actor=request.user.get_username())

    @admin.display(description=f"Last {RECENT} orders")
    def recent_orders(self, bot):
        rows = bot.orders.order_by("-created_at")[: self.RECENT]
        return format_html_join(
            "",
            "<div>{} {} {} {} @ {} ({})</div>",
            ((o.created_at.strftime("%Y-%m-%d %H:%M:%S"), o.side, o.kind, o.amount, o.price or "market", o.status) for o in rows),
        ) or "none"

    @admin.display(ordering="account__exchange", description="Exchange")
    def exchange(self, bot):
        return bot.account.exchange

    @admin.display(ordering="status", description="Status")
    def coloured_status(self, bot):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(bot.status, "#57606a"), bot.get_status_display())

    @admin.display(ordering="heartbeat_at", description="Heartbeat")
    def heartbeat_age(self, bot):
        if not bot.heartbeat_at:
            return "never"
        seconds = int((timezone.now() - bot.heartbeat_at).total_seconds())
        return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "bot", "account", "symbol", "side", "kind", "amount", "price", "filled", "status")
    list_filter = ("status", "side", "kind")
    search_fields = ("client_order_id", "exchange_order_id", "bot__name")
    list_select_related = ("bot", "account")
    show_full_result_count = False


@admin.register(UnownedFill)
class UnownedFillAdmin(ReadOnlyAdmin):
    """Fills on an account that no bot's order made: shown, never booked to a bot."""

    list_display = ("traded_at", "account", "symbol", "side", "amount", "price", "order_id")
    list_filter = ("symbol", "side")
    search_fields = ("exchange_trade_id", "order_id")
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdmin):
    """Read here; turned on and off by `manage.py kill_switch` (so every change is audited)."""

    list_display = ("is_on", "reason", "changed_by", "changed_at")
