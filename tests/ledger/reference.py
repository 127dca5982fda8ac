"""The FIFO method written plainly in Decimal (rounding through Fraction), to check the engine against.

Follows ledger/METHOD.md line by line and shares no code with ledger/fifo.py.
"""

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

Q = Decimal("1e-18")


def round18(value: Fraction) -> Decimal:
    """Half-even to 18 decimals, exactly (Python's round on a Fraction is half-even)."""
    return Decimal(round(value * 10**18)).scaleb(-18, context=_wide())


def _wide():
    with localcontext() as ctx:
        ctx.prec = 200
        return ctx.copy()


@dataclass
class RefTrade:
    side: str
    amount: Decimal
    price: Decimal
    cost: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    fee_quote: Decimal | None = None  # only for a third token: its value in quote, or None


@dataclass
class RefState:
    lots: deque = field(default_factory=deque)  # [qty, basis] Decimals
    realized: Decimal = Decimal(0)
    unconverted: dict = field(default_factory=dict)
    oversold: Decimal = Decimal(0)

    @property
    def position(self):
        return sum((q for q, _ in self.lots), Decimal(0))

    @property
    def basis(self):
        return sum((b for _, b in self.lots), Decimal(0))


def deltas(t: RefTrade, base="SHARP", quote="USDT"):
    fee_base = fee_cash = Decimal(0)
    currency = t.fee_currency.upper()
    if t.fee and currency == base:
        fee_base = t.fee
    elif t.fee and currency == quote:
        fee_cash = t.fee
    elif t.fee and (not currency or t.fee_quote is None):
        return None  # no currency said, or a third token with no price
    elif t.fee:
        fee_cash = t.fee_quote
    if t.side == "buy":
        return t.amount - fee_base, -(t.cost + fee_cash)
    return -(t.amount + fee_base), t.cost - fee_cash


def apply(state: RefState, t: RefTrade, base="SHARP", quote="USDT") -> RefState:
    with localcontext() as ctx:
        ctx.prec = 200
        moved = deltas(t, base, quote)
        if moved is None:  # a third-token fee with no price: carried aside, trade without it
            key = t.fee_currency.upper() or "unknown"
            state.unconverted[key] = state.unconverted.get(key, 0) + t.fee
            moved = deltas(RefTrade(t.side, t.amount, t.price, t.cost), base, quote)
        d, cash = moved
        position = state.position
        if d == 0:
            state.realized += cash
            return state
        if position == 0 or (position > 0) == (d > 0):
            state.lots.append([d, -cash])
            if d < 0:
                state.oversold += -d
            return state
        remaining, remaining_basis = abs(d), -cash
        while remaining and state.lots:
            lot = state.lots[0]
            size = abs(lot[0])
            if remaining >= size:
                matched, lot_part = size, lot[1]
                state.lots.popleft()
            else:
                matched = remaining
                lot_part = round18(Fraction(lot[1]) * Fraction(matched) / Fraction(size))
                lot[0] = lot[0] - matched if lot[0] > 0 else lot[0] + matched
                lot[1] -= lot_part
            trade_part = remaining_basis if matched == remaining else round18(
                Fraction(remaining_basis) * Fraction(matched) / Fraction(remaining)
            )
            remaining_basis -= trade_part
            remaining -= matched
            state.realized -= lot_part + trade_part
        if remaining:
            state.lots.append([remaining if d > 0 else -remaining, remaining_basis])
            if d < 0:
                state.oversold += remaining
    return state
