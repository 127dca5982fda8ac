from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bots.models import AuditEvent, Bot, Order

STATUS_COLOURS = {
    Bot.Status.RUNNING: "#1a7f37",
    Bot.Status.ERROR: "#cf222e",
    Bot.Status.PAUSED: "#9a6700",
    Bot.Status.STOPPING: "#9a6700",
}


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "bot_type", "exchange", "symbol", "coloured_status", "heartbeat_age", "updated_at")
    list_filter = ("status", "bot_type", "account__exchange", "client")
    search_fields = ("name", "symbol", "client__name")
    list_select_related = ("client", "account")
    readonly_fields = ("status", "status_reason", "heartbeat_at", "last_trade_at", "error_message",
                       "lease_owner", "lease_until", "created_at", "updated_at")
    autocomplete_fields = ("client",)
    RECENT = 20

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "recent_orders") if obj else self.readonly_fields

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
class OrderAdmin(admin.ModelAdmin):
    list_display = ("created_at", "bot", "side", "kind", "amount", "price", "filled", "status")
    list_filter = ("status", "side", "kind")
    search_fields = ("client_order_id", "exchange_order_id", "bot__name")
    list_select_related = ("bot",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target", "reason")
    list_filter = ("action",)
    search_fields = ("actor", "target", "reason")
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
