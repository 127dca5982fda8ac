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


class Bot(models.Model):
    """A trading bot of one client on one exchange account and symbol."""

    Type = BotType
    Status = BotStatus

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
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
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
        ]

    def __str__(self):
        return f"{self.name} ({self.symbol})"

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[-1]


class Order(models.Model):
    """An order a bot placed; the exchange is the truth, this row is what the bot last saw."""

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Kind(models.TextChoices):
        LIMIT = "limit", "Limit"
        MARKET = "market", "Market"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (not yet acknowledged)"
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        CANCELED = "canceled", "Canceled"
        REJECTED = "rejected", "Rejected"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=128, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    amount = models.DecimalField(**MONEY, help_text="Base currency.")
    price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Quote per base; none for market.")
    filled = models.DecimalField(**MONEY, default=0, help_text="Base currency.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="order_side_valid"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="order_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["bot", "status"], name="order_bot_status_idx"),
            models.Index(fields=["bot", "exchange_order_id"], name="order_bot_exchange_id_idx"),
        ]

    def __str__(self):
        return f"{self.side} {self.amount} @ {self.price or 'market'}"
