from django.db import models

from clients.models import Client
from exchanges.models import ExchangeAccount

MONEY = {"max_digits": 38, "decimal_places": 18}


class BotType(models.TextChoices):
    VOLUME = "volume", "Volume"
    SPREAD = "spread", "Spread (market making)"
    DEX = "dex", "DEX (Solana/Jupiter)"


class BotStatus(models.TextChoices):
    CREATED = "created", "Created"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error"


class BotHealth(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning (not trading for now)"
    ERROR = "error", "Error"


class Bot(models.Model):
    """A trading bot of one client on one exchange account and symbol."""

    Type = BotType
    Status = BotStatus
    Health = BotHealth

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="bots")
    account = models.ForeignKey(
        ExchangeAccount,
        # An account in use cannot be deleted on its own, but goes with its client's bots.
        on_delete=models.RESTRICT,
        related_name="bots",
    )
    name = models.CharField(max_length=100)
    bot_type = models.CharField(max_length=10, choices=Type.choices)
    symbol = models.CharField(max_length=40, help_text="Unified pair, BASE/QUOTE, e.g. SHARP/USDT.")
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    desired_status = models.CharField(max_length=10, choices=Status.choices, default=Status.STOPPED)
    status_reason = models.TextField(blank=True, help_text="Why the bot is in its status (error, pause).")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_trade_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, help_text="Who may tick the bot now (a worker's token).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="When the lease lapses if not released.")
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the bot was last started.")
    keep_orders_on_stop = models.BooleanField(default=False, help_text="The stop under way leaves open orders resting.")
    next_tick_at = models.DateTimeField(null=True, blank=True, help_text="When the dispatcher next hands it a tick.")
    failures = models.PositiveIntegerField(default=0, help_text="Ticks failed in a row; at the limit the bot goes to error.")
    state = models.JSONField(default=dict, blank=True,
                             help_text="The engine's memory between ticks (baselines, counters); survives restarts.")
    health_status = models.CharField(max_length=10, choices=BotHealth.choices, default=BotHealth.OK)
    health_message = models.TextField(blank=True, help_text="Why the bot is not trading, in the frontend's words.")
    # Safety limits of this bot; empty: the platform's default (settings.BOT_SAFETY_DEFAULTS), if any.
    max_order_usd = models.DecimalField(**MONEY, null=True, blank=True, help_text="Quote value of one order.")
    max_position = models.DecimalField(**MONEY, null=True, blank=True,
                                       help_text="Base: largest net position the bot may hold (bought - sold).")
    min_base_kept = models.DecimalField(**MONEY, null=True, blank=True, help_text="Base the account always keeps.")
    min_quote_kept = models.DecimalField(**MONEY, null=True, blank=True, help_text="Quote the account always keeps.")
    max_daily_loss_usd = models.DecimalField(**MONEY, null=True, blank=True,
                                             help_text="Quote: the day's P&L below minus this stops the bot.")
    max_drawdown_usd = models.DecimalField(**MONEY, null=True, blank=True,
                                           help_text="Quote: P&L this far below its peak stops the bot.")
    price_band_pct = models.DecimalField(**MONEY, null=True, blank=True,
                                         help_text="Percent: no order priced farther than this from the reference.")
    max_orders_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BotStatus.values), name="bot_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(desired_status__in=BotStatus.values), name="bot_desired_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(bot_type__in=BotType.values), name="bot_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "status"], name="bot_client_status_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="bot_status_heartbeat_idx"),
            models.Index(fields=["bot_type"], name="bot_type_idx"),
            models.Index(fields=["status", "next_tick_at"], name="bot_status_next_tick_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.symbol})"

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[-1]


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending (recorded, not yet acknowledged)"
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELED = "canceled", "Canceled"
    REJECTED = "rejected", "Rejected"
    UNKNOWN = "unknown", "Unknown (sent; the venue has not said)"


class Order(models.Model):
    """An order the platform placed on an account, recorded before it is sent.

    The venue is the truth; this row is what we last heard from it. ``bot`` is empty for an
    operator's manual order. ``client_order_id`` carries the bot (see bots.engine.orders) so
    reconciliation can tell our orders from others on the same account.
    """

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Kind(models.TextChoices):
        LIMIT = "limit", "Limit"
        MARKET = "market", "Market"

    Status = OrderStatus
    # Orders that may still rest or fill at the venue: only the venue's answer moves them out.
    LIVE = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.UNKNOWN)

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="orders")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, null=True, blank=True, related_name="orders")
    symbol = models.CharField(max_length=40, help_text="Unified pair, BASE/QUOTE.")
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=128, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    amount = models.DecimalField(**MONEY, help_text="Base currency, as sent (rounded to the market's step).")
    price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Quote per base; none for market.")
    filled = models.DecimalField(**MONEY, default=0, help_text="Base currency.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    note = models.CharField(max_length=100, blank=True, help_text="Why the strategy placed it, e.g. 'bid 2'.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="order_side_valid"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"),
        ]
        indexes = [
            models.Index(fields=["bot", "status"], name="order_bot_status_idx"),
            models.Index(fields=["bot", "exchange_order_id"], name="order_bot_exchange_id_idx"),
            models.Index(fields=["account", "symbol", "exchange_order_id"], name="order_account_exchange_id_idx"),
        ]

    def __str__(self):
        return f"{self.side} {self.amount} @ {self.price or 'market'}"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class KillSwitch(models.Model):
    """The platform's one global kill switch (row id 1): while on, no bot starts or trades."""

    is_on = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "kill switch"
        verbose_name_plural = "kill switch"

    def __str__(self):
        return "kill switch on" if self.is_on else "kill switch off"


class UnownedFill(models.Model):
    """A fill on an account that no bot's order made (a manual trade, an order placed elsewhere).

    Kept visible to operators, never booked to a bot's ledger.
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="unowned_fills")
    symbol = models.CharField(max_length=40)
    exchange_trade_id = models.CharField(max_length=128)
    order_id = models.CharField(max_length=128, blank=True, help_text="The exchange's order id.")
    side = models.CharField(max_length=4)
    amount = models.DecimalField(**MONEY, help_text="Base currency.")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    cost = models.DecimalField(**MONEY, help_text="Quote currency.")
    fee = models.DecimalField(**MONEY, default=0, help_text="In fee_currency.")
    fee_currency = models.CharField(max_length=20, blank=True)
    traded_at = models.DateTimeField()
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-traded_at", "-id"]
        constraints = [
            # Both sides of a self-trade share one trade id (as in ledger.BotTrade's key).
            models.UniqueConstraint(fields=["account", "symbol", "exchange_trade_id", "side"],
                                    name="unowned_fill_unique_side"),
        ]

    def __str__(self):
        return f"{self.side} {self.amount} {self.symbol} @ {self.price}"


class EngineLease(models.Model):
    """A platform-wide lease by name (the dispatcher's), taken by conditional UPDATE like a bot's."""

    name = models.CharField(max_length=50, primary_key=True)
    owner = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.owner or 'free'}"
