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
    amount = models.DecimalField(**MONEY, help_text="Base currency filled.")
    price = models.DecimalField(**MONEY, help_text="Quote per base.")
    cost = models.DecimalField(**MONEY, help_text="Quote currency: amount × price as the exchange reports it.")
    fee = models.DecimalField(**MONEY, default=0, help_text="In fee_currency; negative is a rebate.")
    fee_currency = models.CharField(max_length=20, blank=True)
    traded_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-traded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "exchange_trade_id"], name="trade_unique_per_bot"),
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="trade_side_valid"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="trade_amount_positive"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="trade_price_not_negative"),
        ]
        indexes = [models.Index(fields=["bot", "traded_at"], name="trade_bot_time_idx")]

    def __str__(self):
        return f"{self.side} {self.amount} @ {self.price}"


class BalanceSnapshot(models.Model):
    """An account's balance of one asset at one time, written by the background refresh."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="balance_snapshots")
    asset = models.CharField(max_length=20)
    available = models.DecimalField(**MONEY)
    locked = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    usd_value = models.DecimalField(**MONEY, null=True, blank=True, help_text="USD; empty when no price was known.")
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["account", "asset", "-taken_at"], name="balance_account_asset_idx")]

    def __str__(self):
        return f"{self.asset} {self.total} @ {self.taken_at:%Y-%m-%d %H:%M}"
