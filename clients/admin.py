from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from bots.admin import STATUS_COLOURS
from bots.models import Bot
from clients.models import Client, Wallet
from clients.services import (
    UPDATABLE_CLIENT_FIELDS, add_wallet, change_wallet, create_client, delete_client, remove_wallet, update_client,
)
from exchanges.models import ExchangeAccount
from pipelabs.admin import ServiceRefusals
from pipelabs.display import age, usd
from pipelabs.selectors import client_totals


class WalletInline(admin.TabularInline):
    model = Wallet
    extra = 0
    fields = ("chain", "address", "label", "has_private_key", "created_at")
    readonly_fields = ("has_private_key", "created_at")

    @admin.display(boolean=True, description="Key stored")
    def has_private_key(self, wallet):
        return wallet.has_private_key


class ShownInline(admin.TabularInline):
    """Rows shown on the client's page and changed on their own page (the link on each row)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccountInline(ShownInline):
    model = ExchangeAccount
    fields = ("name", "exchange", "key", "connection", "created_at")
    readonly_fields = fields
    verbose_name_plural = "Exchange accounts (settings and keys on each account's page)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "credential")

    @admin.display(description="API key")
    def key(self, account):
        credential = getattr(account, "credential", None)
        return f"••••{credential.key_hint}" if credential else "—"

    @admin.display(description="Last connection test")
    def connection(self, account):
        if account.test_ok is None:
            return "—"
        return f"{'OK' if account.test_ok else 'Failed'} {age(account.tested_at)}"


class BotInline(ShownInline):
    model = Bot
    fields = ("bot", "bot_type", "account_name", "symbol", "coloured_status", "heartbeat")
    readonly_fields = fields
    verbose_name_plural = "Bots (started, stopped and configured on each bot's page)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "account")

    @admin.display(description="Bot")
    def bot(self, bot):
        return format_html('<a href="{}">{}</a>', reverse("admin:bots_bot_change", args=[bot.pk]), bot.name)

    @admin.display(description="Account")
    def account_name(self, bot):
        return str(bot.account)

    @admin.display(description="Status")
    def coloured_status(self, bot):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(bot.status, "#57606a"),
                           bot.get_status_display())

    @admin.display(description="Heartbeat")
    def heartbeat(self, bot):
        return age(bot.heartbeat_at)


@method_decorator(sensitive_post_parameters("private_key"), name="changeform_view")
@admin.register(Client)
class ClientAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = ("name", "role", "is_active", "bot_count", "created_at")
    list_filter = ("role", "is_active")
    search_fields = ("name", "wallets__address")
    inlines = [WalletInline, AccountInline, BotInline]
    actions = ["issue_api_token"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(bot_total=Count("bots", distinct=True))

    def get_inline_instances(self, request, obj=None):
        # A new client has no accounts or bots to show; its page asks only for it and its wallets.
        inlines = super().get_inline_instances(request, obj)
        return inlines if obj else [inline for inline in inlines if isinstance(inline, WalletInline)]

    def get_readonly_fields(self, request, obj=None):
        # The account identifier is the client's public id (the frontend filters by it): fixed once made.
        return ("totals", "account_identifier") if obj else ()

    def save_model(self, request, obj, form, change):
        if not change:
            client = create_client(name=obj.name, role=obj.role, email=obj.email, management_mode=obj.management_mode,
                                   is_active=obj.is_active, account_identifier=obj.account_identifier,
                                   actor=request.user.get_username())
            # The admin then saves the wallet rows and logs with `obj`: make it the row the service wrote.
            obj.pk, obj.account_identifier, obj.created_at = client.pk, client.account_identifier, client.created_at
            obj._state.adding, obj._state.db = False, client._state.db
            return
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in UPDATABLE_CLIENT_FIELDS}
        if changes:
            update_client(Client.objects.get(pk=obj.pk), actor=request.user.get_username(), **changes)

    def delete_model(self, request, obj):
        delete_client(obj, actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for client in queryset:
            delete_client(client, actor=request.user.get_username())

    def save_formset(self, request, form, formset, change):
        if formset.model is not Wallet:
            return super().save_formset(request, form, formset, change)
        save_wallets(formset, form.instance, request.user.get_username())

    def get_fieldsets(self, request, obj=None):
        fields = [name for name in self.get_fields(request, obj) if name != "totals"]
        return [("Totals", {"fields": ["totals"]}), (None, {"fields": fields})] if obj else [(None, {"fields": fields})]

    @admin.display(description="Bots and money")
    def totals(self, client):
        totals = client_totals(client)
        statuses = ", ".join(f"{count} {label.lower()}" for label, count in totals["bots"]) or "none yet"
        volume_note = f" ({totals['volume_missing']} bot(s) without a USD price)" if totals["volume_missing"] else ""
        pnl_note = f" ({totals['pnl_missing']} bot(s) without a mark or USD price)" if totals["pnl_missing"] else ""
        return format_html(
            '<div id="client-totals">{} bot(s): {}<br>24h volume <b>{}</b>{} · realized P&amp;L <b>{}</b>'
            ' · unrealized P&amp;L <b>{}</b>{}</div>',
            totals["bot_count"], statuses, usd(totals["volume_24h_usd"]), volume_note, usd(totals["realized_usd"]),
            usd(totals["unrealized_usd"]), pnl_note)

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


def save_wallets(formset, client, actor: str) -> None:
    """The client page's wallet rows through the wallet services (validated again, audited), never
    saved raw; sets what the admin's change message reads from a saved formset."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for row in formset.forms:
        wallet = row.instance
        if row in formset.deleted_forms:
            if wallet.pk:
                remove_wallet(Wallet.objects.get(pk=wallet.pk), actor=actor)
                formset.deleted_objects.append(wallet)
        elif not row.has_changed():
            continue
        elif wallet.pk is None:
            formset.new_objects.append(add_wallet(client, chain=wallet.chain, address=wallet.address,
                                                  label=wallet.label, actor=actor))
        else:
            # The row's instance already holds the typed values; the service compares with the stored row.
            change_wallet(Wallet.objects.get(pk=wallet.pk), actor=actor, address=wallet.address, chain=wallet.chain,
                          label=wallet.label)
            formset.changed_objects.append((wallet, row.changed_data))


# A wallet's private key, wherever a form posts it, stays off error reports.
@method_decorator(sensitive_post_parameters("private_key"), name="changeform_view")
@admin.register(Wallet)
class WalletAdmin(ServiceRefusals, admin.ModelAdmin):
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

    def save_model(self, request, obj, form, change):
        actor = request.user.get_username()
        if change:
            # change_wallet takes no client: a wallet is never moved, whatever the request carried.
            change_wallet(Wallet.objects.get(pk=obj.pk), actor=actor, address=obj.address, chain=obj.chain,
                          label=obj.label)
            return
        wallet = add_wallet(obj.client, chain=obj.chain, address=obj.address, label=obj.label, actor=actor)
        # The admin logs and redirects with `obj`; make it the row add_wallet wrote.
        obj.pk, obj.address, obj.label = wallet.pk, wallet.address, wallet.label
        obj._state.adding, obj._state.db = False, wallet._state.db

    def delete_model(self, request, obj):
        remove_wallet(obj, actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for wallet in queryset:
            remove_wallet(wallet, actor=request.user.get_username())
