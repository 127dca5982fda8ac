"""The operator's account form: the venue picked from a list, its options as fields of their own.

An account's ``options`` is JSON (exchanges/options.py checks it per venue); operators should not
write JSON. This form shows the fields the chosen venue takes, turns them into ``options`` and maps
each option problem back to the field it came from. Paper markets and token lists are one line an
entry, the way an operator would jot them down.
"""
from decimal import Decimal, InvalidOperation

from django import forms

from exchanges.models import ExchangeAccount
from exchanges.options import JUPITER_INTEGERS, NATIVE, PAPER_MARKET_KEYS
from exchanges.services import account_errors

SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
SECRET_FIELDS = ("api_key", "secret", "memo", "passphrase")
LINES = forms.Textarea(attrs={"rows": 4, "cols": 90, "style": "font-family: monospace"})
MARKET_KEYS = (*PAPER_MARKET_KEYS, "step_ms", "seed")
VENUE_NAMES = {"paper": "Paper (simulated, for demos and dry runs)", "bitmart": "BitMart",
               "coinstore": "Coinstore", "jupiter": "Jupiter (Solana swaps)"}

# The fields each venue takes, after client / exchange / name. Paper takes no key; only BitMart a memo.
KEYS = ("api_key", "secret")
VENUE_FIELDS = {
    "paper": ("paper_markets", "paper_balances", "maker_fee", "taker_fee"),
    "bitmart": ("api_url", *KEYS, "memo", "test_after_save"),
    "coinstore": ("api_url", *KEYS, "test_after_save"),
    "jupiter": ("wallet", "rpc_url", "api_url", "tokens", *JUPITER_INTEGERS),
}
CCXT_FIELDS = ("api_url", *KEYS, "passphrase", "memo", "test_after_save")
OPTION_FIELDS = ("api_url", "rpc_url", *JUPITER_INTEGERS)  # options copied as they are, when given


def venue_fields(exchange: str | None) -> tuple[str, ...]:
    if not exchange:
        return ()
    return VENUE_FIELDS.get(exchange, CCXT_FIELDS)


def exchange_choices():
    import ccxt  # a second to import: only when the form is drawn

    others = [(venue, venue) for venue in ccxt.exchanges if venue not in NATIVE]
    return [("", "---------"), ("Native connectors", [(v, VENUE_NAMES[v]) for v in NATIVE]),
            ("Other exchanges (through ccxt)", others)]


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{word!r} is not key=value")
        pairs[key] = value
    return pairs


def parse_markets(text: str) -> dict:
    """'SHARP/USDT price=0.0125 amount_step=1' per line -> {"SHARP/USDT": {"price": "0.0125", ...}}."""
    markets = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        symbol, _, rest = line.strip().partition(" ")
        try:
            spec = _pairs(rest)
        except ValueError as exc:
            raise forms.ValidationError(f"Line {number}: {exc}. Write SYMBOL key=value ...") from None
        for key in ("step_ms", "seed"):
            if key in spec:
                try:
                    spec[key] = int(spec[key])
                except ValueError:
                    raise forms.ValidationError(f"Line {number}: {key} must be a whole number.") from None
        markets[symbol] = spec
    return markets


def parse_amounts(text: str, what: str) -> dict[str, str]:
    """'USDT 10000' per line -> {"USDT": "10000"}."""
    amounts = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise forms.ValidationError(f"Line {number}: write {what}.")
        amounts[parts[0]] = parts[1]
    return amounts


def parse_tokens(text: str) -> dict:
    """'USDC EPjF...Dt1v 6' per line (decimals optional: read from the mint) -> tokens option."""
    tokens = {}
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise forms.ValidationError(f"Line {number}: write SYMBOL MINT [DECIMALS].")
        spec = {"mint": parts[1]}
        if len(parts) == 3:
            try:
                spec["decimals"] = int(parts[2])
            except ValueError:
                raise forms.ValidationError(f"Line {number}: decimals must be a whole number.") from None
        tokens[parts[0]] = spec
    return tokens


def _markets_text(markets: dict) -> str:
    # Keys in one fixed order: PostgreSQL's jsonb does not keep the order they were written in.
    order = {key: i for i, key in enumerate(MARKET_KEYS)}
    return "\n".join(" ".join([symbol, *(f"{k}={v}" for k, v in sorted((spec or {}).items(),
                                                                        key=lambda kv: order.get(kv[0], 99)))])
                     for symbol, spec in sorted(markets.items()))


def _tokens_text(tokens: dict) -> str:
    return "\n".join(" ".join(str(p) for p in (symbol, spec.get("mint", ""), spec.get("decimals")) if p is not None)
                     for symbol, spec in tokens.items() if isinstance(spec, dict))


def _rate(value) -> str | None:
    try:
        return None if value in (None, "") else str(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


class AccountForm(forms.ModelForm):
    """Credentials are typed here, encrypted on save, and never shown again (only their last four)."""

    exchange = forms.ChoiceField(choices=exchange_choices, help_text="The venue; fixed once the account is saved.")
    api_key = forms.CharField(required=False, widget=SECRET_WIDGET, help_text="Leave empty to keep the stored key.")
    secret = forms.CharField(required=False, widget=SECRET_WIDGET)
    memo = forms.CharField(required=False, widget=SECRET_WIDGET, label="Memo",
                           help_text="The memo BitMart asked for when the key was made.")
    passphrase = forms.CharField(required=False, widget=SECRET_WIDGET)
    test_after_save = forms.BooleanField(required=False, initial=True, label="Test the key after saving",
                                         help_text="A worker asks the exchange; the answer appears on this page.")
    api_url = forms.CharField(required=False, label="API URL", max_length=300,
                              help_text="Only to reach a different host than the venue's own (https).")
    rpc_url = forms.CharField(required=False, label="Solana RPC URL", max_length=300,
                              help_text="https; a provider's URL may carry its key, so it is never shown in the audit.")
    tokens = forms.CharField(required=False, widget=LINES,
                             help_text="One token a line: SYMBOL MINT [DECIMALS]. Decimals are read from the mint; "
                                       "given ones must agree.")
    slippage_bps = forms.IntegerField(required=False, min_value=JUPITER_INTEGERS["slippage_bps"][0],
                                      max_value=JUPITER_INTEGERS["slippage_bps"][1], label="Slippage (bps)")
    priority_fee_lamports = forms.IntegerField(required=False, min_value=0,
                                               max_value=JUPITER_INTEGERS["priority_fee_lamports"][1],
                                               label="Priority fee (lamports)")
    confirm_timeout_s = forms.IntegerField(required=False, min_value=JUPITER_INTEGERS["confirm_timeout_s"][0],
                                           max_value=JUPITER_INTEGERS["confirm_timeout_s"][1],
                                           label="Confirmation wait (s)")
    paper_markets = forms.CharField(
        required=False, widget=LINES, label="Markets",
        help_text="One market a line: SYMBOL key=value ... with keys " + ", ".join(MARKET_KEYS)
                  + ". Empty: the default markets (SHARP/USDT, SOL/USDC, BTC/USDT).")
    paper_balances = forms.CharField(required=False, widget=LINES, label="Starting balances",
                                     help_text="One asset a line: ASSET AMOUNT. Empty: the default balances.")
    maker_fee = forms.DecimalField(required=False, min_value=0, max_value=1, decimal_places=8,
                                   help_text="A fraction: 0.001 is 0.1 %.")
    taker_fee = forms.DecimalField(required=False, min_value=0, max_value=1, decimal_places=8,
                                   help_text="A fraction: 0.001 is 0.1 %.")

    class Meta:
        model = ExchangeAccount
        fields = ("client", "exchange", "name", "wallet")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the chosen venue's fields: a field that is not shown must not empty an option.
        venue = self.instance.exchange if self.instance.pk else (self.data.get("exchange") or self.initial.get("exchange"))
        keep = {"client", "exchange", "name", *venue_fields(venue)}
        for name in [name for name in self.fields if name not in keep]:
            del self.fields[name]
        options = self.instance.options if isinstance(self.instance.options, dict) else {}
        paper = options.get("paper") or {}
        initial = {key: options.get(key) for key in OPTION_FIELDS}
        initial.update(
            tokens=_tokens_text(options.get("tokens") or {}),
            paper_markets=_markets_text(paper.get("markets") or {}),
            paper_balances="\n".join(f"{asset} {amount}" for asset, amount in (paper.get("balances") or {}).items()),
            maker_fee=_rate((paper.get("fees") or {}).get("maker")),
            taker_fee=_rate((paper.get("fees") or {}).get("taker")),
        )
        for name, value in initial.items():
            if name in self.fields and value not in (None, ""):
                self.initial.setdefault(name, value)

    def clean_paper_markets(self):
        return parse_markets(self.cleaned_data.get("paper_markets") or "")

    def clean_paper_balances(self):
        return parse_amounts(self.cleaned_data.get("paper_balances") or "", "ASSET AMOUNT")

    def clean_tokens(self):
        return parse_tokens(self.cleaned_data.get("tokens") or "")

    def options(self, data: dict) -> dict:
        """The venue's options from the cleaned fields; options of fields this form does not show are kept."""
        options = dict(self.instance.options) if isinstance(self.instance.options, dict) else {}
        for key in (*OPTION_FIELDS, "tokens"):
            if key in self.fields:
                value = data.get(key)
                if value in (None, "", {}):
                    options.pop(key, None)
                else:
                    options[key] = value
        if "paper_markets" in self.fields:
            paper = {"markets": data.get("paper_markets"), "balances": data.get("paper_balances"),
                     "fees": {side: str(data[f"{side}_fee"]) for side in ("maker", "taker")
                              if data.get(f"{side}_fee") is not None}}
            paper = {key: value for key, value in paper.items() if value}
            if paper:
                options["paper"] = paper
            else:
                options.pop("paper", None)
        return options

    def clean(self):
        data = super().clean()
        exchange = data.get("exchange") or self.instance.exchange
        if self.errors or not exchange:
            return data
        options = self.options(data)
        for problem in account_errors(exchange=exchange, options=options).get("options", []):
            self.add_error(self._field_of(problem), problem)
        self.instance.options = options
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

    def _field_of(self, problem: str) -> str | None:
        key = problem.split(":", 1)[0]
        for prefix, field in (("paper.markets", "paper_markets"), ("paper.balances", "paper_balances"),
                              ("paper.fees.maker", "maker_fee"), ("paper.fees.taker", "taker_fee"),
                              ("tokens", "tokens")):
            if key.startswith(prefix):
                return field
        return key if key in self.fields else None
