from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from exchanges.models import ExchangeAccount, ExchangeCredential, PaperBalance, PaperMarket, PaperOrder
from exchanges.services import TEST_QUEUED, account_errors, queue_connection_test, save_account, save_credentials
from pipelabs.admin import ReadOnlyAdmin
from pipelabs.forms import StrictJSONField

SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
SECRET_FIELDS = ("api_key", "secret", "memo", "passphrase")


class ExchangeAccountForm(forms.ModelForm):
    """Credentials are typed here, encrypted on save, and never shown again (only a hint)."""

    api_key = forms.CharField(required=False, widget=SECRET_WIDGET, help_text="Leave empty to keep the stored key.")
    secret = forms.CharField(required=False, widget=SECRET_WIDGET)
    memo = forms.CharField(required=False, widget=SECRET_WIDGET, label="Memo / uid", help_text="BitMart's memo.")
    passphrase = forms.CharField(required=False, widget=SECRET_WIDGET)
    test_after_save = forms.BooleanField(required=False, initial=True, label="Test the key after saving",
                                         help_text="A worker asks the exchange; the answer appears on this page.")
    options = StrictJSONField(help_text=ExchangeAccount._meta.get_field("options").help_text)

    class Meta:
        model = ExchangeAccount
        fields = ("client", "exchange", "name", "wallet", "options")

    def clean(self):
        data = super().clean()
        if "exchange" in data and "options" in data:
            for field, problems in account_errors(exchange=data["exchange"], options=data["options"]).items():
                for problem in problems:
                    self.add_error(field, problem)
        if bool(data.get("api_key")) != bool(data.get("secret")):
            raise forms.ValidationError("Enter both the API key and the secret, or neither.")
        client, wallet = data.get("client"), data.get("wallet")
        if client and wallet and wallet.client_id != client.pk:
            # The account's bots would sign with another client's key.
            self.add_error("wallet", "This wallet belongs to another client.")
        if self.instance.pk and client and client.pk != self.instance.client_id and self.instance.bots.exists():
            self.add_error("client", "This account has bots; its client cannot change. "
                                     "Delete or move the bots first.")
        return data


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
class ExchangeAccountAdmin(admin.ModelAdmin):
    form = ExchangeAccountForm
    list_display = ("__str__", "client", "exchange", "key", "key_status", "created_at")
    readonly_fields = ("test_status", "tested_at", "test_message")
    list_filter = ("exchange",)
    search_fields = ("name", "client__name")
    list_select_related = ("client", "credential")
    inlines = [CredentialInline]
    actions = ["test_connection"]

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
    list_display = ("symbol", "initial_price", "ref_price", "volatility_bps", "spread_bps", "maker_fee_rate", "taker_fee_rate")
    search_fields = ("symbol",)


@admin.register(PaperBalance)
class PaperBalanceAdmin(PaperReadOnly):
    list_display = ("account", "asset", "available", "locked")
    list_select_related = ("account",)
    search_fields = ("account__name", "asset")


@admin.register(PaperOrder)
class PaperOrderAdmin(PaperReadOnly):
    list_display = ("created_at", "account", "market", "side", "kind", "amount", "price", "filled", "status")
    list_filter = ("status", "side", "kind")
    list_select_related = ("account", "market")
    show_full_result_count = False
