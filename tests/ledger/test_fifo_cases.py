"""Hand-worked FIFO cases: each expected figure is worked out in the comment above it."""

from decimal import Decimal

import pytest

from ledger import fifo
from tests.ledger.engine import D, dec, lots, run, trade


def test_one_sell_consumes_several_lots_oldest_first_and_splits_the_last():
    state = run(
        trade("buy", 1, 100),
        trade("buy", 2, 110),
        trade("buy", 1, 120),
        # 3.5 sold for 455: lots 1 (100) and 2 (220) whole, half of lot 3 (60) → basis 380
        trade("sell", "3.5", 130),
    )
    assert dec(state.realized) == D("75")
    assert lots(state) == [(D("0.5"), D("60"))]
    assert dec(state.position) == D("0.5")
    # 0.5 marked at 140 is worth 70 against a basis of 60
    assert fifo.unrealized(state, D("140")) == D("10")


def test_partial_lot_keeps_the_rest_of_its_cost():
    state = run(trade("buy", 4, 10), trade("sell", 1, 12), trade("sell", 1, 9))
    # each sell takes a quarter of the 40 basis: +2 then -1
    assert dec(state.realized) == D("1")
    assert lots(state) == [(D("2"), D("20"))]


def test_quote_fee_adds_to_cost_and_reduces_proceeds():
    state = run(
        trade("buy", 1, 100, fee="0.1", fee_currency="USDT"),
        trade("sell", 1, 110, fee="0.11", fee_currency="usdt"),
    )
    # 110 − 0.11 − (100 + 0.1)
    assert dec(state.realized) == D("9.79")
    assert dec(state.fees) == D("0.21")
    assert state.lots == type(state.lots)()


def test_base_fee_on_a_buy_shrinks_the_lot_not_its_cost():
    state = run(trade("buy", 10, 1, fee="0.01", fee_currency="SHARP"))
    assert lots(state) == [(D("9.99"), D("10"))]
    assert dec(state.fees) == D("0.01")  # valued at the trade's price, for reporting
    state = fifo.apply(state, [trade("sell", "9.99", "1.1")])
    # 10.989 − 10
    assert dec(state.realized) == D("0.989")
    assert state.position == 0


def test_base_fee_on_a_sell_consumes_extra_base():
    state = run(trade("buy", 10, 1), trade("sell", 5, 2, fee="0.5", fee_currency="SHARP"))
    # 5.5 base leaves (basis 5.5) for 10 quote
    assert dec(state.realized) == D("4.5")
    assert dec(state.position) == D("4.5")


def test_third_token_fee_converted_at_trade_time_counts_in_pnl():
    state = run(
        trade("buy", 1, 100, fee="0.001", fee_currency="BNB", fee_quote="0.3"),
        trade("sell", 1, 101, fee="0.001", fee_currency="BNB", fee_quote="0.31"),
    )
    # 101 − 0.31 − (100 + 0.3)
    assert dec(state.realized) == D("0.39")
    assert dec(state.fees) == D("0.61")
    assert state.unconverted == {}


def test_third_token_fee_without_price_is_reported_apart_never_dropped():
    state = run(
        trade("buy", 1, 100, fee="0.001", fee_currency="bnb"),
        trade("sell", 1, 101, fee="0.002", fee_currency="BNB"),
    )
    assert dec(state.realized) == D("1")  # P&L without the unpriced fee
    assert {k: dec(v) for k, v in state.unconverted.items()} == {"BNB": D("0.003")}
    assert state.fees == 0


def test_negative_fee_is_a_rebate():
    state = run(
        trade("buy", 1, 100, fee="-0.05", fee_currency="USDT"),
        trade("sell", 1, 100, fee="-0.05", fee_currency="USDT"),
    )
    # bought for 99.95, sold for 100.05
    assert dec(state.realized) == D("0.1")
    assert dec(state.fees) == D("-0.1")


def test_negative_base_fee_grows_the_lot():
    state = run(trade("buy", 10, 1, fee="-0.01", fee_currency="SHARP"))
    assert lots(state) == [(D("10.01"), D("10"))]


def test_oversell_opens_a_short_lot_and_reports_the_unmatched_base():
    state = run(trade("buy", 1, 100), trade("sell", 3, 110))
    # 1 closes at +10; 2 more sold short for 220
    assert dec(state.realized) == D("10")
    assert lots(state) == [(D("-2"), D("-220"))]
    assert dec(state.oversold) == D("2")
    assert fifo.unrealized(state, D("100")) == D("20")
    state = fifo.apply(state, [trade("buy", 2, 100)])
    assert dec(state.realized) == D("30")
    assert state.position == 0 and not state.lots


def test_selling_with_no_position_at_all_is_a_short_not_a_crash():
    state = run(trade("sell", 1, 50), trade("sell", 1, 60))
    assert dec(state.oversold) == D("2")
    assert dec(state.position) == D("-2")
    assert dec(state.realized) == 0
    assert fifo.unrealized(state, D("40")) == D("30")


def test_buy_larger_than_a_short_closes_it_and_opens_a_long():
    state = run(trade("sell", 1, 50), trade("buy", 3, 40))
    assert dec(state.realized) == D("10")
    assert lots(state) == [(D("2"), D("80"))]


def test_many_tiny_trades_stay_exact():
    tiny = [trade("buy", "0.001", "0.1") for _ in range(1000)]
    state = run(*tiny, trade("sell", 1, "0.3"))
    assert dec(state.realized) == D("0.2")  # float sums would give 0.19999…
    assert state.trade_count == 1001
    dust = [trade("buy", "0.000000000000000001", "0.7") for _ in range(3000)]
    state = run(*dust)
    assert dec(state.position) == D("0.000000000000003")
    # each costs 0.7e-18, stored (like the database column) rounded half-even to 1e-18
    assert dec(state.basis) == D("0.000000000000003")
    state = fifo.apply(state, [trade("sell", "0.000000000000003", "0.7", cost="0.000000000000003")])
    assert state.realized == 0 and not state.lots


def test_splitting_rounds_half_even_and_conserves_every_unit():
    state = run(trade("buy", 3, 1, cost=1), trade("sell", 1, 1))
    # a third of 1 is 0.333333333333333333 (rounded), so this sell realizes 0.666666666666666667
    assert dec(state.realized) == D("0.666666666666666667")
    assert lots(state) == [(D("2"), D("0.666666666666666667"))]
    state = fifo.apply(state, [trade("sell", 2, 1)])
    assert dec(state.realized) == D("2")  # 3 received − 1 paid, not a unit more or less


def test_trade_with_no_base_moved_realizes_its_cash():
    state = run(trade("buy", 1, 10), trade("buy", 1, 5, fee=1, fee_currency="SHARP"))
    assert dec(state.realized) == D("-5")
    assert lots(state) == [(D("1"), D("10"))]


def test_to_units_rounds_beyond_18_decimals_half_even_and_round_trips():
    assert fifo.to_units(D("1.0000000000000000005")) == 10**18
    assert fifo.to_units(D("1.0000000000000000015")) == 10**18 + 2
    big = D("12345678901234567890.123456789012345678")
    assert fifo.from_units(fifo.to_units(big)) == big


def test_state_survives_json_round_trip():
    state = run(trade("buy", 2, 3, fee="0.1", fee_currency="BNB"), trade("sell", 1, 4))
    again = fifo.FifoState.from_json(fifo.FifoState.from_json(state.to_json()).to_json())
    assert again == state


@pytest.mark.parametrize("kind, currency", [("base", "SHARP"), ("quote", "USDT"), ("other", "BNB"), ("none", "")])
def test_fee_kind(kind, currency):
    assert fifo.fee_kind(Decimal("1") if currency else Decimal(0), currency, "SHARP", "USDT") == kind
