"""The paper price walk and book are pure functions of the seed: every process agrees."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal, localcontext

from hypothesis import given, settings, strategies as st

from exchanges.connectors.paper.walk import WalkSpec, is_multiple, price_at, synth_book, walk

ORIGIN = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPEC = WalkSpec(seed=7, initial_price=Decimal("0.0125"), volatility_bps=Decimal("8"), origin_at=ORIGIN, step_ms=2000)


@settings(max_examples=40, deadline=None)
@given(checkpoint=st.integers(0, 400), target=st.integers(0, 400))
def test_price_from_any_checkpoint_equals_the_replay_from_the_origin(checkpoint, target):
    from_origin = price_at(SPEC, target)

    assert price_at(SPEC, target, (checkpoint, price_at(SPEC, checkpoint))) == from_origin


def test_caller_decimal_context_does_not_change_prices():
    expected = walk(SPEC, 0, SPEC.initial_price, 50)

    with localcontext(prec=6):
        assert walk(SPEC, 0, SPEC.initial_price, 50) == expected


def test_steps_follow_wall_time():
    assert SPEC.step_at(ORIGIN - timedelta(seconds=5)) == 0
    assert SPEC.step_at(ORIGIN + timedelta(milliseconds=3999)) == 1
    assert SPEC.step_at(ORIGIN + timedelta(days=1)) == 43_200
    assert SPEC.time_of(3) == ORIGIN + timedelta(seconds=6)


def test_price_stays_near_its_start_over_a_day():
    prices = walk(SPEC, 0, SPEC.initial_price, 43_200)

    assert len(set(prices)) > 40_000  # it moves
    assert Decimal("0.008") < min(prices) and max(prices) < Decimal("0.02")  # but is pulled back


@settings(max_examples=40, deadline=None)
@given(step=st.integers(0, 10_000), mid=st.decimals(Decimal("0.001"), Decimal("100000"), places=6))
def test_book_is_ordered_on_the_grid_and_never_crossed(step, mid):
    price_step, amount_step = Decimal("0.001"), Decimal("0.01")
    bids, asks = synth_book(
        seed=3, step=step, mid=mid, spread_bps=Decimal("10"), depth_quote=Decimal("500"),
        price_step=price_step, amount_step=amount_step, levels=10,
    )

    assert asks and all(a[0] > mid for a in asks)
    assert all(b[0] < mid for b in bids)
    assert [p for p, _ in bids] == sorted({p for p, _ in bids}, reverse=True)
    assert [p for p, _ in asks] == sorted({p for p, _ in asks})
    for price, amount in bids + asks:
        assert is_multiple(price, price_step) and is_multiple(amount, amount_step) and amount > 0
