"""Spread strategy with plain values: ladders, tolerance, inventory skew, floor/ceiling, no crossing."""
from datetime import timedelta

from bots.strategies import spread
from tests.bots.strategies.helpers import BUY, D, NOW, OTHER_BOT, SELL, config, market, order, rng, state


def decide(snapshot, bot_state=None, **values):
    return spread.decide(snapshot, bot_state or state(), config("spread", **values), rng(), NOW)


def prices(decision, side):
    return [intent.price for intent in decision.place if intent.side == side]


def test_a_fresh_ladder_around_the_mid():
    decision = decide(market(spread="0.02"), spread_bps=100, levels=3, level_spacing_bps=20, order_size_usd=50)
    assert prices(decision, BUY) == [D("99.5"), D("99.3"), D("99.1")]
    assert prices(decision, SELL) == [D("100.5"), D("100.7"), D("100.9")]
    for intent in decision.place:
        assert intent.amount * intent.price == D(50) and intent.kind == "limit"
    assert decision.cancel == ()


def test_legacy_pair_config_prices_each_side_and_sizes_in_base():
    decision = decide(market(spread="0.02"), bid_spread="0.003", ask_spread="0.005", order_amount=1000)
    assert prices(decision, BUY) == [D("99.7")] and prices(decision, SELL) == [D("100.5")]
    assert {intent.amount for intent in decision.place} == {D(1000)}


def test_orders_within_tolerance_are_kept_and_the_others_replaced():
    own = [order("b", BUY, "99.49"), order("a", SELL, "101.5")]
    decision = decide(market(spread="0.02", orders=own), spread_bps=100, drift_threshold_pct="0.001")
    assert decision.cancel == ("a",)
    assert prices(decision, SELL) == [D("100.5")] and prices(decision, BUY) == []


def test_nothing_to_do_says_why():
    own = [order("b", BUY, "99.5"), order("a", SELL, "100.5")]
    decision = decide(market(spread="0.02", orders=own), spread_bps=100)
    assert decision.is_idle and decision.skipped == "Trade skipped: 2 order(s) within tolerance"


def test_orders_older_than_the_max_age_are_replaced():
    old = NOW - timedelta(seconds=600)
    own = [order("b", BUY, "99.5", placed_at=old), order("a", SELL, "100.5", placed_at=NOW)]
    decision = decide(market(spread="0.02", orders=own), spread_bps=100, max_order_age_seconds=300)
    assert decision.cancel == ("b",) and prices(decision, BUY) == [D("99.5")]


def test_never_bids_at_or_above_another_bots_ask_on_the_account():
    others = [order("o", SELL, "99.45", bot_id=OTHER_BOT)]
    decision = decide(market(spread="0.02", orders=others), spread_bps=100, levels=3, level_spacing_bps=10)
    assert prices(decision, BUY) == [D("99.4"), D("99.3")]
    assert decision.place and "would cross" not in decision.skipped


def test_an_own_order_that_crosses_another_bot_is_cancelled():
    orders = [order("mine", BUY, "99.5"), order("o", SELL, "99.5", bot_id=OTHER_BOT)]
    decision = decide(market(spread="0.02", orders=orders), spread_bps=100)
    assert "mine" in decision.cancel and prices(decision, BUY) == []


def test_floor_and_ceiling():
    floor = decide(market(spread="0.02"), spread_bps=100, levels=3, level_spacing_bps=20, price_floor="100.6")
    assert prices(floor, SELL) == [D("100.7"), D("100.9")] and len(prices(floor, BUY)) == 3
    ceiling = decide(market(spread="0.02"), spread_bps=100, levels=3, level_spacing_bps=20, price_ceiling="99.4")
    assert prices(ceiling, BUY) == [D("99.3"), D("99.1")] and len(prices(ceiling, SELL)) == 3
    band = decide(market(spread="0.02"), spread_bps=100, price_floor="150", price_ceiling="150")
    assert prices(band, SELL) == [] and prices(band, BUY) == [D("99.5")]


def test_holding_too_much_base_shifts_both_sides_down():
    long = market(spread="0.02", base_total=D(90), quote_total=D(1000))  # 90% of value in base
    decision = decide(long, spread_bps=100, inventory_target_pct=50, inventory_skew_bps=50)
    assert prices(decision, BUY)[0] < D("99.5") and prices(decision, SELL)[0] < D("100.5")
    flat = market(spread="0.02", base_total=D(10), quote_total=D(1000))
    assert prices(decide(flat, spread_bps=100, inventory_skew_bps=50), SELL)[0] == D("100.5")


def test_reference_and_last_price_sources():
    snapshot = market(spread="0.02", reference_mid=D(200), last=D(50))
    assert prices(decide(snapshot, spread_bps=100, price_source="reference", reference_account=3), SELL) == [D(201)]
    assert prices(decide(snapshot, spread_bps=100, price_source="last"), BUY) == [D("49.75")]
    assert decide(market(reference_mid=None), price_source="reference", reference_account=3).skipped == (
        "Trade skipped: no reference price")


def test_the_circuit_breaker_cancels_everything():
    own = [order("b", BUY, "59"), order("a", SELL, "61")]
    decision = decide(market(mid="60", orders=own), state(session_start_price=D(100)))
    assert decision.cancel == ("b", "a") and decision.place == () and "circuit breaker" in decision.skipped


def test_volatility_widens_up_to_the_factor():
    choppy = tuple(D(100) if i % 2 else D(102) for i in range(12))
    decision = decide(market(spread="0.02"), state(recent_mids=choppy), spread_bps=100, volatility_widen_factor=2)
    assert prices(decision, BUY) == [D(99)] and prices(decision, SELL) == [D(101)]


def test_random_sizes_stay_in_the_range():
    decision = decide(market(spread="0.02"), levels=5, order_size_min_usd=10, order_size_max_usd=20)
    values = {intent.amount * intent.price for intent in decision.place}
    assert len(values) > 1 and all(D(10) <= v <= D(20) for v in values)


def test_an_order_on_its_level_keeps_it_even_when_a_neighbour_is_within_tolerance():
    """Tolerance wider than the level spacing: the order at 99.4 is level 2's, not level 1's; level 1
    is placed, and level 2 is not placed a second time (which would repeat on every tick)."""
    own = [order("b2", BUY, "99.4")]
    decision = decide(market(spread="0.02", orders=own), spread_bps=100, levels=2, level_spacing_bps=10,
                      drift_threshold_pct="0.01")
    assert decision.cancel == () and prices(decision, BUY) == [D("99.5")]
