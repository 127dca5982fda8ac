"""The paper exchange's matching: funds, fills and settling resting orders against the price path.

Concurrency: every state change is a conditional UPDATE whose row count says who won (an order
leaves ``open`` once; funds move only while the balance stays non-negative), inside one short
atomic block per fill, so two processes settling the same account never double-fill.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import ROUND_UP, Context, Decimal, localcontext

from django.db import IntegrityError, transaction
from django.db.models import F

from exchanges.connectors.base import OrderRequest
from exchanges.connectors.paper.setup import EXCHANGE_ID
from exchanges.connectors.paper.walk import WalkSpec, is_multiple, price_at, synth_book, walk
from exchanges.errors import DuplicateOrder, InsufficientFunds, InvalidOrder, OrderNotFound
from exchanges.models import PaperBalance, PaperMarket, PaperOrder, PaperTrade

Q18 = Decimal("1e-18")
# Wide enough that quantizing any amount the database can hold (38 digits) never overflows.
MONEY_CONTEXT = Context(prec=60)
FILL_LEVELS = 50
# Steps the checkpoint may lag before a read moves it (bounds the replay a call must do).
CHECKPOINT_LAG = 50
# Steps an open order's checked_step may lag before a settle writes it (an idle read writes nothing).
CHECKED_LAG = 10
NOT_ENOUGH = "Not enough {asset}: {needed} needed."
OPEN = PaperOrder.Status.OPEN


def in_money_context(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with localcontext(MONEY_CONTEXT):
            return function(*args, **kwargs)

    return wrapper


def spec_of(market: PaperMarket) -> WalkSpec:
    return WalkSpec(market.seed, market.initial_price, market.volatility_bps, market.origin_at, market.step_ms)


def reference(market: PaperMarket, now: datetime) -> tuple[int, Decimal]:
    """The current step and reference price; moves a stale checkpoint forward."""
    spec = spec_of(market)
    step = spec.step_at(now)
    price = price_at(spec, step, (market.ref_step, market.ref_price))
    if step - market.ref_step >= CHECKPOINT_LAG:
        _checkpoint(market, step, price)
    return step, price


def _checkpoint(market: PaperMarket, step: int, price: Decimal) -> None:
    PaperMarket.objects.filter(pk=market.pk, ref_step__lt=step).update(ref_step=step, ref_price=price)
    market.ref_step, market.ref_price = step, price


@in_money_context
def book(market: PaperMarket, step: int, mid: Decimal, levels: int):
    return synth_book(
        seed=market.seed,
        step=step,
        mid=mid,
        spread_bps=market.spread_bps,
        depth_quote=market.depth_quote,
        price_step=market.price_step,
        amount_step=market.amount_step,
        levels=levels,
    )


def fee_for(cost: Decimal, rate: Decimal) -> Decimal:
    return (cost * rate).quantize(Q18, rounding=ROUND_UP)


def move_funds(account_id: int, asset: str, *, available: Decimal = Decimal(0), locked: Decimal = Decimal(0)) -> bool:
    """Add the deltas (negative takes) to a balance; False, changing nothing, if it would go negative."""
    rows = PaperBalance.objects.filter(account_id=account_id, asset=asset)
    if available < 0:
        rows = rows.filter(available__gte=-available)
    if locked < 0:
        rows = rows.filter(locked__gte=-locked)
    changed = rows.update(available=F("available") + available, locked=F("locked") + locked)
    if changed or available < 0 or locked < 0:
        return bool(changed)
    PaperBalance.objects.get_or_create(account_id=account_id, asset=asset)
    return bool(PaperBalance.objects.filter(account_id=account_id, asset=asset).update(
        available=F("available") + available, locked=F("locked") + locked))


def _take(account_id: int, asset: str, *, available: Decimal = Decimal(0), locked: Decimal = Decimal(0)) -> None:
    if not move_funds(account_id, asset, available=-available, locked=-locked):
        raise InsufficientFunds(NOT_ENOUGH.format(asset=asset, needed=available or locked), exchange=EXCHANGE_ID)


def _lock(account_id: int, asset: str, amount: Decimal) -> None:
    """Move ``amount`` from available to locked (negative: back) in one conditional UPDATE."""
    if not move_funds(account_id, asset, available=-amount, locked=amount):
        raise InsufficientFunds(NOT_ENOUGH.format(asset=asset, needed=amount), exchange=EXCHANGE_ID)


@in_money_context
def check_rules(market: PaperMarket, request: OrderRequest, reference_price: Decimal) -> None:
    """Reject what a real venue would: bad side/kind, precision, minimum amount and notional."""
    def reject(code: str, message: str):
        raise InvalidOrder(message, exchange=EXCHANGE_ID, exchange_code=code, symbol=market.symbol)

    if request.side not in ("buy", "sell"):
        reject("bad_side", f"Side must be buy or sell, not {request.side!r}.")
    if request.kind not in ("limit", "market"):
        reject("bad_kind", f"Order kind must be limit or market, not {request.kind!r}.")
    if request.amount <= 0:
        reject("amount_not_positive", "Amount must be positive.")
    if not is_multiple(request.amount, market.amount_step):
        reject("amount_precision", f"Amount {request.amount} is not a multiple of {market.amount_step}.")
    if request.amount < market.min_amount:
        reject("min_amount", f"Amount {request.amount} is below the minimum {market.min_amount}.")
    price = request.price if request.kind == "limit" else reference_price
    if request.kind == "limit":
        if price is None or price <= 0:
            reject("price_required", "A limit order needs a positive price.")
        if not is_multiple(price, market.price_step):
            reject("price_precision", f"Price {price} is not a multiple of {market.price_step}.")
    if request.amount * price < market.min_notional:
        reject("min_notional", f"Order value {request.amount * price} is below the minimum {market.min_notional}.")


@in_money_context
def plan_taker_fills(market, request: OrderRequest, step: int, mid: Decimal) -> list[tuple[Decimal, Decimal]]:
    """(price, amount) taken from the synthetic book: all of a market order, the crossing part of a limit."""
    bids, asks = book(market, step, mid, FILL_LEVELS)
    levels = asks if request.side == "buy" else bids
    remaining, fills = request.amount, []
    for price, amount in levels:
        if remaining <= 0:
            break
        if request.kind == "limit" and (price > request.price if request.side == "buy" else price < request.price):
            break
        take = min(amount, remaining)
        fills.append((price, take))
        remaining -= take
    if request.kind == "market" and remaining > 0:
        raise InvalidOrder(
            f"The book holds too little to fill {request.amount} at market.",
            exchange=EXCHANGE_ID, exchange_code="insufficient_liquidity", symbol=market.symbol,
        )
    return fills


def _record_fills(order: PaperOrder, market: PaperMarket, fills, *, is_maker: bool, at: datetime) -> tuple[Decimal, Decimal]:
    """Write the trades; returns (base amount, quote cost before fees, fee in quote)."""
    rate = market.maker_fee_rate if is_maker else market.taker_fee_rate
    amount = cost = fee = Decimal(0)
    for price, take in fills:
        take_cost = (price * take).quantize(Q18)
        take_fee = fee_for(take_cost, rate)
        PaperTrade.objects.create(
            account_id=order.account_id, order=order, symbol=market.symbol, side=order.side, amount=take,
            price=price, cost=take_cost, fee=take_fee, fee_currency=market.quote, is_maker=is_maker, traded_at=at,
        )
        amount, cost, fee = amount + take, cost + take_cost, fee + take_fee
    return amount, cost, fee


@in_money_context
def place(market: PaperMarket, request: OrderRequest, now: datetime) -> PaperOrder:
    """Match the crossing part against the book, rest the remainder of a limit with its funds locked."""
    step, mid = reference(market, now)
    check_rules(market, request, mid)
    fills = plan_taker_fills(market, request, step, mid)
    account_id = market.account_id
    with transaction.atomic():
        try:
            with transaction.atomic():
                order = PaperOrder.objects.create(
                    account_id=account_id, market=market, client_order_id=request.client_order_id, side=request.side,
                    kind=request.kind, amount=request.amount, price=request.price if request.kind == "limit" else None,
                    checked_step=step, created_at=now,
                )
        except IntegrityError:
            raise DuplicateOrder(
                f"Client order id {request.client_order_id!r} is already used on this account.",
                exchange=EXCHANGE_ID, exchange_code="duplicate_client_order_id", symbol=market.symbol,
            ) from None
        amount, cost, fee = _record_fills(order, market, fills, is_maker=False, at=now)
        if amount:
            if request.side == "buy":
                _take(account_id, market.quote, available=cost + fee)
                move_funds(account_id, market.base, available=amount)
            else:
                _take(account_id, market.base, available=amount)
                move_funds(account_id, market.quote, available=cost - fee)
        rest = request.amount - amount
        lock = Decimal(0)
        if request.kind == "limit" and rest > 0:
            if request.side == "buy":
                lock = (rest * request.price).quantize(Q18) + fee_for(rest * request.price, market.maker_fee_rate)
                asset = market.quote
            else:
                lock, asset = rest, market.base
            _lock(account_id, asset, lock)
        order.filled, order.locked = amount, lock
        order.status = OPEN if request.kind == "limit" and rest > 0 else PaperOrder.Status.FILLED
        order.save(update_fields=["filled", "locked", "status"])
    return order


@in_money_context
def fill_resting(order: PaperOrder, market: PaperMarket, at: datetime) -> bool:
    """Fill what is left of a resting limit at its price (maker); False if another process got it first."""
    rest = order.amount - order.filled
    with transaction.atomic():
        won = PaperOrder.objects.filter(pk=order.pk, status=OPEN, filled=order.filled).update(
            status=PaperOrder.Status.FILLED, filled=order.amount, locked=0
        )
        if not won:
            return False
        amount, cost, fee = _record_fills(order, market, [(order.price, rest)], is_maker=True, at=at)
        if order.side == "buy":
            _take(order.account_id, market.quote, locked=order.locked)
            move_funds(order.account_id, market.quote, available=order.locked - cost - fee)
            move_funds(order.account_id, market.base, available=amount)
        else:
            _take(order.account_id, market.base, locked=order.locked)
            move_funds(order.account_id, market.quote, available=cost - fee)
    return True


def settle(market: PaperMarket, now: datetime, open_orders: list[PaperOrder] | None = None) -> list[PaperOrder]:
    """Fill every resting limit the price path crossed since that order was last checked; returns
    the orders still open. ``open_orders`` is the market's open orders when the caller read them."""
    spec = spec_of(market)
    step = spec.step_at(now)
    if open_orders is None:
        open_orders = list(PaperOrder.objects.filter(market=market, status=OPEN).order_by("id"))
    orders = [order for order in open_orders if order.checked_step < step]
    if not orders:
        reference(market, now)
        return open_orders
    start = min(order.checked_step for order in orders)
    if market.ref_step <= start:
        origin, origin_price = market.ref_step, market.ref_price
    else:  # a concurrent order is older than the checkpoint: replay from step 0
        origin, origin_price = 0, market.initial_price
    path = walk(spec, origin, origin_price, step)  # path[i] is the price at step origin + 1 + i
    unfilled, filled = [], set()
    for order in orders:
        crossed = None
        for at_step in range(order.checked_step + 1, step + 1):
            price = path[at_step - origin - 1]
            if (order.side == "buy" and price <= order.price) or (order.side == "sell" and price >= order.price):
                crossed = at_step
                break
        if crossed is None:
            unfilled.append(order)
        else:
            # Filled here, or by another process first: either way no longer open.
            fill_resting(order, market, spec.time_of(crossed))
            filled.add(order.pk)
    # Re-checking a step is harmless (the path is fixed), so an order's progress is written only
    # every CHECKED_LAG steps: an idle read then writes nothing. The checkpoint never passes the
    # oldest progress still open, so the next settle replays from it, not from step 0.
    behind = [order for order in unfilled if step - order.checked_step >= CHECKED_LAG]
    if behind:
        PaperOrder.objects.filter(pk__in=[o.pk for o in behind], status=OPEN, checked_step__lt=step).update(
            checked_step=step)
        for order in behind:
            order.checked_step = step
    safe = min([step, *(order.checked_step for order in unfilled)])
    if safe > market.ref_step and safe - origin - 1 < len(path) and step - market.ref_step >= CHECKED_LAG:
        _checkpoint(market, safe, path[safe - origin - 1])
    return [order for order in open_orders if order.pk not in filled]


@in_money_context
def cancel(market: PaperMarket, order_id: int) -> PaperOrder:
    """Cancel a resting order and unlock its funds; an order no longer open is returned as it is."""
    try:
        order = PaperOrder.objects.get(pk=order_id, market=market)
    except (PaperOrder.DoesNotExist, ValueError):
        raise OrderNotFound(f"No order {order_id} on {market.symbol}.", exchange=EXCHANGE_ID) from None
    with transaction.atomic():
        won = PaperOrder.objects.filter(pk=order.pk, status=OPEN, filled=order.filled).update(
            status=PaperOrder.Status.CANCELED, locked=0
        )
        if won and order.locked:
            asset = market.quote if order.side == "buy" else market.base
            _lock(order.account_id, asset, -order.locked)
    order.refresh_from_db()
    return order
