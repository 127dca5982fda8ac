"""One schema per bot type: a bot's stored `config` parsed exactly into a frozen dataclass.

Pure: no database, no exchange, no Django; the strategies import it. Numbers become ``Decimal``
from JSON numbers or strings (a JSON float goes through its shortest repr, never its binary
value), defaults are filled, unknown keys refused, ranges checked, one message per key.

The earlier system's keys are kept, with their meanings, so its bots and its frontend's edit form
work unchanged (``_usd`` amounts are in the market's quote currency, as they were there):

- ``spread_percent`` / ``spread_bps`` are the whole bid-to-ask width around the reference price;
  the legacy ``bid_spread`` / ``ask_spread`` are each side's distance as a fraction (0.001 = 0.1 %).
- ``drift_threshold_pct`` and ``max_position_imbalance`` are fractions (0.0025 = 0.25 %), while
  ``circuit_breaker_pct`` is in percent (30 = 30 %); the names are the earlier system's.

The stored config keeps the keys the operator wrote; parse it again wherever it is used (the
engine does each tick, so a change reaches a running bot at its next tick).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

VOLUME, SPREAD, DEX = "volume", "spread", "dex"

# Messages tests check.
UNKNOWN_KEY = "Unknown setting for a {bot_type} bot."
NOT_AN_OBJECT = "config is a JSON object."
NOT_A_NUMBER = "Must be a number."
NOT_FINITE = "Must be a finite number."
NOT_AN_INTEGER = "Must be a whole number."
TOO_PRECISE = "At most 18 decimal places."
NOT_A_STRING = "Must be text."
NOT_A_MINT = "Must be a Solana token mint address (base58, 32 to 44 characters)."
AT_LEAST = "Must be at least {limit}."
ABOVE = "Must be more than {limit}."
AT_MOST = "Must be at most {limit}."
BELOW = "Must be less than {limit}."
ONE_OF = "Must be one of: {choices}."
NOT_ABOVE = "Must not be more than {other} ({value})."
REQUIRED_WITH = "Required when {other} is {value}."
SPACING_NEEDED = "Must be more than 0 when levels is more than 1."
EXCLUSIVE = "Give either {key} or {other}, not both."
TOGETHER = "Give {key} and {other} together."
SYMBOL_NOT_LISTED = "{symbol} is not listed on this account's exchange."
SYMBOL_INACTIVE = "{symbol} is listed but not trading on this account's exchange."
BELOW_MIN_NOTIONAL = "Below the market's minimum order value of {minimum} {quote}."
BELOW_MIN_AMOUNT = "Below the market's minimum order amount of {minimum} {base}."

MAX_DECIMAL_PLACES = 18
# Quotes worth one US dollar, in which `_usd` amounts compare with a market's minimum order value.
USD_QUOTES = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "DAI", "TUSD", "PYUSD", "USDE"})
MINT = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?$")

# Absurd-amount guards: bigger than any client's real order, small enough to catch a typo's extra zeros.
MAX_USD = Decimal("1000000000")  # 1e9 quote
MAX_AMOUNT = Decimal("1000000000000000")  # 1e15 base
MAX_PRICE = Decimal("1000000000000")
MAX_BPS = Decimal(10000)
DAY_S = 86400


class ConfigErrors(ValueError):
    """A config that breaks its schema: `errors` maps each offending key to one message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.errors.items()))


# --- the parsed configs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VolumeConfig:
    """A volume bot: takes the book toward a daily volume, random sizes and intervals."""

    daily_volume_usd: Decimal = Decimal(5000)
    min_trade_usd: Decimal = Decimal(10)
    max_trade_usd: Decimal = Decimal(25)
    interval_min_seconds: int = 900
    interval_max_seconds: int = 2700
    max_position_imbalance: Decimal = Decimal("0.2")  # fraction of the day's volume bought vs. sold
    circuit_breaker_pct: Decimal = Decimal(30)  # percent drop from the session's start; 0 turns it off
    max_consecutive_same_side: int = 3
    buy_ratio: Decimal = Decimal("0.5")  # target share of the day's volume that is bought
    max_price_impact_bps: Decimal = Decimal(100)  # farthest from mid a trade may reach into the book
    max_spread_bps: Decimal = Decimal(500)  # widest book it still trades into
    daily_budget_usd: Decimal | None = None  # most quote spent on buys per UTC day
    daily_loss_cap_usd: Decimal | None = None  # stop for the day once the day's P&L is this far below zero


@dataclass(frozen=True)
class SpreadConfig:
    """A spread (market-making) bot: bid and ask ladders around a reference price."""

    spread_bps: Decimal = Decimal(300)  # bid-to-ask width at the first level
    bid_spread: Decimal | None = None  # legacy: bid's distance from the reference, a fraction
    ask_spread: Decimal | None = None
    order_size_usd: Decimal | None = Decimal(10)  # quote per order; None when another size rule is set
    order_size_min_usd: Decimal | None = None  # random size in [min, max] instead of a fixed one
    order_size_max_usd: Decimal | None = None
    order_amount: Decimal | None = None  # legacy: base per order
    levels: int = 1
    level_spacing_bps: Decimal = Decimal(10)
    poll_interval_seconds: int = 30
    drift_threshold_pct: Decimal | None = None  # keep an order within this fraction of its target price; default half the spread
    max_order_age_seconds: int | None = None  # replace older orders even within tolerance
    price_source: str = "mid"  # mid, last, or reference (another account's mid)
    reference_account: int | None = None
    inventory_target_pct: Decimal = Decimal(50)  # share of the bot's value it aims to hold in base
    inventory_skew_bps: Decimal = Decimal(0)  # largest shift of both ladders when inventory is off target
    price_floor: Decimal | None = None  # never sell below
    price_ceiling: Decimal | None = None  # never buy above
    circuit_breaker_pct: Decimal = Decimal(30)
    volatility_widen_factor: Decimal = Decimal(2)
    price_decimals: int | None = None
    amount_decimals: int | None = None

    @property
    def bid_distance(self) -> Decimal:
        return self.bid_spread if self.bid_spread is not None else self.spread_bps / 2 / MAX_BPS

    @property
    def ask_distance(self) -> Decimal:
        return self.ask_spread if self.ask_spread is not None else self.spread_bps / 2 / MAX_BPS

    @property
    def tolerance(self) -> Decimal:
        if self.drift_threshold_pct is not None:
            return self.drift_threshold_pct
        return (self.bid_distance + self.ask_distance) / 2


@dataclass(frozen=True)
class DexConfig:
    """A DEX (Solana/Jupiter) bot: swaps toward a daily volume, or buys/sells an amount in slices."""

    mode: str = "volume"  # volume, buy or sell (TWAP)
    daily_volume_usd: Decimal = Decimal(5000)
    min_trade_usd: Decimal = Decimal(10)
    max_trade_usd: Decimal = Decimal(25)
    interval_min_seconds: int = 900
    interval_max_seconds: int = 2700
    max_consecutive_same_side: int = 3
    buy_ratio: Decimal = Decimal("0.5")
    twap_amount: Decimal | None = None  # base to buy or sell in total (mode buy/sell)
    twap_slices: int = 10
    slippage_bps: Decimal = Decimal(50)
    max_price_impact_bps: Decimal = Decimal(100)
    max_buy_price: Decimal | None = None
    min_sell_price: Decimal | None = None
    min_sol_kept: Decimal = Decimal("0.05")  # SOL never spent, kept for fees
    daily_budget_usd: Decimal | None = None
    daily_loss_cap_usd: Decimal | None = None
    base_mint: str | None = None
    quote_mint: str | None = None
    price_decimals: int | None = None
    amount_decimals: int | None = None

    @property
    def twap_slice(self) -> Decimal | None:
        return None if self.twap_amount is None else self.twap_amount / self.twap_slices


CONFIG_TYPES = {VOLUME: VolumeConfig, SPREAD: SpreadConfig, DEX: DexConfig}


# --- field rules -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    kind: str  # decimal, int, choice, mint
    low: Decimal | None = None
    low_open: bool = False  # low itself refused
    high: Decimal | None = None
    high_open: bool = False
    choices: tuple = ()


def money(high=MAX_USD) -> Rule:
    return Rule("decimal", low=Decimal(0), low_open=True, high=high)


def fraction(*, zero=False, one=False) -> Rule:
    return Rule("decimal", low=Decimal(0), low_open=not zero, high=Decimal(1), high_open=not one)


def whole(low, high) -> Rule:
    return Rule("int", low=Decimal(low), high=Decimal(high))


BPS = Rule("decimal", low=Decimal(0), low_open=True, high=MAX_BPS)
PCT = Rule("decimal", low=Decimal(0), high=Decimal(100), high_open=True)
INTERVAL = whole(1, DAY_S)
DECIMALS = whole(0, MAX_DECIMAL_PLACES)

VOLUME_RULES = {
    "daily_volume_usd": money(), "min_trade_usd": money(), "max_trade_usd": money(),
    "interval_min_seconds": INTERVAL, "interval_max_seconds": INTERVAL,
    "max_position_imbalance": fraction(one=True), "circuit_breaker_pct": PCT,
    "max_consecutive_same_side": whole(1, 1000), "buy_ratio": fraction(),
    "max_price_impact_bps": BPS, "max_spread_bps": BPS,
    "daily_budget_usd": money(), "daily_loss_cap_usd": money(),
}
SPREAD_RULES = {
    "spread_bps": Rule("decimal", low=Decimal(0), low_open=True, high=Decimal(5000)),
    "spread_percent": Rule("decimal", low=Decimal(0), low_open=True, high=Decimal(50)),
    "bid_spread": fraction(), "ask_spread": fraction(),
    "order_size_usd": money(), "order_size_min_usd": money(), "order_size_max_usd": money(),
    "order_amount": money(MAX_AMOUNT),
    "levels": whole(1, 50), "level_spacing_bps": Rule("decimal", low=Decimal(0), high=Decimal(5000)),
    "poll_interval_seconds": whole(1, 3600), "drift_threshold_pct": fraction(),
    "max_order_age_seconds": INTERVAL,
    "price_source": Rule("choice", choices=("mid", "last", "reference")),
    "reference_account": whole(1, 2**63 - 1),
    "inventory_target_pct": Rule("decimal", low=Decimal(0), high=Decimal(100)),
    "inventory_skew_bps": Rule("decimal", low=Decimal(0), high=Decimal(5000)),
    "price_floor": money(MAX_PRICE), "price_ceiling": money(MAX_PRICE),
    "circuit_breaker_pct": PCT,
    "volatility_widen_factor": Rule("decimal", low=Decimal(1), high=Decimal(10)),
    "price_decimals": DECIMALS, "amount_decimals": DECIMALS,
}
DEX_RULES = {
    "mode": Rule("choice", choices=("volume", "buy", "sell")),
    **{key: VOLUME_RULES[key] for key in (
        "daily_volume_usd", "min_trade_usd", "max_trade_usd", "interval_min_seconds", "interval_max_seconds",
        "max_consecutive_same_side", "buy_ratio", "max_price_impact_bps", "daily_budget_usd", "daily_loss_cap_usd")},
    "twap_amount": money(MAX_AMOUNT), "twap_slices": whole(1, 100000),
    "slippage_bps": Rule("decimal", low=Decimal(0), low_open=True, high=Decimal(5000)),
    "max_buy_price": money(MAX_PRICE), "min_sell_price": money(MAX_PRICE),
    "min_sol_kept": Rule("decimal", low=Decimal(0), high=Decimal(1000000)),
    "base_mint": Rule("mint"), "quote_mint": Rule("mint"),
    "price_decimals": DECIMALS, "amount_decimals": DECIMALS,
}
RULES = {VOLUME: VOLUME_RULES, SPREAD: SPREAD_RULES, DEX: DEX_RULES}

# The earlier system's other spellings of the spread bot's size and refresh interval.
ALIASES = {
    SPREAD: {"order_size_usdt": "order_size_usd", "refresh_seconds": "poll_interval_seconds",
             "refresh_interval_seconds": "poll_interval_seconds", "refresh_interval": "poll_interval_seconds",
             "order_refresh_time": "poll_interval_seconds"},
}


def _bound(limit: Decimal) -> str:
    return format(limit.normalize(), "f")


def _decimal(value) -> Decimal:
    """`value` as an exact Decimal, or ValueError with the message to show."""
    if isinstance(value, bool):
        raise ValueError(NOT_A_NUMBER)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(NOT_FINITE)
        value = repr(value)  # the shortest text that reads back as this float: what the JSON said
    if not isinstance(value, str):
        raise ValueError(NOT_A_NUMBER)
    text = value.strip()
    if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        raise ValueError(NOT_FINITE)
    if not NUMBER.match(text):
        raise ValueError(NOT_A_NUMBER)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(NOT_A_NUMBER) from None
    if not number.is_finite():
        raise ValueError(NOT_FINITE)
    return number


def _decimal_places(number: Decimal) -> int:
    """Places after the point once trailing zeros go ("1.50" has 1); exact, unlike normalize()'s 28 digits."""
    _, digits, exponent = number.as_tuple()
    digits = list(digits)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    return max(0, -exponent)


def _check(key: str, value, rule: Rule):
    """The parsed value of one key, or ValueError carrying its one message."""
    if rule.kind == "choice":
        if value not in rule.choices:
            raise ValueError(ONE_OF.format(choices=", ".join(rule.choices)))
        return value
    if rule.kind == "mint":
        if not isinstance(value, str):
            raise ValueError(NOT_A_STRING)
        if not MINT.match(value.strip()):
            raise ValueError(NOT_A_MINT)
        return value.strip()
    number = _decimal(value)
    if rule.kind == "int":
        if number != number.to_integral_value():
            raise ValueError(NOT_AN_INTEGER)
    elif _decimal_places(number) > MAX_DECIMAL_PLACES:
        raise ValueError(TOO_PRECISE)
    if rule.low is not None:
        if rule.low_open and number <= rule.low:
            raise ValueError(ABOVE.format(limit=_bound(rule.low)))
        if not rule.low_open and number < rule.low:
            raise ValueError(AT_LEAST.format(limit=_bound(rule.low)))
    if rule.high is not None:
        if rule.high_open and number >= rule.high:
            raise ValueError(BELOW.format(limit=_bound(rule.high)))
        if not rule.high_open and number > rule.high:
            raise ValueError(AT_MOST.format(limit=_bound(rule.high)))
    return int(number) if rule.kind == "int" else number


def _cross_checks(bot_type: str, given: dict, values: dict, errors: dict) -> None:
    """Rules between keys; `given` holds the valid parsed keys the operator wrote, `values` those plus defaults."""

    def not_above(low: str, high: str) -> None:
        if low in values and high in values and values[low] is not None and values[high] is not None \
                and low not in errors and high not in errors and values[low] > values[high]:
            errors.setdefault(low, NOT_ABOVE.format(other=high, value=_bound(Decimal(values[high]))))

    def exclusive(key: str, other: str) -> None:
        if key in given and other in given:
            errors.setdefault(key, EXCLUSIVE.format(key=key, other=other))

    if bot_type in (VOLUME, DEX):
        not_above("min_trade_usd", "max_trade_usd")
        not_above("max_trade_usd", "daily_volume_usd")
        not_above("interval_min_seconds", "interval_max_seconds")
        not_above("min_trade_usd", "daily_budget_usd")
    if bot_type == SPREAD:
        if "spread_percent" in given and "spread_bps" in given and given["spread_percent"] * 100 != given["spread_bps"]:
            errors.setdefault("spread_percent", EXCLUSIVE.format(key="spread_percent", other="spread_bps"))
        for legacy in ("bid_spread", "ask_spread"):
            for modern in ("spread_bps", "spread_percent"):
                exclusive(legacy, modern)
        for size in ("order_size_min_usd", "order_amount"):
            exclusive("order_size_usd", size)
        exclusive("order_amount", "order_size_min_usd")
        for key, other in (("order_size_min_usd", "order_size_max_usd"), ("order_size_max_usd", "order_size_min_usd")):
            if key in given and other not in given and other not in errors:
                errors.setdefault(key, TOGETHER.format(key=key, other=other))
        not_above("order_size_min_usd", "order_size_max_usd")
        not_above("price_floor", "price_ceiling")
        if values.get("price_source") == "reference" and values.get("reference_account") is None:
            errors.setdefault("reference_account", REQUIRED_WITH.format(other="price_source", value="reference"))
        if values.get("levels", 1) > 1 and values.get("level_spacing_bps") == 0 and "level_spacing_bps" not in errors:
            errors.setdefault("level_spacing_bps", SPACING_NEEDED)
    if bot_type == DEX:
        if values.get("mode") in ("buy", "sell") and values.get("twap_amount") is None:
            errors.setdefault("twap_amount", REQUIRED_WITH.format(other="mode", value=values["mode"]))
        if "base_mint" in given and given.get("base_mint") == given.get("quote_mint"):
            errors.setdefault("quote_mint", "Must differ from base_mint.")


def _market_checks(bot_type: str, symbol: str, markets: Mapping, values: dict, errors: dict) -> None:
    market = markets.get(symbol)
    if market is None:
        errors["symbol"] = SYMBOL_NOT_LISTED.format(symbol=symbol)
        return
    if not getattr(market, "active", True):
        errors["symbol"] = SYMBOL_INACTIVE.format(symbol=symbol)
        return
    min_notional, min_amount = Decimal(market.min_notional or 0), Decimal(market.min_amount or 0)
    if min_notional > 0 and str(market.quote).upper() in USD_QUOTES:
        for key in ("min_trade_usd", "order_size_usd", "order_size_min_usd"):
            if values.get(key) is not None and key not in errors and values[key] < min_notional:
                errors[key] = BELOW_MIN_NOTIONAL.format(minimum=_bound(min_notional), quote=market.quote)
    if min_amount > 0:
        slice_amount = values["twap_amount"] / values["twap_slices"] if values.get("twap_amount") else None
        for key, amount in (("order_amount", values.get("order_amount")), ("twap_amount", slice_amount)):
            if amount is not None and key not in errors and amount < min_amount:
                errors[key] = BELOW_MIN_AMOUNT.format(minimum=_bound(min_amount), base=market.base)


def _values(bot_type: str, config, symbol: str | None = None, markets: Mapping | None = None):
    if bot_type not in RULES:
        raise ConfigErrors({"bot_type": ONE_OF.format(choices=", ".join(RULES))})
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigErrors({"config": NOT_AN_OBJECT})
    rules, aliases = RULES[bot_type], ALIASES.get(bot_type, {})
    errors: dict[str, str] = {}
    given: dict = {}
    for key, value in config.items():
        name = aliases.get(key, key)
        if name not in rules:
            errors[str(key)] = UNKNOWN_KEY.format(bot_type=bot_type)
        elif name in given or (name != key and name in config):
            errors[str(key)] = EXCLUSIVE.format(key=key, other=name)
        elif value is None:
            continue  # a cleared field of an edit form: its default applies
        else:
            try:
                given[name] = _check(name, value, rules[name])
            except ValueError as error:
                errors[str(key)] = str(error)
    values = {f.name: f.default for f in fields(CONFIG_TYPES[bot_type])}
    values.update(given)
    if bot_type == SPREAD:
        if "spread_percent" in given:
            values["spread_bps"] = given["spread_percent"] * 100
        if any(key in given for key in ("order_size_min_usd", "order_amount")):
            values["order_size_usd"] = None
    _cross_checks(bot_type, given, values, errors)
    if markets is not None and symbol:
        _market_checks(bot_type, symbol, markets, values, errors)
    values.pop("spread_percent", None)
    return values, errors


def config_errors(bot_type: str, config, *, symbol: str | None = None, markets: Mapping | None = None) -> dict[str, str]:
    """Config key → message for every rule `config` breaks (empty when valid).

    With `markets` (symbol → exchanges Market, a snapshot the caller loaded outside any
    transaction) it also checks that `symbol` is listed and trading, reported under ``symbol``,
    and that order sizes reach the market's minimums.
    """
    try:
        _, errors = _values(bot_type, config, symbol, markets)
    except ConfigErrors as error:
        return error.errors
    return errors


def parse_config(bot_type: str, config, *, symbol: str | None = None, markets: Mapping | None = None):
    """`config` as the bot type's frozen dataclass, defaults filled; ConfigErrors if any rule is broken."""
    values, errors = _values(bot_type, config, symbol, markets)
    if errors:
        raise ConfigErrors(errors)
    return CONFIG_TYPES[bot_type](**values)
