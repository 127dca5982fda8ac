"""Hypothesis properties of the strategies: no crossing, no self-matching, ratio, budget, loss cap, SOL kept."""
import random
from datetime import timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.config import parse_config
from bots.strategies import dex, spread, volume
from bots.strategies.types import BUY, SELL, BotState, MarketSnapshot, RestingOrder
from tests.bots.strategies.helpers import BOT, NOW, OTHER_BOT

PROPERTY = settings(max_examples=150, deadline=None)

prices = st.decimals(min_value=D("0.5"), max_value=D("200"), places=4)
sizes = st.decimals(min_value=D("0.01"), max_value=D("50"), places=2)


@st.composite
def books(draw):
    """A book whose best bid is below its best ask, and account orders that do not cross each other."""
    mid = draw(prices)
    half = draw(st.decimals(min_value=D("0.0001"), max_value=D("0.05"), places=4)) * mid
    bid, ask = mid - half, mid + half
    bids = tuple(sorted({(bid - bid * i * D("0.001"), draw(sizes)) for i in range(draw(st.integers(0, 8)))},
                        reverse=True))
    asks = tuple(sorted({(ask + ask * i * D("0.001"), draw(sizes)) for i in range(draw(st.integers(0, 8)))}))
    orders = []
    for i in range(draw(st.integers(0, 6))):
        side = draw(st.sampled_from([BUY, SELL]))
        # Resting orders never cross: bids at or below the best bid, asks at or above the best ask.
        offset = draw(st.decimals(min_value=D(0), max_value=D("0.05"), places=4))
        price = bid * (1 - offset) if side == BUY else ask * (1 + offset)
        owner = draw(st.sampled_from([BOT, OTHER_BOT, None]))
        orders.append(RestingOrder(f"o{i}", side, price, draw(sizes), owner, NOW - timedelta(seconds=draw(
            st.integers(0, 3600)))))
    return MarketSnapshot(symbol="SHARP/USDT", at=NOW, bids=bids, asks=asks, last=mid, reference_mid=mid,
                          account_orders=tuple(orders), base_total=draw(st.sampled_from([D(0), D(1), D(1000)])),
                          quote_total=draw(st.sampled_from([D(0), D(1), D(1000)])) * mid)


@st.composite
def spread_configs(draw):
    values = {"levels": draw(st.integers(1, 6)), "level_spacing_bps": draw(st.integers(1, 200)),
              "inventory_skew_bps": draw(st.sampled_from([0, 50, 500, 5000])), "order_size_usd": draw(st.integers(1, 100)),
              "price_source": draw(st.sampled_from(["mid", "last", "reference"])), "reference_account": 1}
    if draw(st.booleans()):
        values["spread_bps"] = draw(st.sampled_from([1, 5, 20, 100, 2000]))
    else:
        values.update(bid_spread=str(draw(st.decimals(min_value=D("0.0001"), max_value=D("0.2"), places=4))),
                      ask_spread=str(draw(st.decimals(min_value=D("0.0001"), max_value=D("0.2"), places=4))))
    if draw(st.booleans()):
        values["drift_threshold_pct"] = str(draw(st.decimals(min_value=D("0.0001"), max_value=D("0.5"), places=4)))
    if draw(st.booleans()):
        values["max_order_age_seconds"] = draw(st.integers(1, 3600))
    return parse_config("spread", values)


def resting_after(market, decision):
    gone = set(decision.cancel)
    rest = [(o.side, o.price) for o in market.account_orders if o.order_id not in gone]
    return rest + [(i.side, i.price) for i in decision.place]


@PROPERTY
@given(books(), spread_configs(), st.integers(0, 2**32))
def test_spread_ladders_never_cross_the_accounts_orders_or_take_the_book(market, config, seed):
    decision = spread.decide(market, BotState(bot_id=BOT), config, random.Random(seed), NOW)
    own_ids = {o.order_id for o in market.account_orders if o.bot_id == BOT}
    assert set(decision.cancel) <= own_ids  # only its own orders
    for intent in decision.place:
        assert intent.price > 0 and intent.amount > 0 and intent.kind == "limit"
        # Against everything resting now, cancels included (they may land after the placements).
        for o in market.account_orders:
            if intent.side == BUY and o.side == SELL:
                assert intent.price < o.price
            if intent.side == SELL and o.side == BUY:
                assert intent.price > o.price
        if intent.side == BUY and market.best_ask is not None:
            assert intent.price < market.best_ask
        if intent.side == SELL and market.best_bid is not None:
            assert intent.price > market.best_bid
    rest = resting_after(market, decision)
    bids = [p for side, p in rest if side == BUY]
    asks = [p for side, p in rest if side == SELL]
    if bids and asks:
        assert max(bids) < min(asks)
    assert decision.place or decision.cancel or decision.skipped.startswith("Trade skipped: ")


@st.composite
def volume_configs(draw):
    low = draw(st.integers(1, 50))
    return parse_config("volume", {
        "min_trade_usd": low, "max_trade_usd": low + draw(st.integers(0, 100)), "daily_volume_usd": 100000,
        "buy_ratio": str(draw(st.sampled_from([D("0.3"), D("0.4"), D("0.5"), D("0.6"), D("0.7")]))),
        "max_position_imbalance": str(draw(st.sampled_from([D("0.05"), D("0.1"), D("0.2")]))),
        "max_consecutive_same_side": draw(st.integers(3, 10)), "max_price_impact_bps": draw(st.integers(10, 500)),
        "max_spread_bps": 10000, "interval_min_seconds": 1, "interval_max_seconds": 5,
    })


@PROPERTY
@given(books(), volume_configs(), st.integers(0, 2**32), st.sampled_from([BUY, SELL, None]))
def test_volume_never_matches_any_resting_order_of_the_account(market, config, seed, last_side):
    state = BotState(bot_id=BOT, last_side=last_side, same_side_count=3 if last_side else 0)
    decision = volume.decide(market, state, config, random.Random(seed), NOW)
    for intent in decision.place:
        assert intent.time_in_force == "ioc" and intent.amount > 0
        for o in market.account_orders:  # whichever bot owns it
            if intent.side == BUY and o.side == SELL:
                assert intent.price < o.price
            if intent.side == SELL and o.side == BUY:
                assert intent.price > o.price
        assert intent.amount * intent.price <= config.max_trade_usd + intent.price  # size within range (plus a level's rounding)
        mid = market.mid
        assert abs(intent.price - mid) <= mid * config.max_price_impact_bps / 10000


def deep_book(mid=D(100)):
    bids = tuple((mid - D("0.05") - D("0.01") * i, D(1000)) for i in range(20))
    asks = tuple((mid + D("0.05") + D("0.01") * i, D(1000)) for i in range(20))
    return MarketSnapshot(symbol="SHARP/USDT", at=NOW, bids=bids, asks=asks)


def run_volume(config, ticks, seed, pnl_per_trade=D(0)):
    """Simulate `ticks` ticks in which every intent fills in full; returns the final state and the trades."""
    rng, state, now, trades = random.Random(seed), BotState(bot_id=BOT), NOW, []
    market = deep_book()
    for _ in range(ticks):
        decision = volume.decide(market, state, config, rng, now)
        for intent in decision.place:
            cost = intent.amount * intent.price
            trades.append((intent.side, cost, state.day_pnl_quote))
            same = state.same_side_count + 1 if state.last_side == intent.side else 1
            state = BotState(
                bot_id=BOT, last_side=intent.side, same_side_count=same,
                day_bought_quote=state.day_bought_quote + (cost if intent.side == BUY else 0),
                day_sold_quote=state.day_sold_quote + (cost if intent.side == SELL else 0),
                day_pnl_quote=state.day_pnl_quote - pnl_per_trade)
        now = (decision.next_trade_at or now) + timedelta(seconds=1)
    return state, trades


@settings(max_examples=30, deadline=None)
@given(volume_configs(), st.integers(0, 2**32))
def test_volume_buy_ratio_stays_near_its_target_over_many_ticks(config, seed):
    state, trades = run_volume(config, 400, seed)
    assert len(trades) == 400
    share = state.day_bought_quote / state.day_volume_quote
    # The imbalance limit forces the other side beyond it; one trade can overshoot by its size.
    assert abs(share - config.buy_ratio) <= config.max_position_imbalance + config.max_trade_usd * 2 / (
        state.day_volume_quote)
    assert max(sum(1 for _ in run) for run in _runs([side for side, _, _ in trades])) <= (
        config.max_consecutive_same_side)


def _runs(sides):
    run = []
    for side in sides:
        if run and run[-1] != side:
            yield run
            run = []
        run.append(side)
    if run:
        yield run


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(20, 2000), st.integers(1, 500), st.integers(0, 2**32))
def test_volume_daily_budget_and_loss_cap_are_respected(min_trade, budget, loss_cap, seed):
    config = parse_config("volume", {"min_trade_usd": min_trade, "max_trade_usd": min_trade * 3,
                                     "daily_volume_usd": 1000000, "daily_budget_usd": max(budget, min_trade),
                                     "daily_loss_cap_usd": loss_cap, "interval_min_seconds": 1,
                                     "interval_max_seconds": 2})
    state, trades = run_volume(config, 300, seed, pnl_per_trade=D("1.5"))
    assert state.day_bought_quote <= config.daily_budget_usd
    for _, _, pnl_before in trades:
        assert pnl_before > -config.daily_loss_cap_usd  # never trades once the cap is reached
    assert state.day_pnl_quote >= -config.daily_loss_cap_usd - D("1.5")


@st.composite
def dex_cases(draw):
    symbol = draw(st.sampled_from(["SHARP/SOL", "SOL/USDC", "SHARP/USDC"]))
    mid = draw(st.decimals(min_value=D("0.001"), max_value=D("300"), places=3))
    mode = draw(st.sampled_from(["volume", "buy", "sell"]))
    values = {"mode": mode, "min_sol_kept": str(draw(st.decimals(min_value=D(0), max_value=D(2), places=3))),
              "min_trade_usd": 1, "max_trade_usd": draw(st.integers(1, 500)), "daily_volume_usd": 100000}
    if mode != "volume":
        values.update(twap_amount=draw(st.integers(1, 10000)), twap_slices=draw(st.integers(1, 20)))
    market = MarketSnapshot(symbol=symbol, at=NOW, bids=((mid * D("0.999"), D(1000)),),
                            asks=((mid * D("1.001"), D(1000)),),
                            sol_available=draw(st.decimals(min_value=D(0), max_value=D(5), places=4)))
    return market, parse_config("dex", values)


@PROPERTY
@given(dex_cases(), st.integers(0, 2**32), st.sampled_from([BUY, SELL, None]))
def test_dex_always_keeps_the_minimum_sol(case, seed, last_side):
    market, config = case
    state = BotState(bot_id=BOT, last_side=last_side, same_side_count=3 if last_side else 0)
    decision = dex.decide(market, state, config, random.Random(seed), NOW)
    for intent in decision.place:
        assert market.sol_available > config.min_sol_kept  # something left to pay fees with
        spent = D(0)
        if intent.side == BUY and market.quote == "SOL":
            spent = intent.quote_amount
        if intent.side == SELL and market.base == "SOL":
            spent = intent.amount
        assert market.sol_available - spent >= config.min_sol_kept
        assert (intent.quote_amount or intent.amount) > 0
    if not decision.place:
        assert decision.skipped.startswith("Trade skipped: ")


def apply(market, decision, tag):
    gone = set(decision.cancel)
    resting = [o for o in market.account_orders if o.order_id not in gone]
    resting += [RestingOrder(f"{tag}{i}", intent.side, intent.price, intent.amount, BOT, NOW)
                for i, intent in enumerate(decision.place)]
    return MarketSnapshot(**{**vars(market), "account_orders": tuple(resting)})


@PROPERTY
@given(books(), spread_configs(), st.integers(0, 2**32))
def test_spread_leaves_its_own_ladder_alone_on_an_unchanged_market(market, config, seed):
    """Orders within tolerance are not replaced: once its ladder rests, an unchanged market changes nothing.

    A level held back because it would have crossed an order being cancelled goes in on the next
    tick; nothing placed is ever cancelled again.
    """
    first = spread.decide(market, BotState(bot_id=BOT), config, random.Random(seed), NOW)
    market = apply(market, first, "a")
    second = spread.decide(market, BotState(bot_id=BOT), config, random.Random(seed + 1), NOW)
    assert second.cancel == (), (first, second)
    market = apply(market, second, "b")
    third = spread.decide(market, BotState(bot_id=BOT), config, random.Random(seed + 2), NOW)
    assert third.is_idle and third.skipped.startswith("Trade skipped: "), (first, second, third)
