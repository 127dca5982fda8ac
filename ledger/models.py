from decimal import Decimal

from django.db import models

from bots.models import MONEY, Bot
from exchanges.models import ExchangeAccount


EXACT_TEXT = {"max_length": 48, "blank": True, "editable": False}
# A mirror that is off from its column by more than SQLite's rounding is stale (the column was
# written alone): the column wins then.
_AGREE = Decimal("1e-13")


def _agrees(text: str, column) -> Decimal | None:
    exact = Decimal(text)
    if column == exact or abs(column - exact) <= max(abs(exact) * _AGREE, Decimal("1e-18")):
        return exact
    return None


class ExactMirrors(models.Model):
    """Decimal columns with an exact text mirror (``<name>_exact``).

    SQLite keeps about 15 significant digits of a decimal column; the mirror keeps all of them, and
    instances loaded from the database read the mirror, so figures are exact on every database.
    """

    EXACT: tuple[str, ...] = ()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        loaded = instance.__dict__
        for name in cls.EXACT:
            text, column = loaded.get(f"{name}_exact"), loaded.get(name)
            if text and column is not None:
                exact = _agrees(text, column)
                if exact is not None:
                    loaded[name] = exact
        return instance

    def set_exact(self) -> None:
        """Write each mirror from its column's value (call before saving new values)."""
        for name in self.EXACT:
            value = getattr(self, name)
            setattr(self, f"{name}_exact", "" if value is None else str(value))


class BotTrade(ExactMirrors):
    """One fill of one of the bot's orders, as the exchange reported it."""

    EXACT = ("amount", "price", "cost", "fee", "fee_quote")

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
    amount_exact = models.CharField(**EXACT_TEXT, help_text="amount as exact text (SQLite rounds the column).")
    price_exact = models.CharField(**EXACT_TEXT, help_text="price as exact text.")
    cost_exact = models.CharField(**EXACT_TEXT, help_text="cost as exact text.")
    fee_exact = models.CharField(**EXACT_TEXT, help_text="fee as exact text.")
    fee_quote_exact = models.CharField(**EXACT_TEXT, help_text="fee_quote as exact text; empty while it has none.")
    traded_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-traded_at", "-id"]
        constraints = [
            # Both sides of a self-trade share the venue's trade id: the side tells them apart.
            models.UniqueConstraint(fields=["bot", "exchange_trade_id", "side"], name="trade_unique_per_bot_side"),
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


class QuarantinedFill(models.Model):
    """A fill the exchange reported that cannot be booked (no id, bad side or amount, another pair,
    no time zone, a figure too large): kept with its raw data and the reason for an operator to
    look at, while the rest of its page is booked and the sync cursor moves on."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="quarantined_fills")
    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="+")
    exchange_trade_id = models.CharField(max_length=128, blank=True, help_text="As reported (may be empty).")
    raw = models.JSONField(help_text="The fill as the connector returned it; numbers as exact text.")
    code = models.CharField(max_length=40, help_text="Why, as a stable code (trade_side, trade_amount, ...).")
    reason = models.TextField()
    fingerprint = models.CharField(max_length=64, help_text="sha256 of raw: the same fill read again is kept once.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["bot", "fingerprint"], name="quarantined_fill_unique")]

    def __str__(self):
        return f"quarantined fill {self.exchange_trade_id or '?'} of bot {self.bot_id}: {self.code}"


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

    class Meta:
        verbose_name = "P&L state"
        verbose_name_plural = "P&L states"

    def __str__(self):
        return f"P&L state of bot {self.bot_id}"


class PnlCheckpoint(models.Model):
    """A bot's exact FIFO state before its first trade at or after ``at`` (a UTC hour start).

    Written as trades are applied, every ``CHECKPOINT_EVERY`` trades or more (see
    ledger/checkpoints.py), so a fill arriving late replays the trades from the nearest checkpoint
    before it instead of every trade the bot ever made.
    """

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="UTC hour start: the state holds every trade before it and none after.")
    trade_count = models.PositiveBigIntegerField(help_text="Trades in the state.")
    engine = models.JSONField(help_text="Exact FIFO state: lots, sums, in units of 1e-18.")

    class Meta:
        verbose_name = "P&L checkpoint"
        verbose_name_plural = "P&L checkpoints"
        ordering = ["bot_id", "at"]
        constraints = [models.UniqueConstraint(fields=["bot", "at"], name="pnl_checkpoint_unique")]

    def __str__(self):
        return f"P&L checkpoint of bot {self.bot_id} at {self.at:%Y-%m-%d %H:%M}"


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
    """Per-bot sums over one time bucket, maintained on ingest so reads never scan trades.

    ``exact`` holds each sum as exact text; loaded instances read it (see ExactMirrors).
    """

    SUMS = ("buy_base", "buy_quote", "sell_base", "sell_quote", "fees_quote", "realized_pnl")

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
    exact = models.JSONField(default=dict, blank=True, editable=False,
                             help_text="{sum: exact text} of the decimal sums (SQLite rounds the columns).")

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        loaded = instance.__dict__
        for name, text in (loaded.get("exact") or {}).items():
            column = loaded.get(name)
            if name in cls.SUMS and column is not None:
                exact = _agrees(text, column)
                if exact is not None:
                    loaded[name] = exact
        return instance


class HourlyRollup(Rollup):
    class Meta:
        ordering = ["bot_id", "bucket_start"]
        constraints = [models.UniqueConstraint(fields=["bot", "bucket_start"], name="hourly_rollup_unique")]


class DailyRollup(Rollup):
    class Meta:
        ordering = ["bot_id", "bucket_start"]
        constraints = [models.UniqueConstraint(fields=["bot", "bucket_start"], name="daily_rollup_unique")]


class PriceFields(models.Model):
    """One price of one symbol at one exchange (the latest, or one in the history)."""

    Source = PriceSource

    exchange = models.CharField(max_length=40)
    symbol = models.CharField(max_length=40, help_text="Unified BASE/QUOTE.")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    source = models.CharField(max_length=10, choices=Source.choices)
    taken_at = models.DateTimeField()

    class Meta:
        abstract = True


class PriceSnapshot(PriceFields):
    """The latest known price of one symbol at one exchange, kept fresh by a background task.

    Readers use it for marks and USD values and never call an exchange themselves.
    """

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


class PriceHistory(PriceFields):
    """Every price the refresh stored, kept PRUNE_AFTER_DAYS: late fills' third-token fees convert at their time."""

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

    class Meta:
        verbose_name = "balance refresh"
        verbose_name_plural = "balance refreshes"

    def __str__(self):
        return f"balance refresh of {self.account_id}"
