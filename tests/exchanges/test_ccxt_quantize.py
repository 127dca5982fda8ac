"""quantize_order: the shared, pure order rounding every connector uses before sending."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.connectors.base import Market, OrderRequest
from exchanges.markets import quantize_order
from exchanges.errors import InvalidOrder

SHARP = Market(
    symbol="SHARP/USDT",
    base="SHARP",
    quote="USDT",
    exchange_symbol="SHARP_USDT",
    price_step=Decimal("0.000001"),
    amount_step=Decimal("0.1"),
    min_amount=Decimal("1"),
    min_notional=Decimal("5"),
)


def order(amount, price=None, *, side="buy", kind="limit"):
    return OrderRequest(
        symbol="SHARP/USDT",
        side=side,
        kind=kind,
        amount=Decimal(amount),
        client_order_id="c1",
        price=None if price is None else Decimal(price),
    )


def test_amount_rounds_down_to_the_amount_step():
    assert quantize_order(SHARP, order("1000.19", "0.0123")).amount == Decimal("1000.1")


def test_buy_price_rounds_down_and_sell_price_rounds_up():
    assert quantize_order(SHARP, order("1000", "0.0123459")).price == Decimal("0.012345")
    assert quantize_order(SHARP, order("1000", "0.0123451", side="sell")).price == Decimal("0.012346")


def test_price_already_on_step_is_unchanged():
    assert quantize_order(SHARP, order("1000", "0.012345", side="sell")).price == Decimal("0.012345")


def test_amount_below_minimum_is_rejected():
    with pytest.raises(InvalidOrder) as caught:
        quantize_order(SHARP, order("0.99", "100"))
    assert caught.value.fields["reason"] == "below_min_amount"


def test_amount_rounding_to_zero_is_rejected():
    market = SHARP.__class__(**{**SHARP.__dict__, "min_amount": Decimal(0)})
    with pytest.raises(InvalidOrder) as caught:
        quantize_order(market, order("0.05", "100"))
    assert caught.value.fields["reason"] == "below_min_amount"


def test_notional_below_minimum_is_rejected():
    with pytest.raises(InvalidOrder) as caught:
        quantize_order(SHARP, order("400", "0.012345"))  # 4.938 USDT < 5
    assert caught.value.fields["reason"] == "below_min_notional"
    assert "USDT" in str(caught.value)


def test_notional_is_checked_after_rounding():
    # 405.19 * 0.01234 = 5.00004 would pass; the 405.1 actually sent is worth 4.99893.
    with pytest.raises(InvalidOrder):
        quantize_order(SHARP, order("405.19", "0.01234"))
    assert quantize_order(SHARP, order("405.3", "0.01234")).amount == Decimal("405.3")


def test_market_order_notional_uses_the_reference_price():
    with pytest.raises(InvalidOrder):
        quantize_order(SHARP, order("100", kind="market"), reference_price=Decimal("0.01"))
    sent = quantize_order(SHARP, order("1000.05", kind="market"), reference_price=Decimal("0.01"))
    assert (sent.amount, sent.price) == (Decimal("1000.0"), None)


def test_limit_order_without_price_is_rejected():
    with pytest.raises(InvalidOrder) as caught:
        quantize_order(SHARP, order("1000"))
    assert caught.value.fields["reason"] == "price_missing"


def test_inactive_market_is_rejected():
    closed = SHARP.__class__(**{**SHARP.__dict__, "active": False})
    with pytest.raises(InvalidOrder) as caught:
        quantize_order(closed, order("1000", "0.02"))
    assert caught.value.fields["reason"] == "market_inactive"


@given(
    amount=st.decimals(min_value=Decimal("1000"), max_value=Decimal("10000000"), places=8),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=9),
    side=st.sampled_from(["buy", "sell"]),
)
def test_quantized_order_is_on_steps_and_never_larger_or_more_aggressive(amount, price, side):
    sent = quantize_order(SHARP, order(amount, price, side=side))
    assert sent.amount % SHARP.amount_step == 0 and sent.price % SHARP.price_step == 0
    assert amount - SHARP.amount_step < sent.amount <= amount
    if side == "buy":
        assert price - SHARP.price_step < sent.price <= price
    else:
        assert price <= sent.price < price + SHARP.price_step
