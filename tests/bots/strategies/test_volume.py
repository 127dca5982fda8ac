"""Volume strategy with plain values: one taking trade, never against the account's own orders."""
from datetime import timedelta

from bots.strategies import volume
from bots.strategies.types import IOC, LIMIT
from tests.bots.strategies.helpers import BUY, D, NOW, OTHER_BOT, SELL, config, market, order, rng, state


def decide(snapshot, bot_state=None, seed=1, **values):
    values = {"min_trade_usd": 10, "max_trade_usd": 20, "daily_volume_usd": 1000, **values}
    return volume.decide(snapshot, bot_state or state(), config("volume", **values), rng(seed), NOW)


def forced(side):
    """A state whose same-side cap forces `side` next."""
    return state(last_side=SELL if side == BUY else BUY, same_side_count=3)


def test_a_buy_is_a_marketable_ioc_limit_within_the_size_range():
    decision = decide(market(), forced(BUY))
    (intent,) = decision.place
    assert (intent.side, intent.kind, intent.time_in_force) == (BUY, LIMIT, IOC)
    assert intent.price == D("100.1")
    assert D(10) <= intent.amount * D("100.1") <= D(20)
    assert not decision.skipped
    assert NOW + timedelta(seconds=900) <= decision.next_trade_at <= NOW + timedelta(seconds=2700)


def test_a_buy_stops_short_of_another_bots_ask_on_the_same_account():
    snapshot = market(orders=[order("x", SELL, "100.2", bot_id=OTHER_BOT)])
    # Wants at least 1000 USDT but only 5 × 100.1 sit below the account's own ask: no trade.
    assert decide(snapshot, forced(BUY), min_trade_usd=1000, max_trade_usd=2000, daily_volume_usd=5000).place == ()
    (intent,) = decide(snapshot, forced(BUY), min_trade_usd=400, max_trade_usd=2000, daily_volume_usd=5000).place
    assert intent.price == D("100.1") and intent.amount <= D(5)


def test_when_the_best_ask_is_the_accounts_own_order_nothing_is_bought():
    snapshot = market(orders=[order("x", SELL, "100.1", bot_id=None)])
    decision = decide(snapshot, forced(BUY))
    assert decision.place == ()
    assert decision.skipped == ("Trade skipped: the best buy price is the account's own order for a buy of at "
                                "least 10")


def test_a_sell_stays_above_the_accounts_highest_bid():
    snapshot = market(orders=[order("x", BUY, "99.8", bot_id=OTHER_BOT)])
    (intent,) = decide(snapshot, forced(SELL), min_trade_usd=400, max_trade_usd=2000, daily_volume_usd=5000).place
    assert intent.side == SELL and intent.price == D("99.9") and intent.amount <= D(5)


def test_it_waits_for_its_next_trade_time():
    later = NOW + timedelta(seconds=30)
    decision = decide(market(), state(next_trade_at=later))
    assert decision.place == () and decision.next_trade_at == later
    assert decision.skipped.startswith("Trade skipped: next trade due at")


def test_it_stops_at_the_daily_target_the_loss_cap_and_the_budget():
    assert decide(market(), state(day_bought_quote=D(600), day_sold_quote=D(400))).skipped == (
        "Trade skipped: daily volume target reached")
    assert decide(market(), state(day_pnl_quote=D(-50)), daily_loss_cap_usd=50).skipped == (
        "Trade skipped: daily loss cap reached")
    spent = state(day_bought_quote=D(95), day_sold_quote=D(95), last_side=SELL, same_side_count=3)
    assert decide(market(), spent, daily_budget_usd=100).skipped.startswith("Trade skipped: daily budget spent")


def test_the_last_trade_of_the_day_is_cut_to_the_budget():
    near = state(day_bought_quote=D(85), day_sold_quote=D(85), last_side=SELL, same_side_count=3)
    (intent,) = decide(market(), near, daily_budget_usd=100).place
    assert intent.amount * intent.price <= D(15)


def test_the_same_side_cap_and_the_imbalance_force_the_side():
    assert decide(market(), forced(SELL)).place[0].side == SELL
    heavy_buys = state(day_bought_quote=D(300), day_sold_quote=D(100))
    for seed in range(20):
        assert decide(market(), heavy_buys, seed=seed).place[0].side == SELL


def test_a_wide_book_a_crash_or_an_empty_side_is_a_skip():
    assert "wider than" in decide(market(spread="20")).skipped
    assert "circuit breaker" in decide(market(mid="60"), state(session_start_price=D(100))).skipped
    assert decide(market(asks=())).skipped == "Trade skipped: the order book has no bid or no ask"


def test_a_trade_beyond_the_price_impact_is_refused():
    thin = market(asks=((D("100.1"), D("0.01")), (D("105"), D(100))))
    decision = decide(thin, forced(BUY), max_price_impact_bps=50)
    assert decision.place == () and "maximum price impact" in decision.skipped


def test_without_the_balance_it_skips_rather_than_switching_sides():
    decision = decide(market(quote_available=D(1)), forced(BUY))
    assert decision.place == () and decision.skipped == "Trade skipped: not enough USDT to buy (no switching sides)"
