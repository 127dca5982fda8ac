"""Exchange numbers and order rounding are exact for every 18-decimal value below 10^30.

Python's default decimal context keeps 28 digits; these values need up to 48.
"""

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_UP, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.connectors.base import Market, OrderRequest
from exchanges.markets import on_step, quantize_order
from exchanges.connectors.ccxt.wire import dec, plain
from exchanges.errors import ExchangeUnavailable, InvalidOrder

D = Decimal
LIMIT = 10**30
# Any value below 10^30 with up to 18 decimals, as the exchange's own text.
eighteen_decimals = st.integers(min_value=0, max_value=LIMIT * 10**18 - 1).map(
    lambda n: D(f"{n // 10**18}.{n % 10**18:018d}")
)
steps = st.integers(min_value=1, max_value=999).flatmap(
    lambda coefficient: st.integers(min_value=-18, max_value=2).map(lambda exponent: D(coefficient).scaleb(exponent))
)


def test_dec_keeps_all_thirty_digits_of_a_balance():
    assert dec("123456789012.123456789012345678") == D("123456789012.123456789012345678")
    assert str(dec("123456789012.123456789012345678")) == "123456789012.123456789012345678"


def test_dec_reads_a_twenty_nine_digit_whole_number_in_plain_form():
    assert str(dec("10000000000000000000000000000")) == "10000000000000000000000000000"
    assert str(dec("12345678901234567890123456789.000")) == "12345678901234567890123456789"


@pytest.mark.parametrize("text", ["1" + "0" * 30, "-1E+30", "1E+400", "0." + "1" * 120])
def test_dec_refuses_numbers_beyond_the_exact_range_as_a_domain_error(text):
    with pytest.raises(ExchangeUnavailable):
        dec(text)


def test_plain_refuses_to_round_rather_than_lose_digits():
    with pytest.raises(ArithmeticError):
        plain(D("0." + "1" * 120))


@given(eighteen_decimals)
def test_dec_is_exact_below_ten_to_the_thirty(value):
    text = format(value, "f")
    assert dec(text) == value
    assert dec(text).as_tuple().exponent <= 0


def test_on_step_never_rounds_an_amount_up_past_what_was_asked():
    value = D("12345678901.999999999999999999")

    assert on_step(value, D("1e-18"), ROUND_FLOOR) == value
    assert on_step(D("12345678901.9999999999999999999"), D("1e-18"), ROUND_FLOOR) == value
    assert on_step(D("12345678901.9999999999999999999"), D("1e-18"), ROUND_CEILING) == D("12345678902")


@pytest.mark.parametrize(
    ("value", "step", "rounding", "expected"),
    [
        ("10", "3", ROUND_FLOOR, "9"),
        ("10", "3", ROUND_CEILING, "12"),
        ("-10", "3", ROUND_FLOOR, "-12"),
        ("-10", "3", ROUND_DOWN, "-9"),
        ("-10", "3", ROUND_UP, "-12"),
        ("4.5", "3", ROUND_HALF_EVEN, "6"),  # 1.5 steps -> 2
        ("7.5", "3", ROUND_HALF_EVEN, "6"),  # 2.5 steps -> 2
        ("999999999999999999999999999.999999999999999999", "0.3", ROUND_FLOOR, "999999999999999999999999999.9"),
    ],
)
def test_on_step_rounds_by_any_step_in_every_mode(value, step, rounding, expected):
    assert on_step(D(value), D(step), rounding) == D(expected)


@given(eighteen_decimals, steps)
def test_on_step_floor_is_the_largest_multiple_of_the_step_not_above_the_value(value, step):
    rounded = on_step(value, step, ROUND_FLOOR)

    with localcontext() as exact:
        exact.prec = 200
        assert rounded <= value < rounded + step
        assert (rounded / step) == (rounded / step).to_integral_value()


def test_on_step_refuses_values_beyond_the_exact_range_as_invalid_order():
    with pytest.raises(InvalidOrder) as caught:
        on_step(D("1e30"), D("1"), ROUND_FLOOR)

    assert caught.value.code == "out_of_range"


def test_minimum_notional_is_checked_on_the_exact_product():
    market = Market(
        symbol="PEPE/USDT", base="PEPE", quote="USDT", exchange_symbol="PEPEUSDT",
        price_step=D("1e-18"), amount_step=D("1e-18"), min_notional=D("1"),
    )
    # amount * price = 0.99999999999999999999999999999 (29 nines), which 28 digits round up to 1.
    request = OrderRequest("PEPE/USDT", "buy", "limit", D("99999999999.999999999999999999"), "c1", D("1e-11"))

    with pytest.raises(InvalidOrder) as caught:
        quantize_order(market, request)

    assert caught.value.code == "below_min_notional"


def test_balance_total_and_ticker_mid_keep_every_digit():
    from datetime import datetime, timezone

    from exchanges.connectors.base import AssetBalance, Ticker

    big = Decimal("123456789012.123456789012345678")
    assert AssetBalance("SHARP", big, Decimal("1e-18")).total == Decimal("123456789012.123456789012345679")
    ticker = Ticker("SHARP/USDT", big, Decimal("123456789012.123456789012345680"), None, datetime.now(timezone.utc))
    assert ticker.mid == Decimal("123456789012.123456789012345679")
