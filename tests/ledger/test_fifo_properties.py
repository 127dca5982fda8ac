"""Properties of the FIFO engine on random trade sequences (hypothesis)."""

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import fifo
from tests.ledger import reference

D = Decimal
BASE, QUOTE = "SHARP", "USDT"

amounts = st.decimals(min_value=D("0.000001"), max_value=D("1000"), places=6)
prices_ = st.decimals(min_value=D("0.0001"), max_value=D("500"), places=4)
fees = st.decimals(min_value=D("-0.01"), max_value=D("0.5"), places=4)


@st.composite
def trades(draw):
    side = draw(st.sampled_from(["buy", "sell"]))
    amount, price = draw(amounts), draw(prices_)
    cost = (amount * price).quantize(D("1e-10"))
    kind = draw(st.sampled_from(["none", "base", "quote", "bnb_priced", "bnb_unpriced", "unknown"]))
    fee = draw(fees)
    if kind == "base":
        fee = min(fee, amount / 2)  # a base fee never exceeds what the trade moves
        return reference.RefTrade(side, amount, price, cost, fee, BASE)
    if kind == "quote":
        return reference.RefTrade(side, amount, price, cost, fee, QUOTE)
    if kind == "bnb_priced":
        return reference.RefTrade(side, amount, price, cost, fee, "BNB", (fee * D("312.5")).quantize(D("1e-8")))
    if kind == "bnb_unpriced":
        return reference.RefTrade(side, amount, price, cost, fee, "BNB")
    if kind == "unknown":  # an amount with no currency (Coinstore without feeCurrencyId)
        return reference.RefTrade(side, amount, price, cost, fee, "", draw(st.sampled_from([None, D(0)])))
    return reference.RefTrade(side, amount, price, cost)


def engine(t: reference.RefTrade) -> fifo.EngineTrade:
    return fifo.engine_trade(side=t.side, amount=t.amount, price=t.price, cost=t.cost, fee=t.fee,
                             fee_currency=t.fee_currency, fee_quote=t.fee_quote, base=BASE, quote=QUOTE)


sequences = st.lists(trades(), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(sequences, st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=20))
def test_incremental_state_always_equals_a_full_recompute(seq, cuts):
    full = fifo.recompute([engine(t) for t in seq])
    state, i = fifo.FifoState(), 0
    for cut in itertools.cycle(cuts):
        if i >= len(seq):
            break
        # each batch is applied to the state as stored and read back, as ingestion does
        state = fifo.FifoState.from_json(fifo.apply(state, [engine(t) for t in seq[i : i + cut]]).to_json())
        i += cut
    assert state == full


@settings(max_examples=150, deadline=None)
@given(sequences)
def test_engine_equals_the_decimal_definition(seq):
    state = fifo.recompute([engine(t) for t in seq])
    ref = reference.RefState()
    for t in seq:
        reference.apply(ref, t, BASE, QUOTE)
    assert fifo.from_units(state.realized) == ref.realized
    assert [(fifo.from_units(q), fifo.from_units(b)) for q, b in state.lots] == [tuple(lot) for lot in ref.lots]
    assert fifo.from_units(state.oversold) == ref.oversold
    assert {k: fifo.from_units(v) for k, v in state.unconverted.items()} == ref.unconverted


@settings(max_examples=150, deadline=None)
@given(sequences, prices_)
def test_realized_plus_unrealized_is_value_change_minus_fees(seq, mark):
    state = fifo.recompute([engine(t) for t in seq])
    ctx = fifo.EXACT
    gross_base = gross_cash = fees_paid = D(0)
    for t in seq:
        sign = 1 if t.side == "buy" else -1
        gross_base = ctx.add(gross_base, sign * t.amount)
        gross_cash = ctx.subtract(gross_cash, sign * t.cost)
        if t.fee_currency == BASE:
            fees_paid = ctx.add(fees_paid, ctx.multiply(t.fee, mark))  # base fees cost base, worth the mark
        elif t.fee_currency == QUOTE:
            fees_paid = ctx.add(fees_paid, t.fee)
        elif t.fee_quote is not None and t.fee_currency:
            fees_paid = ctx.add(fees_paid, t.fee_quote)
    value_change = ctx.add(gross_cash, ctx.multiply(gross_base, mark))
    total = ctx.add(fifo.from_units(state.realized), fifo.unrealized(state, mark))
    assert total == ctx.subtract(value_change, fees_paid)
