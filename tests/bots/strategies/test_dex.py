"""DEX strategy with plain values: swaps, TWAP slices, price limits, SOL kept for fees."""
from datetime import timedelta

from bots.strategies import dex
from tests.bots.strategies.helpers import BUY, D, NOW, SELL, config, market, rng, state


def decide(snapshot, bot_state=None, **values):
    return dex.decide(snapshot, bot_state or state(), config("dex", **values), rng(), NOW)


def test_a_volume_swap_carries_slippage_and_a_worst_price():
    decision = decide(market(symbol="SHARP/USDC"), state(last_side=SELL, same_side_count=3), slippage_bps=30)
    (intent,) = decision.place
    assert (intent.side, intent.kind, intent.amount, intent.slippage_bps) == (BUY, "market", None, D(30))
    assert D(10) <= intent.quote_amount <= D(25) and intent.price == D(101)
    assert decision.next_trade_at >= NOW + timedelta(seconds=900)


def test_twap_sells_slices_until_the_target():
    values = {"mode": "sell", "twap_amount": 100, "twap_slices": 4}
    (intent,) = decide(market(), **values).place
    assert (intent.side, intent.amount) == (SELL, D(25))
    (last,) = decide(market(), state(twap_done_base=D(90)), **values).place
    assert last.amount == D(10)
    assert decide(market(), state(twap_done_base=D(100)), **values).skipped == "Trade skipped: TWAP target reached"


def test_price_limits():
    assert "above max_buy_price" in decide(market(), mode="buy", twap_amount=10, max_buy_price=90).skipped
    assert "below min_sell_price" in decide(market(), mode="sell", twap_amount=10, min_sell_price=110).skipped
    (intent,) = decide(market(), mode="buy", twap_amount=10, max_buy_price="100.5").place
    assert intent.price == D("100.5")


def test_buying_with_sol_keeps_the_minimum_for_fees():
    snapshot = market(symbol="SHARP/SOL", mid="1", sol_available=D("0.06"))
    (intent,) = decide(snapshot, mode="buy", twap_amount=1, min_sol_kept="0.05").place
    assert intent.quote_amount == D("0.01")  # shrunk from 1 SOL to what leaves 0.05


def test_at_or_below_the_sol_minimum_nothing_is_swapped():
    decision = decide(market(sol_available=D("0.05")), min_sol_kept="0.05")
    assert decision.place == () and "kept for fees" in decision.skipped
    assert decide(market(sol_available=None)).skipped == "Trade skipped: the wallet's SOL balance is unknown"


def test_selling_sol_keeps_the_minimum():
    snapshot = market(symbol="SOL/USDC", mid="100", sol_available=D("0.3"), base_available=D("0.3"))
    (intent,) = decide(snapshot, mode="sell", twap_amount=5, twap_slices=1, min_sol_kept="0.1").place
    assert intent.amount == D("0.2")
