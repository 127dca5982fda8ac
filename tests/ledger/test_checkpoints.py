"""A late fill replays from the nearest FIFO checkpoint and gives exactly a full rebuild's figures."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import checkpoints, fifo, rollups
from ledger.models import BotTrade, PnlCheckpoint, PnlState
from ledger.services import ingest_trades, rebuild_pnl
from tests.factories import BotFactory
from tests.ledger import reference
from tests.ledger.conftest import T0, fill

pytestmark = pytest.mark.django_db
D = Decimal


def figures(bot):
    return fifo.FifoState.from_json(PnlState.objects.get(bot=bot).engine), rollups.snapshot(bot.pk)


def reference_state(bot):
    state = reference.RefState()
    for t in sorted(bot.trades.all(), key=lambda t: (t.traded_at, t.pk)):
        fee_quote = t.fee_quote if t.fee_currency not in ("SHARP", "USDT") else None
        reference.apply(state, reference.RefTrade(t.side, t.amount, t.price, t.cost, t.fee, t.fee_currency, fee_quote))
    return state


def test_a_late_fill_replays_from_the_nearest_checkpoint_only(bot, monkeypatch):
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY", 10)
    fills = [fill(f"t{i}", "buy" if i % 3 else "sell", 1 + i % 7, D("1.5") + D(i % 5) / 10, minutes=i * 7)
             for i in range(120)]  # 14 hours
    for start in range(0, 120, 20):
        ingest_trades(bot, fills[start : start + 20])
    taken = list(PnlCheckpoint.objects.filter(bot=bot))
    assert len(taken) >= 3 and all(c.at == rollups.hour_start(c.at) for c in taken)
    late_at = T0 + timedelta(minutes=60 * 7 + 3)
    kept = [c.pk for c in taken if c.at <= late_at]
    assert kept and len(kept) < len(taken)  # checkpoints on both sides of the late fill

    ingest_trades(bot, [fill("late", "sell", 2, "1.7", at=late_at)])

    now = list(PnlCheckpoint.objects.filter(bot=bot))
    assert [c.pk for c in now if c.at <= late_at] == kept  # those before the late fill are untouched
    assert PnlState.objects.get(bot=bot).rebuilt_at is None  # not a full rebuild
    incremental = figures(bot)
    assert rebuild_pnl(bot).differences == {}
    assert figures(bot) == incremental
    ref = reference_state(bot)
    assert incremental[0].realized == fifo.to_units(ref.realized)
    assert [[fifo.from_units(q), fifo.from_units(b)] for q, b in incremental[0].lots] == [list(lot) for lot in ref.lots]


def test_a_bot_that_only_buys_gets_sparser_checkpoints(bot, monkeypatch):
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY", 5)
    ingest_trades(bot, [fill(f"b{i}", "buy", 1, 1, minutes=i * 30) for i in range(200)])  # one open lot each
    counts = list(PnlCheckpoint.objects.filter(bot=bot).values_list("trade_count", flat=True))
    assert counts and all(b >= 2 * a for a, b in zip(counts, counts[1:]))  # geometric: stored lots stay O(trades)


trade_specs = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=5000),  # amount in hundredths
        st.integers(min_value=900, max_value=1100),  # price in thousandths
        st.sampled_from(["USDT", "SHARP", "BNB", ""]),
        st.integers(min_value=-3, max_value=30),  # fee in ten-thousandths
        st.integers(min_value=0, max_value=60 * 30),  # minutes after T0: 30 hours, 2 days
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trade_specs, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=8),
       st.integers(min_value=1, max_value=4))
def test_late_fills_with_checkpoints_give_exactly_a_full_rebuild(monkeypatch, specs, rng: random.Random, batch_size,
                                                                every):
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY", every)
    bot = BotFactory(symbol="SHARP/USDT")
    fills = [
        fill(f"t{i}", side, D(amount) / 100, D(price) / 1000, fee=D(fee) / 10000, fee_currency=currency,
             minutes=minutes)
        for i, (side, amount, price, currency, fee, minutes) in enumerate(specs)
    ]
    batches = [fills[i : i + batch_size] for i in range(0, len(fills), batch_size)]
    rng.shuffle(batches)  # late, older fills replay from checkpoints
    for batch in batches:
        ingest_trades(bot, batch)
    incremental = figures(bot)

    result = rebuild_pnl(bot)

    assert result.differences == {}
    assert figures(bot) == incremental
    assert BotTrade.objects.filter(bot=bot).count() == len(fills)
    ref = reference_state(bot)
    assert incremental[0].realized == fifo.to_units(ref.realized)
