"""Through the database: however fills are batched and reordered, the stored state equals a recompute."""

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import fifo
from ledger.models import PnlState
from ledger.services import ingest_trades
from tests.factories import BotFactory
from tests.ledger.conftest import fill

pytestmark = pytest.mark.django_db

trade_specs = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=5000),  # amount in hundredths
        st.integers(min_value=900, max_value=1100),  # price in thousandths
        st.sampled_from(["USDT", "SHARP", "BNB", ""]),
        st.integers(min_value=-3, max_value=30),  # fee in ten-thousandths
        st.integers(min_value=0, max_value=600),  # minutes after T0
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trade_specs, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=6))
def test_stored_state_equals_a_recompute_whatever_the_batches_and_order(specs, rng: random.Random, batch_size):
    bot = BotFactory(symbol="SHARP/USDT")
    fills = [
        fill(f"t{i}", side, Decimal(amount) / 100, Decimal(price) / 1000, fee=Decimal(fee) / 10000,
             fee_currency=currency, minutes=minutes)
        for i, (side, amount, price, currency, fee, minutes) in enumerate(specs)
    ]
    batches = [fills[i : i + batch_size] for i in range(0, len(fills), batch_size)]
    rng.shuffle(batches)  # late, older fills force rebuilds
    for batch in batches:
        ingest_trades(bot, batch + rng.sample(fills, min(2, len(fills))))  # with some repeats
    stored = PnlState.objects.get(bot=bot)

    ordered = sorted(bot.trades.all(), key=lambda t: (t.traded_at, t.pk))
    expected = fifo.recompute([
        fifo.engine_trade(side=t.side, amount=t.amount, price=t.price, cost=t.cost, fee=t.fee,
                          fee_currency=t.fee_currency, fee_quote=t.fee_quote, base="SHARP", quote="USDT")
        for t in ordered
    ])
    assert bot.trades.count() == len(fills)
    assert fifo.FifoState.from_json(stored.engine) == expected
