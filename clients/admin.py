from django.contrib import admin
from django.db.models import Count
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from clients.models import Client, Wallet


class WalletInline(admin.TabularInline):
    model = Wallet
    extra = 0
    fields = ("chain", "address", "label", "has_private_key", "created_at")
    readonly_fields = ("has_private_key", "created_at")

    @admin.display(boolean=True, description="Key stored")
    def has_private_key(self, wallet):
        return wallet.has_private_key


@method_decorator(sensitive_post_parameters("private_key"), name="changeform_view")
@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "is_active", "bot_count", "created_at")
    list_filter = ("role", "is_active")
    search_fields = ("name", "wallets__address")
    inlines = [WalletInline]
    actions = ["issue_api_token"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(bot_total=Count("bots", distinct=True))

    @admin.action(description="Issue an API token (shown once)", permissions=["change"])
    def issue_api_token(self, request, queryset):
        from django.contrib import messages

        from clients.signin import issue_token

        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, "Pick exactly one client.", messages.ERROR)
            return
        token, expires_at = issue_token(clients[0])
        self.message_user(request, f"API token for {clients[0]} (expires {expires_at:%Y-%m-%d %H:%M} UTC; "
                                   f"shown once, only its digest is kept): {token}", messages.WARNING)

    @admin.display(ordering="bot_total", description="Bots")
    def bot_count(self, client):
        return client.bot_total


# A wallet's private key, wherever a form posts it, stays off error reports.
@method_decorator(sensitive_post_parameters("private_key"), name="changeform_view")
@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ("address", "chain", "client", "label", "created_at")
    list_filter = ("chain",)
    search_fields = ("address", "client__name", "label")
    list_select_related = ("client",)
    # Who connected the key and when are written by the key services, never typed.
    readonly_fields = ("key_added_by", "key_connected_at", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # A wallet stays with the client that proved it: moving it would hand its key and its bots'
        # history to someone else. Remove it and add it to the other client instead.
        return (*self.readonly_fields, "client") if obj else self.readonly_fields
