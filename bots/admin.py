from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from bots.forms import PREFIX, config_fields, config_from, initial_config
from bots.models import Bot, KillSwitch, Order, UnownedFill
from bots.services import (
    EDITABLE_FIELDS, LEDGER_FIELDS, UNDELETABLE_STATUSES, BotStateConflict, bot_change_errors, bot_field_errors,
    cancel_before_delete, create_bot, delete_bots, has_ledger, pause_bot, start_bot, stop_bot, update_bot,
)
from ledger.models import BalanceSnapshot
from ledger.selectors import stats_for_bot, summaries_for_bots
from pipelabs.admin import FiguresAdmin, ReadOnlyAdmin, account_column
from pipelabs.display import account_label, age, amount, chart
from pipelabs.models import AuditEvent

STATUS_COLOURS = {
    Bot.Status.RUNNING: "#1a7f37",
    Bot.Status.ERROR: "#cf222e",
    Bot.Status.PAUSED: "#9a6700",
    Bot.Status.STOPPING: "#9a6700",
}


class BotForm(forms.ModelForm):
    """The operator's fields of a bot, checked by the same rules as bots.services; saving goes through them.

    The config is one field per setting of the bot's type (bots/forms.py), added by BotAdmin.get_form.
    """

    class Meta:
        model = Bot
        fields = ("client", *(f for f in EDITABLE_FIELDS if f != "config"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name, value in initial_config(self.instance.bot_type, self.instance.config).items():
                self.initial.setdefault(name, value)

    def clean(self):
        data = super().clean()
        bot_type = data.get("bot_type") or self.instance.bot_type
        same_type = self.instance.pk and bot_type == self.instance.bot_type
        data["config"] = config_from(bot_type, data, self.instance.config if same_type else {})
        if self.instance.pk:
            self.changes = {field: data[field] for field in self.changed_data
                            if field in EDITABLE_FIELDS and field in data}
            if data["config"] != self.instance.config:
                self.changes["config"] = data["config"]
            errors = bot_change_errors(self.instance, self.changes)
        else:
            errors = bot_field_errors(
                client=data.get("client"), account=data.get("account"), name=data.get("name", ""),
                bot_type=data.get("bot_type", ""), symbol=data.get("symbol", ""), config=data["config"],
            )
        for field, message in errors.items():
            if field == "config":
                for problem in message if isinstance(message, list) else [message]:
                    key, _, text = str(problem).partition(": ")
                    target = PREFIX + key
                    self.add_error(target if target in self.fields else None, text if target in self.fields else problem)
            # A field that failed its own cleaning already shows why; don't pile a second message on.
            elif field in self.fields and field not in self.errors:
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


class StaleFilter(admin.SimpleListFilter):
    title = "heartbeat"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return (("yes", "Running, heartbeat stale"), ("no", "Running, heartbeat fresh"))

    def queryset(self, request, queryset):
        before = timezone.now() - timedelta(seconds=settings.BOT_STALE_AFTER_S)
        running = queryset.filter(status=Bot.Status.RUNNING)
        if self.value() == "yes":
            return running.filter(Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True))
        if self.value() == "no":
            return running.filter(heartbeat_at__gte=before)
        return queryset


class FiguresChangeList(ChangeList):
    """Loads the page's balances, 24h volume and P&L together: a fixed number of queries per page."""

    def get_results(self, request):
        super().get_results(request)
        summaries = summaries_for_bots(self.result_list)
        for bot in self.result_list:
            bot.figures = summaries.get(bot.pk)


def _lifecycle(verb: str, bots, actor: str) -> tuple[int, list[str]]:
    """Apply ``verb`` to each bot through the services; never a venue call here (the engine cancels)."""
    done, refused = 0, []
    for bot in bots:
        try:
            if verb == "start":
                start_bot(bot, actor=actor)
            elif verb == "pause":
                pause_bot(bot, actor=actor)
            else:
                stop_bot(bot, actor=actor, keep_orders=verb == "stop", finish=False)
            done += 1
        except BotStateConflict as conflict:
            refused.append(f"{bot}: {conflict.detail}")
    return done, refused


def _report(modeladmin, request, verb: str, done: int, refused: list[str]):
    if done:
        modeladmin.message_user(request, f"{LIFECYCLE_WORDS[verb]}: {done} bot(s).", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)


LIFECYCLE_WORDS = {"start": "Started", "pause": "Paused", "stop": "Stopping (orders kept)",
                   "stop_cancel": "Stopping, orders being cancelled"}


@admin.action(permissions=["change"], description="Start selected bots")
def start_selected(modeladmin, request, queryset):
    _report(modeladmin, request, "start", *_lifecycle("start", queryset, request.user.get_username()))


@admin.action(permissions=["change"], description="Stop selected bots (keep their orders)")
def stop_selected(modeladmin, request, queryset):
    _report(modeladmin, request, "stop", *_lifecycle("stop", queryset, request.user.get_username()))


@admin.action(permissions=["change"], description="Stop selected bots and cancel their orders")
def stop_cancel_selected(modeladmin, request, queryset):
    _report(modeladmin, request, "stop_cancel", *_lifecycle("stop_cancel", queryset, request.user.get_username()))


@admin.register(Bot)
class BotAdmin(FiguresAdmin):
    form = BotForm
    list_display = ("name", "client", "bot_type", "exchange", "symbol", "coloured_status", "heartbeat_age",
                    "balance", "volume_24h", "pnl")
    list_filter = ("status", StaleFilter, "bot_type", "account__exchange", "client")
    search_fields = ("name", "symbol", "client__name")
    list_select_related = ("client", "account")
    readonly_fields = ("status", "desired_status", "status_reason", "health_status", "health_message", "heartbeat_at",
                       "last_trade_at", "error_message", "lease_owner", "lease_until", "created_at", "updated_at")
    autocomplete_fields = ("client",)
    actions = [start_selected, stop_selected, stop_cancel_selected]
    change_form_template = "admin/bots/bot/change_form.html"
    RECENT = 20

    def get_changelist(self, request, **kwargs):
        return FiguresChangeList

    @admin.display(description="Available / locked")
    def balance(self, bot):
        figures = getattr(bot, "figures", None)
        if not figures:
            return "-"
        rows = {a["asset"]: a for a in figures["balances"]["assets"]}
        parts = [f"{asset} {amount(rows[asset]['available'])} / {amount(rows[asset]['locked'])}"
                 for asset in (bot.base.upper(), bot.quote.upper()) if asset in rows]
        stale = " (stale)" if figures["balances"]["is_stale"] else ""
        return format_html_join(mark_safe("<br>"), "{}", ((p,) for p in parts)) + stale if parts else "-"

    @admin.display(description="24h volume")
    def volume_24h(self, bot):
        volume = (getattr(bot, "figures", None) or {}).get("volume")
        if not volume:
            return "-"
        if volume["usd_volume"] is not None:
            return f"${amount(round(volume['usd_volume'], 2))} ({volume['trade_count']})"
        return f"{amount(volume['quote_volume'])} {volume['quote_currency']} ({volume['trade_count']})"

    @admin.display(description="P&L (realized / unrealized)")
    def pnl(self, bot):
        pnl = (getattr(bot, "figures", None) or {}).get("pnl")
        if not pnl:
            return "-"
        unrealized = "?" if pnl["unrealized"] is None else amount(round(pnl["unrealized"], 4))
        return f"{amount(round(pnl['realized'], 4))} / {unrealized} {pnl['currency']}"

    def get_urls(self):
        return [
            path("<int:object_id>/lifecycle/<str:verb>/", self.admin_site.admin_view(self.lifecycle_view),
                 name="bots_bot_lifecycle"),
            *super().get_urls(),
        ]

    def lifecycle_view(self, request, object_id, verb):
        bot = self.get_object(request, str(object_id))
        if bot is None:
            raise Http404("Bot not found.")
        if request.method != "POST" or verb not in LIFECYCLE_WORDS or not self.has_change_permission(request, bot):
            raise PermissionDenied
        done, refused = _lifecycle(verb, [bot], request.user.get_username())
        _report(self, request, verb, done, refused)
        return HttpResponseRedirect(reverse("admin:bots_bot_change", args=[bot.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["lifecycle_verbs"] = [] if obj is None or not self.has_change_permission(request, obj) else [
            (verb, label) for verb, label in (("start", "Start"), ("pause", "Pause"), ("stop", "Stop, keep orders"),
                                              ("stop_cancel", "Stop and cancel orders"))]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Charts")
    def charts(self, bot):
        stats = stats_for_bot(bot)
        running = Decimal(0)
        cumulative = []
        for day in stats["daily"]:
            running += day["realized_pnl"]
            cumulative.append((day["day"].isoformat(), running))
        quote = bot.quote.upper()
        volume = [(day["day"].isoformat(), day["quote_volume"]) for day in stats["daily"]]
        since = timezone.now() - timedelta(days=30)
        snapshots = (BalanceSnapshot.objects.filter(account_id=bot.account_id, asset__in=[bot.base.upper(), quote],
                                                    taken_at__gte=since).order_by("taken_at"))
        series = {}
        for snapshot in snapshots:
            series.setdefault(snapshot.asset, []).append((snapshot.taken_at.strftime("%m-%d %H:%M"), snapshot.total))
        parts = [chart(f"Cumulative realized P&L, 30 days ({quote})", cumulative, unit=f" {quote}"),
                 chart(f"Daily volume ({quote})", volume, unit=f" {quote}", colour="#8250df")]
        where = account_label(bot.account)
        parts += [chart(f"{asset} balance · {where}", points, unit=f" {asset}", colour="#1a7f37")
                  for asset, points in sorted(series.items())]
        return mark_safe("".join(parts))

    @admin.display(description="Recent fills")
    def recent_fills(self, bot):
        rows = bot.trades.order_by("-traded_at")[: self.RECENT]
        return format_html_join(
            "", "<div>{} {} {} @ {} (fee {} {})</div>",
            ((t.traded_at.strftime("%Y-%m-%d %H:%M:%S"), t.side, amount(t.amount), amount(t.price), amount(t.fee),
              t.fee_currency) for t in rows)) or "none"

    @admin.display(description="Audit trail")
    def audit_trail(self, bot):
        rows = AuditEvent.objects.filter(bot=bot).order_by("-created_at")[: self.RECENT]
        return format_html_join(
            "", "<div>{} · {} · {} {}</div>",
            ((e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.reason) for e in rows)) or "none"

    def _bot_type(self, request, obj):
        return request.POST.get("bot_type") or (obj.bot_type if obj else request.GET.get("bot_type"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The chosen type's settings as declared fields, so the admin lays them out like any other.
        kwargs["form"] = type("BotForm", (BotForm,), config_fields(self._bot_type(request, obj)))
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fields = self.get_fields(request, obj)
        settings_ = [f for f in fields if f.startswith(PREFIX)]
        history = [f for f in fields if f in ("charts", "recent_orders", "recent_fills", "audit_trail")]
        state = [f for f in fields if f in self.readonly_fields]
        main = [f for f in fields if f not in (*settings_, *history, *state)]
        bot_type = self._bot_type(request, obj)
        fieldsets = [(None, {"fields": main})]
        if settings_:
            fieldsets.append((f"{Bot.Type(bot_type).label if bot_type in Bot.Type.values else bot_type} settings",
                              {"fields": settings_, "description": "Empty fields take the default shown."}))
        elif obj is None:
            fieldsets[0][1]["description"] = "Choose the bot type and save: its settings follow (defaults until then)."
        if state:
            fieldsets.append(("State", {"fields": state, "classes": ("collapse",) if obj is None else ()}))
        if history:
            fieldsets.append(("History", {"fields": history}))
        return fieldsets

    def __getattr__(self, name):
        if name.startswith(PREFIX):
            key = name[len(PREFIX):]

            def setting(bot):
                value = (bot.config or {}).get(key)
                return "default" if value is None else value

            setting.short_description = key.replace("_", " ").capitalize()
            return setting
        return super().__getattr__(name)

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST or any(k.startswith(PREFIX) for k in request.POST):
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Bot {obj} saved with its type's defaults; adjust its settings below.",
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:bots_bot_change", args=[obj.pk]))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A bot's client is fixed once created: its trades and P&L are that client's; so are its account
        # and symbol once it has traded (bots.services.ledger_field_errors).
        fixed = LEDGER_FIELDS if has_ledger(obj) else ()
        return (*self.readonly_fields, "client", *fixed, "charts", "recent_orders", "recent_fills", "audit_trail")

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
            if form.changes:
                update_bot(obj, actor=actor, **form.changes)
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

    def delete_view(self, request, object_id, extra_context=None):
        # Django runs the delete inside a transaction, where no venue call may run: the bot's open
        # orders are cancelled first, outside it, so deleting a stopped bot leaves nothing resting.
        change_url = reverse("admin:bots_bot_change", args=[object_id])
        try:
            bot = self.get_object(request, object_id) if request.method == "POST" else None
            if bot is not None and request.POST.get("post") and self.has_delete_permission(request, bot):
                cancel_before_delete([bot.pk])
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(change_url)

    def get_deleted_objects(self, objs, request):
        # A bot's orders, fills and figures go with it through delete_bots (its orders cancelled
        # first): they are read-only rows nobody deletes one by one, so they ask for no right of their own.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        delete_bots([obj], actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        try:
            delete_bots(list(queryset), actor=request.user.get_username())
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)

    @admin.display(description=f"Last {RECENT} orders")
    def recent_orders(self, bot):
        rows = bot.orders.order_by("-created_at")[: self.RECENT]
        return format_html_join(
            "",
            "<div>{} {} {} {} @ {} ({})</div>",
            ((o.created_at.strftime("%Y-%m-%d %H:%M:%S"), o.side, o.kind, amount(o.amount),
              amount(o.price) if o.price else "market", o.status) for o in rows),
        ) or "none"

    @admin.display(ordering="account__exchange", description="Account")
    def exchange(self, bot):
        return str(bot.account)  # 'paper:main': the venue and the client's name for the account

    @admin.display(ordering="status", description="Status")
    def coloured_status(self, bot):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(bot.status, "#57606a"), bot.get_status_display())

    @admin.display(ordering="heartbeat_at", description="Heartbeat")
    def heartbeat_age(self, bot):
        return age(bot.heartbeat_at)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "bot", account_column(), "symbol", "side", "kind", "amount", "price", "filled",
                    "status")
    list_filter = ("status", "side", "kind")
    search_fields = ("client_order_id", "exchange_order_id", "bot__name")
    list_select_related = ("bot", "account__client")
    show_full_result_count = False


@admin.register(UnownedFill)
class UnownedFillAdmin(ReadOnlyAdmin):
    """Fills on an account that no bot's order made: shown, never booked to a bot."""

    list_display = ("traded_at", account_column(), "symbol", "side", "amount", "price", "order_id")
    list_filter = ("symbol", "side")
    search_fields = ("exchange_trade_id", "order_id")
    list_select_related = ("account__client",)
    show_full_result_count = False


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdmin):
    """Read here; turned on and off by `manage.py kill_switch` (so every change is audited)."""

    list_display = ("is_on", "reason", "changed_by", "changed_at")
