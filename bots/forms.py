"""A bot's config as form fields of its type (bots/config.py's rules), not a JSON textarea.

Each setting gets its unit, its range and its default in the help text; an empty field means the
default. Values go to the schema as typed (text), so decimals stay exact and the schema's own
messages come back on the field they are about.
"""
from dataclasses import fields as dataclass_fields

from django import forms

from bots.config import ALIASES, CONFIG_TYPES, RULES, Rule, _bound

PREFIX = "config__"
# Units by the earlier system's naming; the fractions and percents are as bots/config.py documents.
FRACTIONS = {"max_position_imbalance", "drift_threshold_pct", "bid_spread", "ask_spread", "buy_ratio"}
PERCENT = {"circuit_breaker_pct", "inventory_target_pct"}


def unit(key: str) -> str:
    if key in FRACTIONS:
        return "a fraction: 0.01 is 1 %"
    if key in PERCENT:
        return "percent"
    if key.endswith("_usd"):
        return "quote currency (USD for a USD-quoted pair)"
    if key.endswith("_bps"):
        return "basis points: 100 bps is 1 %"
    if key.endswith("_seconds"):
        return "seconds"
    if key.endswith("_decimals"):
        return "decimal places"
    if key.endswith("_mint"):
        return "Solana mint address"
    if key in ("price_floor", "price_ceiling", "max_buy_price", "min_sell_price"):
        return "price in quote currency"
    if key in ("order_amount", "twap_amount"):
        return "base currency"
    return ""


def _range(rule: Rule) -> str:
    if rule.kind == "choice" or rule.low is None:
        return ""
    low = f"{'>' if rule.low_open else '≥'} {_bound(rule.low)}"
    high = "" if rule.high is None else f", {'<' if rule.high_open else '≤'} {_bound(rule.high)}"
    return f"{low}{high}"


def config_fields(bot_type: str) -> dict[str, forms.Field]:
    """Form fields for each setting of ``bot_type``, named PREFIX + key."""
    if bot_type not in RULES:
        return {}
    defaults = {f.name: f.default for f in dataclass_fields(CONFIG_TYPES[bot_type])}
    result = {}
    for key, rule in RULES[bot_type].items():
        default = defaults.get(key)
        shown = "none" if default is None else str(default)
        help_text = "; ".join(part for part in (unit(key), _range(rule), f"empty: {shown}") if part)
        label = key.replace("_", " ").capitalize()
        if rule.kind == "choice":
            field = forms.ChoiceField(required=False, label=label, help_text=help_text,
                                      choices=[("", f"default ({shown})"), *((c, c) for c in rule.choices)])
        else:
            field = forms.CharField(required=False, label=label, max_length=80, help_text=help_text,
                                    widget=forms.TextInput(attrs={"placeholder": shown, "size": 30}))
        result[PREFIX + key] = field
    return result


def initial_config(bot_type: str, config: dict) -> dict:
    """The stored config as initial values of config_fields (an earlier spelling under its key)."""
    if not isinstance(config, dict):
        return {}
    aliases = ALIASES.get(bot_type, {})
    values = {}
    for key, value in config.items():
        key = aliases.get(key, key)
        if key in RULES.get(bot_type, {}) and value is not None:
            values[PREFIX + key] = str(value)
    return values


def config_from(bot_type: str, data: dict, stored: dict | None) -> dict:
    """The config to save: the fields given (as typed), keys the form does not show kept as stored."""
    rules = RULES.get(bot_type, {})
    aliases = ALIASES.get(bot_type, {})
    kept = {k: v for k, v in (stored or {}).items() if aliases.get(k, k) not in rules} if isinstance(stored, dict) else {}
    for key, rule in rules.items():
        value = data.get(PREFIX + key)
        if value in (None, ""):
            continue
        value = value.strip() if isinstance(value, str) else value
        if rule.kind == "int":
            try:
                value = int(value)
            except ValueError:
                pass  # the schema says why
        kept[key] = value
    return kept
