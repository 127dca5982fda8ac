from decimal import Decimal

from django.db import models

from clients.models import Client, Wallet

# Venues with a native connector; any other ccxt exchange id is accepted as well.
NATIVE_EXCHANGES = ("paper", "bitmart", "coinstore", "jupiter")


class ExchangeAccount(models.Model):
    """A client's account at one venue (the earlier system's "connector")."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="exchange_accounts")
    exchange = models.CharField(max_length=40, help_text="paper, bitmart, coinstore, jupiter or a ccxt exchange id.")
    name = models.CharField(max_length=100, help_text="The client's label, e.g. 'main'; the API's `account`.")
    wallet = models.ForeignKey(
        Wallet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_accounts",
        help_text="The signing wallet of a DEX (jupiter) account.",
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Venue settings, checked per venue on save (exchanges/options.py).",
    )
    # The last connection test (a balance request run by a worker, never in a web request).
    test_queued_at = models.DateTimeField(null=True, blank=True, help_text="When the last test was queued.")
    tested_at = models.DateTimeField(null=True, blank=True, help_text="When the venue answered the last test.")
    test_ok = models.BooleanField(null=True, blank=True)
    test_message = models.TextField(blank=True, help_text="The exchange's own answer to the last test.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "exchange", "name"], name="account_unique_name"),
        ]
        indexes = [models.Index(fields=["exchange"], name="account_exchange_idx")]

    def __str__(self):
        return f"{self.exchange}:{self.name}"


class ExchangeCredential(models.Model):
    """API credentials of an account, each field a Fernet token; never stored in clear."""

    account = models.OneToOneField(ExchangeAccount, on_delete=models.CASCADE, related_name="credential")
    api_key_encrypted = models.TextField(editable=False)
    secret_encrypted = models.TextField(editable=False)
    memo_encrypted = models.TextField(blank=True, default="", editable=False, help_text="BitMart memo (uid).")
    passphrase_encrypted = models.TextField(blank=True, default="", editable=False)
    key_hint = models.CharField(max_length=8, blank=True, help_text="Last 4 characters of the API key.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"credential for {self.account} (…{self.key_hint})"


# --- the paper exchange: its whole state is these rows ----------------------------------------

PAPER_MONEY = {"max_digits": 38, "decimal_places": 18}
PAPER_RATE = {"max_digits": 12, "decimal_places": 8}


class PaperMarket(models.Model):
    """One simulated market of a paper account: its rules, fees and seeded price walk.

    The reference price at step n (step = ``step_ms`` of wall time since ``origin_at``) is a
    deterministic function of ``seed`` and ``initial_price``; ``ref_step``/``ref_price`` is only
    a checkpoint so the walk need not be replayed from the origin.
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_markets")
    symbol = models.CharField(max_length=40, help_text="Unified pair, BASE/QUOTE.")
    base = models.CharField(max_length=20)
    quote = models.CharField(max_length=20)
    price_step = models.DecimalField(**PAPER_MONEY, help_text="Quote; smallest price increment.")
    amount_step = models.DecimalField(**PAPER_MONEY, help_text="Base; smallest amount increment.")
    min_amount = models.DecimalField(**PAPER_MONEY, default=0, help_text="Base.")
    min_notional = models.DecimalField(**PAPER_MONEY, default=0, help_text="Quote.")
    maker_fee_rate = models.DecimalField(**PAPER_RATE, default=Decimal("0.001"), help_text="Fraction of cost.")
    taker_fee_rate = models.DecimalField(**PAPER_RATE, default=Decimal("0.001"), help_text="Fraction of cost.")
    initial_price = models.DecimalField(**PAPER_MONEY, help_text="Quote per base at step 0.")
    volatility_bps = models.DecimalField(**PAPER_RATE, default=Decimal("8"), help_text="Largest move per step, bps.")
    spread_bps = models.DecimalField(**PAPER_RATE, default=Decimal("10"), help_text="Synthetic book spread, bps.")
    depth_quote = models.DecimalField(**PAPER_MONEY, default=Decimal("500"), help_text="Quote per book level.")
    step_ms = models.PositiveIntegerField(default=2000, help_text="Milliseconds of wall time per price step.")
    seed = models.BigIntegerField()
    origin_at = models.DateTimeField(help_text="Wall time of step 0.")
    ref_step = models.BigIntegerField(default=0)
    ref_price = models.DecimalField(**PAPER_MONEY, help_text="Quote per base at ref_step.")

    class Meta:
        ordering = ["account_id", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="paper_market_unique_symbol"),
            models.CheckConstraint(condition=models.Q(price_step__gt=0, amount_step__gt=0), name="paper_market_steps"),
        ]

    def __str__(self):
        return f"paper {self.symbol}"


class PaperBalance(models.Model):
    """One asset of a paper account; ``locked`` backs resting orders."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_balances")
    asset = models.CharField(max_length=20)
    available = models.DecimalField(**PAPER_MONEY, default=0)
    locked = models.DecimalField(**PAPER_MONEY, default=0)

    class Meta:
        ordering = ["account_id", "asset"]
        constraints = [
            models.UniqueConstraint(fields=["account", "asset"], name="paper_balance_unique_asset"),
            models.CheckConstraint(condition=models.Q(available__gte=0, locked__gte=0), name="paper_balance_not_negative"),
        ]

    def __str__(self):
        return f"{self.asset} {self.available}+{self.locked}"


class PaperOrder(models.Model):
    """An order on the paper exchange; the row is the venue's truth."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        CANCELED = "canceled", "Canceled"

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_orders")
    market = models.ForeignKey(PaperMarket, on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=64, blank=True)
    side = models.CharField(max_length=4)
    kind = models.CharField(max_length=6)
    amount = models.DecimalField(**PAPER_MONEY, help_text="Base.")
    price = models.DecimalField(**PAPER_MONEY, null=True, blank=True, help_text="Quote per base; none for market.")
    filled = models.DecimalField(**PAPER_MONEY, default=0, help_text="Base.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    locked = models.DecimalField(**PAPER_MONEY, default=0, help_text="Funds still locked for the rest (quote for buys, base for sells).")
    checked_step = models.BigIntegerField(help_text="Last price step this order was checked against.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=~models.Q(client_order_id=""),
                name="paper_order_unique_client_id",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="paper_order_amount_positive"),
            models.CheckConstraint(condition=models.Q(filled__lte=models.F("amount")), name="paper_order_not_overfilled"),
        ]
        indexes = [models.Index(fields=["market", "status"], name="paper_order_market_status_idx")]

    def __str__(self):
        return f"paper {self.side} {self.amount} @ {self.price or 'market'}"


class PaperTrade(models.Model):
    """One fill on the paper exchange; the fee is always charged in the quote currency."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="paper_trades")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    amount = models.DecimalField(**PAPER_MONEY, help_text="Base.")
    price = models.DecimalField(**PAPER_MONEY, help_text="Quote per base.")
    cost = models.DecimalField(**PAPER_MONEY, help_text="Quote.")
    fee = models.DecimalField(**PAPER_MONEY, help_text="Quote.")
    fee_currency = models.CharField(max_length=20)
    is_maker = models.BooleanField()
    traded_at = models.DateTimeField()

    class Meta:
        ordering = ["traded_at", "id"]
        indexes = [models.Index(fields=["account", "symbol", "traded_at"], name="paper_trade_cursor_idx")]

    def __str__(self):
        return f"paper fill {self.side} {self.amount} @ {self.price}"


# --- Solana swaps in flight: any process can answer for them until their blockhash expires ----


class PendingSwap(models.Model):
    """A Jupiter swap this account signed, written before it is sent.

    The connector of any later task finds it by client order id or signature and says "not found"
    only once it can no longer land. States: see ``exchanges.connectors.jupiter.swaps``.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        LANDED = "landed", "Landed"
        FAILED = "failed", "Failed on chain"
        EXPIRED = "expired", "Expired unseen"
        REFUSED = "refused", "Refused by the node"

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="pending_swaps")
    signature = models.CharField(max_length=100, unique=True, help_text="The transaction's first signature (base58).")
    client_order_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40, help_text="Unified pair, BASE/QUOTE.")
    side = models.CharField(max_length=4)
    amount = models.DecimalField(**PAPER_MONEY, help_text="Base, as requested.")
    last_valid_block_height = models.BigIntegerField(help_text="Block height after which it cannot land.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    fee_lamports = models.BigIntegerField(null=True, blank=True, help_text="Lamports; the network fee once settled.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=~models.Q(client_order_id=""),
                name="pending_swap_unique_client_id",
            ),
        ]
        indexes = [models.Index(fields=["account", "state", "symbol"], name="pending_swap_state_idx")]

    def __str__(self):
        return f"swap {self.signature[:12]}… {self.state}"
