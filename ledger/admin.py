from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from pipelabs.admin import (
    ReadOnlyAdmin, UsdNotesChangeList, VenueAdmin, VenueFilter, account_column, usd_value_shown,
)

from ledger.models import (
    BalanceRefresh,
    BalanceSnapshot,
    BotTrade,
    DailyRollup,
    PnlState,
    PriceHistory,
    PriceSnapshot,
    QuarantinedFill,
    TradeSyncCursor,
)


class LedgerAdmin(ReadOnlyAdmin):
    """Ledger rows come from exchanges; big tables, so no full count."""

    show_full_result_count = False


@admin.register(BotTrade)
class BotTradeAdmin(LedgerAdmin):
    list_display = ("traded_at", "bot", "side", "amount", "price", "cost", "fee", "fee_currency", "fee_quote",
                    "exchange_trade_id")
    list_filter = ("side",)
    search_fields = ("exchange_trade_id", "order_id", "bot__name")
    list_select_related = ("bot",)
    date_hierarchy = "traded_at"


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(LedgerAdmin):
    list_display = ("taken_at", "confirmed_at", account_column(), "asset", "available", "locked", "total", "usd")
    list_filter = ("asset",)
    search_fields = ("account__name", "account__client__name", "asset")
    list_select_related = ("account__client",)

    def get_changelist(self, request, **kwargs):
        return UsdNotesChangeList

    @admin.display(description="USD value", ordering="usd_value")
    def usd(self, snapshot):
        return usd_value_shown(snapshot.usd_value, getattr(snapshot, "usd_note", {}))


@admin.register(PnlState)
class PnlStateAdmin(LedgerAdmin):
    list_display = ("bot", "realized_pnl", "position", "fees_quote", "trade_count", "last_traded_at", "rebuilt_at")
    search_fields = ("bot__name",)
    list_select_related = ("bot",)
    exclude = ("engine",)  # the exact integer state; the decimal columns say the same for people


@admin.register(DailyRollup)
class DailyRollupAdmin(LedgerAdmin):
    list_display = ("bucket_start", "bot", "trade_count", "buy_count", "sell_count", "buy_quote", "sell_quote",
                    "fees_quote", "realized_pnl")
    list_select_related = ("bot",)
    search_fields = ("bot__name",)
    date_hierarchy = "bucket_start"


@admin.register(PriceSnapshot)
class PriceSnapshotAdmin(VenueAdmin, LedgerAdmin):
    list_display = ("symbol", "venue", "price", "source", "taken_at")
    list_filter = (VenueFilter, "source")
    search_fields = ("symbol",)
    fields = ("symbol", "venue", "price", "source", "taken_at")


@admin.register(PriceHistory)
class PriceHistoryAdmin(VenueAdmin, LedgerAdmin):
    list_display = ("taken_at", "symbol", "venue", "price", "source")
    list_filter = (VenueFilter, "source")
    fields = ("taken_at", "symbol", "venue", "price", "source")
    search_fields = ("symbol",)
    date_hierarchy = "taken_at"


@admin.register(BalanceRefresh)
class BalanceRefreshAdmin(LedgerAdmin):
    list_display = (account_column(), "last_success_at", "last_attempt_at", "is_stale", "last_error")
    list_filter = ("is_stale",)
    list_select_related = ("account__client",)


@admin.register(TradeSyncCursor)
class TradeSyncCursorAdmin(LedgerAdmin):
    list_display = ("bot", "last_trade_at", "last_synced_at", "last_error")
    list_select_related = ("bot",)


@admin.register(QuarantinedFill)
class QuarantinedFillAdmin(LedgerAdmin):
    """Fills a venue reported that could not be booked: what came, and why not."""

    list_display = ("created_at", "bot_link", account_column(), "exchange_trade_id", "code", "reason")
    list_filter = ("code",)
    search_fields = ("exchange_trade_id", "bot__name", "reason")
    list_select_related = ("bot", "account__client")
    readonly_fields = ("bot_link", "account", "exchange_trade_id", "code", "reason", "raw", "fingerprint", "created_at")
    exclude = ("bot",)
    date_hierarchy = "created_at"

    @admin.display(description="bot", ordering="bot__name")
    def bot_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:bots_bot_change", args=[obj.bot_id]), obj.bot)
