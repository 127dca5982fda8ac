from django.db import models

from bots.models import MONEY, Bot
from exchanges.models import ExchangeAccount


class BotTrade(models.Model):
    """One fill of one of the bot's orders, as the exchange reported it."""

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="trades")
    exchange_trade_id = models.CharField(max_length=128)
    order_id = models.CharField(max_length=128, blank=True, help_text="The exchange's order id.")
    side = models.CharField(max_length=4, choices=Side.choices)
    amount = models.DecimalField(**MONEY, help_text="Base currency filled; 0 for a fee-only trade (a failed swap).")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    cost = models.DecimalField(**MONEY, help_text="Quote currency: amount × price as the exchange reports it.")
    fee = models.DecimalField(**MONEY, default=0, help_text="In fee_currency; negative is a rebate.")
    fee_currency = models.CharField(max_length=20, blank=True)
    fee_quote = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Quote currency: the fee valued at the trade's time; empty when a third token had no price.",
    )
    traded_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-traded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "exchange_trade_id"], name="trade_unique_per_bot"),
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="trade_side_valid"),
            # amount 0 is a fee-only trade: a swap that failed on chain and still paid its network fee
            models.CheckConstraint(
                condition=models.Q(amount__gt=0) | models.Q(amount=0, fee__gt=0),
                name="trade_amount_positive_or_fee_only",
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="trade_price_not_negative"),
        ]
        indexes = [models.Index(fields=["bot", "traded_at"], name="trade_bot_time_idx")]

    def __str__(self):
        return f"{self.side} {self.amount} @ {self.price}"


class BalanceSnapshot(models.Model):
    """An account's balance of one asset, as first seen at ``taken_at`` and last confirmed at ``confirmed_at``.

    The background refresh writes a new set of rows only when an amount changed; while nothing
    changes it moves the current set's ``confirmed_at`` (the heartbeat readers and staleness use).
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="balance_snapshots")
    asset = models.CharField(max_length=20)
    available = models.DecimalField(**MONEY)
    locked = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    usd_value = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="USD at confirmed_at; empty when no price was known."
    )
    taken_at = models.DateTimeField(help_text="When the venue first reported these amounts.")
    confirmed_at = models.DateTimeField(help_text="When the venue last reported the same amounts (heartbeat).")

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [
            models.Index(fields=["account", "asset", "-taken_at"], name="balance_account_asset_idx"),
            models.Index(fields=["confirmed_at"], name="balance_confirmed_idx"),
        ]

    def __str__(self):
        return f"{self.asset} {self.total} @ {self.taken_at:%Y-%m-%d %H:%M}"


class PriceSource(models.TextChoices):
    MID = "mid", "Order book mid"
    TICKER = "ticker", "Ticker"
    LAST_TRADE = "last_trade", "Last trade"


class PnlState(models.Model):
    """A bot's incremental FIFO state, kept current on ingest so reading P&L never rescans trades.

    ``engine`` is the exact state (integers of 1e-18, see ledger/fifo.py); the decimal columns
    mirror it for screens and sorting. ``last_traded_at``/``last_trade_pk`` is the newest trade
    applied: a trade older than it arriving later makes ingestion rebuild the state.
    """

    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, related_name="pnl_state")
    engine = models.JSONField(default=dict, blank=True, help_text="Exact FIFO state: lots, sums, in units of 1e-18.")
    realized_pnl = models.DecimalField(**MONEY, default=0, help_text="Quote currency, fees included.")
    position = models.DecimalField(**MONEY, default=0, help_text="Base currency; negative when oversold (short).")
    fees_quote = models.DecimalField(**MONEY, default=0, help_text="Quote currency: fees valued at their trade's time.")
    trade_count = models.PositiveBigIntegerField(default=0)
    last_traded_at = models.DateTimeField(null=True, blank=True)
    last_trade_pk = models.BigIntegerField(null=True, blank=True, help_text="BotTrade id of the newest applied trade.")
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"P&L state of bot {self.bot_id}"


class TradeSyncCursor(models.Model):
    """How far a bot's own fills have been fetched from its exchange."""

    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, related_name="trade_cursor")
    last_trade_at = models.DateTimeField(null=True, blank=True, help_text="Newest fill time fetched so far.")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"trade cursor of bot {self.bot_id}"


class Rollup(models.Model):
    """Per-bot sums over one time bucket, maintained on ingest so reads never scan trades."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    bucket_start = models.DateTimeField(help_text="UTC start of the bucket.")
    trade_count = models.PositiveIntegerField(default=0)
    buy_count = models.PositiveIntegerField(default=0)
    sell_count = models.PositiveIntegerField(default=0)
    buy_base = models.DecimalField(**MONEY, default=0, help_text="Base currency bought.")
    buy_quote = models.DecimalField(**MONEY, default=0, help_text="Quote currency paid (cost, before fees).")
    sell_base = models.DecimalField(**MONEY, default=0, help_text="Base currency sold.")
    sell_quote = models.DecimalField(**MONEY, default=0, help_text="Quote currency received (cost, before fees).")
    fees_quote = models.DecimalField(**MONEY, default=0, help_text="Quote currency: fees valued at trade time.")
    unconverted_fees = models.JSONField(default=dict, blank=True, help_text="{currency: amount} of fees with no price.")
    realized_pnl = models.DecimalField(**MONEY, default=0, help_text="Quote currency realized by trades in the bucket.")

    class Meta:
        abstract = True


class HourlyRollup(Rollup):
    class Meta:
        ordering = ["bot_id", "bucket_start"]
        constraints = [models.UniqueConstraint(fields=["bot", "bucket_start"], name="hourly_rollup_unique")]


class DailyRollup(Rollup):
    class Meta:
        ordering = ["bot_id", "bucket_start"]
        constraints = [models.UniqueConstraint(fields=["bot", "bucket_start"], name="daily_rollup_unique")]


class PriceSnapshot(models.Model):
    """The latest known price of one symbol at one exchange, kept fresh by a background task.

    Readers use it for marks and USD values and never call an exchange themselves.
    """

    Source = PriceSource

    exchange = models.CharField(max_length=40)
    symbol = models.CharField(max_length=40, help_text="Unified BASE/QUOTE.")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    source = models.CharField(max_length=10, choices=Source.choices)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["exchange", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="price_unique_symbol"),
            models.CheckConstraint(condition=models.Q(source__in=PriceSource.values), name="price_source_valid"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="price_positive"),
        ]
        indexes = [models.Index(fields=["symbol"], name="price_symbol_idx")]

    def __str__(self):
        return f"{self.exchange} {self.symbol} {self.price} ({self.source})"


class PriceHistory(models.Model):
    """Every price the refresh stored, kept PRUNE_AFTER_DAYS: late fills' third-token fees convert at their time."""

    Source = PriceSource

    exchange = models.CharField(max_length=40)
    symbol = models.CharField(max_length=40, help_text="Unified BASE/QUOTE.")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    source = models.CharField(max_length=10, choices=Source.choices)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["symbol", "taken_at"]
        verbose_name_plural = "price history"
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol", "taken_at"], name="price_history_unique"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="price_history_positive"),
        ]
        indexes = [models.Index(fields=["symbol", "taken_at"], name="price_history_symbol_time_idx")]

    def __str__(self):
        return f"{self.exchange} {self.symbol} {self.price} @ {self.taken_at:%Y-%m-%d %H:%M}"


class BalanceRefresh(models.Model):
    """The outcome of an account's last balance refresh: when the snapshots are from and why not newer."""

    account = models.OneToOneField(ExchangeAccount, on_delete=models.CASCADE, related_name="balance_refresh")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True, help_text="confirmed_at of the current snapshots.")
    is_stale = models.BooleanField(default=False, help_text="The last attempt failed; the snapshots are older.")
    last_error = models.TextField(blank=True)

    def __str__(self):
        return f"balance refresh of {self.account_id}"
