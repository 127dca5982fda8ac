from django.contrib import admin

from ledger.models import BalanceSnapshot, BotTrade


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger rows come from exchanges; operators look, they do not edit."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BotTrade)
class BotTradeAdmin(ReadOnlyAdmin):
    list_display = ("traded_at", "bot", "side", "amount", "price", "cost", "fee", "fee_currency", "exchange_trade_id")
    list_filter = ("side",)
    search_fields = ("exchange_trade_id", "order_id", "bot__name")
    list_select_related = ("bot",)
    date_hierarchy = "traded_at"


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "account", "asset", "available", "locked", "total", "usd_value")
    list_filter = ("asset",)
    search_fields = ("account__name", "account__client__name", "asset")
    list_select_related = ("account",)
