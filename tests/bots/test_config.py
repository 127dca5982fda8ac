"""Bot config per type: exact numbers, defaults, unknown keys refused, ranges, one message per key."""
from decimal import Decimal
from decimal import Decimal as D

import pytest

from bots import config as schema
from bots.config import (
    DEX, RULES, SPREAD, VOLUME, ConfigErrors, DexConfig, SpreadConfig, VolumeConfig, config_errors, parse_config,
)
from exchanges.connectors.base import Market

MINT_A = "So11111111111111111111111111111111111111112"
MINT_B = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def numeric_rules():
    for bot_type, rules in RULES.items():
        for key, rule in rules.items():
            if rule.kind in ("decimal", "int"):
                yield bot_type, key, rule


def bad_values(rule):
    values = [-1, "-1", "NaN", float("nan"), float("inf"), "-Infinity", "1e30", 10**30, True, [1], {"a": 1}, "abc",
              "", "1,5", "0x10", "1_000"]
    if rule.low_open or (rule.low is not None and rule.low > 0):
        values.append(0)
    if rule.kind == "int":
        values += [1.5, "2.5"]
    else:
        values.append("0." + "0" * 18 + "1")  # 19 decimal places
    return values


NUMERIC = list(numeric_rules())


@pytest.mark.parametrize("bot_type, key, rule", NUMERIC, ids=[f"{t}.{k}" for t, k, _ in NUMERIC])
def test_every_numeric_key_refuses_bad_values_with_one_message_on_that_key(bot_type, key, rule):
    for value in bad_values(rule):
        errors = config_errors(bot_type, {key: value})
        assert list(errors) == [key], (value, errors)
        assert isinstance(errors[key], str) and errors[key], value
        with pytest.raises(ConfigErrors) as caught:
            parse_config(bot_type, {key: value})
        assert caught.value.errors == errors


@pytest.mark.parametrize("bot_type, key, value, message", [
    (VOLUME, "min_trade_usd", -5, "Must be more than 0."),
    (VOLUME, "min_trade_usd", 0, "Must be more than 0."),
    (VOLUME, "daily_volume_usd", "1e30", "Must be at most 1000000000."),
    (VOLUME, "daily_volume_usd", float("nan"), schema.NOT_FINITE),
    (VOLUME, "daily_volume_usd", "NaN", schema.NOT_FINITE),
    (VOLUME, "daily_volume_usd", [5000], schema.NOT_A_NUMBER),
    (VOLUME, "interval_min_seconds", 1.5, schema.NOT_AN_INTEGER),
    (VOLUME, "max_position_imbalance", "1.5", "Must be at most 1."),
    (VOLUME, "circuit_breaker_pct", 100, "Must be less than 100."),
    (VOLUME, "buy_ratio", True, schema.NOT_A_NUMBER),
    (SPREAD, "spread_bps", 0, "Must be more than 0."),
    (SPREAD, "price_source", "vwap", "Must be one of: mid, last, reference."),
    (SPREAD, "volatility_widen_factor", "0.5", "Must be at least 1."),
    (SPREAD, "order_amount", "0.0000000000000000001", schema.TOO_PRECISE),
    (DEX, "base_mint", "not-a-mint", schema.NOT_A_MINT),
    (DEX, "base_mint", 12, schema.NOT_A_STRING),
    (DEX, "mode", "twap", "Must be one of: volume, buy, sell."),
])
def test_bad_values_say_why(bot_type, key, value, message):
    assert config_errors(bot_type, {key: value}) == {key: message}


@pytest.mark.parametrize("bot_type", [VOLUME, SPREAD, DEX])
def test_unknown_keys_are_refused_one_message_each(bot_type):
    errors = config_errors(bot_type, {"size": 5, "colour": "red"})
    assert errors == {"size": schema.UNKNOWN_KEY.format(bot_type=bot_type),
                      "colour": schema.UNKNOWN_KEY.format(bot_type=bot_type)}


@pytest.mark.parametrize("config", [[1, 2], "x", 5])
def test_config_must_be_an_object(config):
    assert config_errors(VOLUME, config) == {"config": schema.NOT_AN_OBJECT}


@pytest.mark.parametrize("bot_type, low, high, low_value, high_value", [
    (VOLUME, "min_trade_usd", "max_trade_usd", "50", "20"),
    (VOLUME, "max_trade_usd", "daily_volume_usd", "500", "100"),
    (VOLUME, "interval_min_seconds", "interval_max_seconds", 600, 60),
    (VOLUME, "min_trade_usd", "daily_budget_usd", "20", "10"),
    (DEX, "min_trade_usd", "max_trade_usd", "50", "20"),
    (DEX, "interval_min_seconds", "interval_max_seconds", 600, 60),
    (SPREAD, "order_size_min_usd", "order_size_max_usd", "50", "20"),
    (SPREAD, "price_floor", "price_ceiling", "2", "1"),
])
def test_min_above_max_is_refused_on_the_min(bot_type, low, high, low_value, high_value):
    errors = config_errors(bot_type, {low: low_value, high: high_value})
    assert list(errors) == [low]
    assert errors[low].startswith(f"Must not be more than {high}")
    assert config_errors(bot_type, {low: high_value, high: high_value}) == {}


def test_a_min_above_the_default_max_is_refused_too():
    assert list(config_errors(VOLUME, {"min_trade_usd": "30"})) == ["min_trade_usd"]  # default max is 25


def test_defaults_are_filled():
    assert parse_config(VOLUME, {}) == VolumeConfig()
    assert parse_config(SPREAD, {}) == SpreadConfig()
    assert parse_config(DEX, None) == DexConfig()
    volume = parse_config(VOLUME, {"daily_volume_usd": 100, "max_trade_usd": 20})
    assert (volume.daily_volume_usd, volume.min_trade_usd, volume.max_trade_usd, volume.max_consecutive_same_side) == (
        Decimal(100), Decimal(10), Decimal(20), 3)
    spread = parse_config(SPREAD, {})
    assert spread.bid_distance == spread.ask_distance == Decimal("0.015")
    assert spread.tolerance == Decimal("0.015")


def test_numbers_are_parsed_exactly_never_through_a_binary_float():
    config = parse_config(VOLUME, {"daily_volume_usd": 0.3, "min_trade_usd": "0.1", "max_trade_usd": 0.2,
                                   "max_position_imbalance": 1e-7, "circuit_breaker_pct": " 12.5 "})
    assert config.daily_volume_usd == Decimal("0.3") and str(config.daily_volume_usd) == "0.3"
    assert config.min_trade_usd == Decimal("0.1") and config.max_trade_usd == Decimal("0.2")
    assert config.max_position_imbalance == Decimal("1E-7")
    assert config.circuit_breaker_pct == Decimal("12.5")
    for value in vars(config).values():
        assert not isinstance(value, float)
    assert parse_config(VOLUME, {"interval_min_seconds": "30", "interval_max_seconds": 60.0}).interval_max_seconds == 60


def test_a_cleared_field_takes_its_default():
    assert parse_config(VOLUME, {"daily_budget_usd": None, "min_trade_usd": None}) == VolumeConfig()


# --- the earlier system's configs work unchanged -----------------------------------------------------

def test_earlier_volume_bot_configs_are_accepted():
    config = parse_config(VOLUME, {"daily_volume_usd": 10000, "min_trade_usd": 20, "max_trade_usd": 50,
                                   "interval_min_seconds": 600, "interval_max_seconds": 1800,
                                   "max_position_imbalance": 0.2, "circuit_breaker_pct": 30.0,
                                   "max_consecutive_same_side": 3})
    assert (config.daily_volume_usd, config.max_position_imbalance) == (Decimal(10000), Decimal("0.2"))


def test_earlier_spread_bot_configs_are_accepted_with_percent_or_bps():
    percent = parse_config(SPREAD, {"spread_percent": 1.0, "order_size_usd": 20, "poll_interval_seconds": 5,
                                    "drift_threshold_pct": 0.0025, "volatility_widen_factor": 2.0,
                                    "circuit_breaker_pct": 30, "price_decimals": 6, "amount_decimals": 2})
    assert (percent.spread_bps, percent.order_size_usd, percent.tolerance) == (Decimal(100), Decimal(20),
                                                                               Decimal("0.0025"))
    assert parse_config(SPREAD, {"spread_bps": 50}).spread_bps == Decimal(50)
    assert parse_config(SPREAD, {"spread_bps": 100, "spread_percent": "1"}).spread_bps == Decimal(100)
    assert list(config_errors(SPREAD, {"spread_bps": 50, "spread_percent": 1})) == ["spread_percent"]


def test_earlier_spread_bot_aliases_are_accepted_but_not_twice():
    config = parse_config(SPREAD, {"order_size_usdt": 15, "refresh_interval": 12})
    assert (config.order_size_usd, config.poll_interval_seconds) == (Decimal(15), 12)
    assert list(config_errors(SPREAD, {"order_size_usdt": 15, "order_size_usd": 15})) == ["order_size_usdt"]


@pytest.mark.parametrize("legacy", [{"bid_spread": 0.003, "ask_spread": 0.003, "order_amount": 1000},
                                    {"bid_spread": 0.3, "ask_spread": 0.3, "order_amount": 1600}])
def test_legacy_pair_bot_configs_are_accepted(legacy):
    config = parse_config(SPREAD, legacy)
    assert config.bid_distance == Decimal(str(legacy["bid_spread"]))
    assert config.order_amount == Decimal(legacy["order_amount"]) and config.order_size_usd is None


def test_earlier_solana_volume_configs_are_accepted_by_the_dex_type():
    config = parse_config(DEX, {"daily_volume_usd": 5000, "min_trade_usd": 10, "max_trade_usd": 25,
                                "interval_min_seconds": 900, "interval_max_seconds": 2700, "slippage_bps": 50,
                                "base_mint": MINT_B, "quote_mint": MINT_A, "price_decimals": 6,
                                "amount_decimals": 2})
    assert (config.slippage_bps, config.base_mint, config.quote_mint) == (Decimal(50), MINT_B, MINT_A)


# --- rules between keys ----------------------------------------------------------------------------

@pytest.mark.parametrize("config, key", [
    ({"bid_spread": 0.01, "spread_bps": 40}, "bid_spread"),
    ({"order_size_usd": 10, "order_amount": 5}, "order_size_usd"),
    ({"order_size_min_usd": 10}, "order_size_min_usd"),
    ({"price_source": "reference"}, "reference_account"),
    ({"levels": 3, "level_spacing_bps": 0}, "level_spacing_bps"),
])
def test_spread_keys_that_contradict_each_other_are_refused(config, key):
    assert list(config_errors(SPREAD, config)) == [key]


def test_random_size_range_replaces_the_fixed_size():
    config = parse_config(SPREAD, {"order_size_min_usd": 5, "order_size_max_usd": 9, "levels": 3})
    assert (config.order_size_usd, config.order_size_min_usd, config.order_size_max_usd) == (None, 5, 9)


def test_dex_twap_needs_an_amount_and_distinct_mints():
    assert config_errors(DEX, {"mode": "sell"}) == {"twap_amount": "Required when mode is sell."}
    assert parse_config(DEX, {"mode": "sell", "twap_amount": "1000", "twap_slices": 8}).twap_slice == Decimal(125)
    assert list(config_errors(DEX, {"base_mint": MINT_A, "quote_mint": MINT_A})) == ["quote_mint"]


# --- market checks, only with a snapshot the caller passes ------------------------------------------

MARKETS = {
    "SHARP/USDT": Market("SHARP/USDT", "SHARP", "USDT", "SHARPUSDT", Decimal("0.000001"), Decimal("1"),
                         min_amount=Decimal(100), min_notional=Decimal(5)),
    "OLD/USDT": Market("OLD/USDT", "OLD", "USDT", "OLDUSDT", Decimal("0.01"), Decimal("1"), active=False),
}


def test_market_checks_need_the_markets_snapshot():
    assert config_errors(VOLUME, {"min_trade_usd": 1}, symbol="NOPE/USDT") == {}
    assert config_errors(VOLUME, {}, symbol="NOPE/USDT", markets=MARKETS) == {
        "symbol": "NOPE/USDT is not listed on this account's exchange."}
    assert list(config_errors(VOLUME, {}, symbol="OLD/USDT", markets=MARKETS)) == ["symbol"]


def test_amounts_below_the_market_minimum_are_refused():
    errors = config_errors(VOLUME, {"min_trade_usd": 1}, symbol="SHARP/USDT", markets=MARKETS)
    assert errors == {"min_trade_usd": "Below the market's minimum order value of 5 USDT."}
    assert config_errors(VOLUME, {"min_trade_usd": 5}, symbol="SHARP/USDT", markets=MARKETS) == {}
    assert list(config_errors(SPREAD, {"order_amount": 50}, symbol="SHARP/USDT", markets=MARKETS)) == ["order_amount"]
    assert list(config_errors(SPREAD, {"order_size_usd": 2}, symbol="SHARP/USDT", markets=MARKETS)) == [
        "order_size_usd"]
    assert list(config_errors(DEX, {"mode": "buy", "twap_amount": 500, "twap_slices": 10}, symbol="SHARP/USDT",
                              markets=MARKETS)) == ["twap_amount"]


# --- trying to break it: any JSON a client could send ------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([VOLUME, SPREAD, DEX]),
       st.dictionaries(st.sampled_from(sorted({k for rules in RULES.values() for k in rules} | {"junk"})),
                       json_values, max_size=6))
def test_any_json_gives_messages_or_a_config_never_an_exception(bot_type, config):
    errors = config_errors(bot_type, config)
    assert all(isinstance(message, str) and message for message in errors.values())
    if not errors:
        parsed = parse_config(bot_type, config)
        for value in vars(parsed).values():
            assert not isinstance(value, float)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=D("0.000000000000000001"), max_value=D(1000000000), allow_nan=False, places=18))
def test_any_in_range_amount_round_trips_exactly_as_text(amount):
    assert parse_config(VOLUME, {"daily_volume_usd": str(amount), "min_trade_usd": "0.000000000000000001",
                                 "max_trade_usd": "0.000000000000000001"}).daily_volume_usd == amount
