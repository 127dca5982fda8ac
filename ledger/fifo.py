"""The FIFO engine: open lots, realized P&L and mark-to-market. Pure: no database, no clock.

Inside, every amount is an integer count of 1e-18 (the ledger's database scale), so the hot loop
runs on Python ints and stays exact; ``to_units``/``from_units`` convert to and from Decimal
without loss. The method is written down in ledger/METHOD.md; in short:

* a trade becomes ``(base_delta, cash)``: the base the bot gained (negative when it gave base
  away) and the quote it received (negative when it paid), fees included;
* a delta on the same side as the position (or from flat) opens a lot ``[qty, basis]``, where
  ``basis`` is the quote paid for it (negative for a short lot: the proceeds);
* a delta against the position closes the oldest lots first; a lot or trade that is only partly
  matched is split pro rata, the matched part rounded half-even to 1e-18 and the remainder keeping
  the rest, so no unit of quote is ever created or lost;
* what is left of a delta once the position is closed opens a lot on the other side (a sell of
  more than the bot holds opens a short lot, and ``oversold`` counts that base).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

SCALE = 10**18
QUANTUM = Decimal("1e-18")
# Wide enough for any product of two 38-digit database values: nothing here ever rounds by accident.
EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, Emax=999999, Emin=-999999)

FEE_NONE, FEE_BASE, FEE_QUOTE, FEE_OTHER = "none", "base", "quote", "other"
# The unconverted_fees key of a fee amount whose currency the venue did not say.
UNKNOWN_FEE_CURRENCY = "unknown"

# (base_delta, cash, fee_value, unconverted_currency, unconverted_fee, price), all ints but the
# currency; price is None for a fee-only trade (amount 0), which leaves the last price alone.
EngineTrade = tuple[int, int, int, str, int, int | None]


def to_units(value: Decimal | int | str) -> int:
    """The integer number of 1e-18 in ``value``; digits past the 18th decimal round half-even."""
    if value.__class__ is not Decimal:
        value = Decimal(value)
    scaled = value.scaleb(18, EXACT)
    units = int(scaled)
    if units != scaled:  # more than 18 decimals: round like the database column would
        return int(value.quantize(QUANTUM, context=EXACT).scaleb(18, EXACT))
    return units


def from_units(units: int) -> Decimal:
    """The exact Decimal of ``units`` × 1e-18 (always 18 decimal places)."""
    return Decimal(f"{units}E-18")


def div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even to an integer (denominator > 0)."""
    q, r = divmod(numerator, denominator)
    twice = 2 * r
    if twice > denominator or (twice == denominator and q & 1):
        return q + 1
    return q


def fee_kind(fee: Decimal, fee_currency: str, base: str, quote: str) -> str:
    """Which leg a fee is paid in: none, base, quote or other (a third token such as BNB, or a
    currency the venue did not say, which can never be converted)."""
    currency = (fee_currency or "").strip().upper()
    if not fee:
        return FEE_NONE
    if not currency:
        return FEE_OTHER
    if currency == base.upper():
        return FEE_BASE
    if currency == quote.upper():
        return FEE_QUOTE
    return FEE_OTHER


def fee_in_quote(fee: Decimal, fee_currency: str, price: Decimal, base: str, quote: str,
                 other_rate: Decimal | None = None) -> Decimal | None:
    """The fee valued in quote at the trade's time, to 1e-18; None when a third token has no price.

    A base fee is valued at the trade's own price; ``other_rate`` is quote per unit of a third token.
    """
    kind = fee_kind(fee, fee_currency, base, quote)
    if kind == FEE_NONE:
        return Decimal(0)
    if kind == FEE_QUOTE:
        return fee
    if kind == FEE_BASE:
        return from_units(div_round(to_units(fee) * to_units(price), SCALE))
    if other_rate is None or not (fee_currency or "").strip():
        return None
    return from_units(div_round(to_units(fee) * to_units(other_rate), SCALE))


def engine_trade(*, side: str, amount: Decimal, price: Decimal, cost: Decimal, fee: Decimal,
                 fee_currency: str, fee_quote: Decimal | None, base: str, quote: str) -> EngineTrade:
    """One trade as the engine sees it (see ``engine_trades``)."""
    return engine_trades([(side, amount, price, cost, fee, fee_currency, fee_quote)], base, quote)[0]


def engine_trades(rows, base: str, quote: str, raw: list | None = None) -> list[EngineTrade]:
    """Trades ``(side, amount, price, cost, fee, fee_currency, fee_quote)`` as the engine sees them.

    Base fees change the base moved (a buy receives less, a sell gives more); quote fees, and
    third-token fees with a known ``fee_quote``, change the cash; a third-token fee with no price is
    carried separately and never enters P&L, as is a fee whose currency is empty (under
    UNKNOWN_FEE_CURRENCY, whatever ``fee_quote`` says). A negative fee is a rebate and works the same way.
    A base fee's value for reporting is ``fee_quote`` when given, else fee × price.
    ``raw``, when given, receives each trade's ``(amount, cost)`` in units (rollups need them).
    """
    base, quote = base.strip().upper(), quote.strip().upper()
    ctx = EXACT
    out: list[EngineTrade] = []
    append = out.append
    # to_units inlined (the common exact case), since this loop is most of a rebuild's time
    for side, amount, price, cost, fee, fee_currency, fee_quote in rows:
        scaled = amount.scaleb(18, ctx)
        amount_u = int(scaled)
        if amount_u != scaled:
            amount_u = to_units(amount)
        scaled = cost.scaleb(18, ctx)
        cost_u = int(scaled)
        if cost_u != scaled:
            cost_u = to_units(cost)
        scaled = price.scaleb(18, ctx)
        price_u = int(scaled)
        if price_u != scaled:
            price_u = to_units(price)
        fee_base = fee_cash = fee_value = unconverted = 0
        currency = ""
        if fee:
            currency_up = fee_currency.strip().upper() if fee_currency else ""
            fee_u = to_units(fee)
            if not currency_up:  # the venue did not say: kept apart, never dropped nor guessed
                currency, unconverted = UNKNOWN_FEE_CURRENCY, fee_u
            elif currency_up == quote:
                fee_cash = fee_value = fee_u
            elif currency_up == base:
                fee_base = fee_u
                fee_value = to_units(fee_quote) if fee_quote is not None else div_round(fee_u * price_u, SCALE)
            elif fee_quote is None:
                currency, unconverted = currency_up, fee_u
            else:
                fee_cash = fee_value = to_units(fee_quote)
        if raw is not None:
            raw.append((amount_u, cost_u))
        if not amount_u:
            price_u = None  # a fee-only trade (a failed swap) says nothing of the price
        if side == "buy":
            append((amount_u - fee_base, -(cost_u + fee_cash), fee_value, currency, unconverted, price_u))
        else:
            append((-(amount_u + fee_base), cost_u - fee_cash, fee_value, currency, unconverted, price_u))
    return out


@dataclass
class FifoState:
    """A bot's FIFO position: open lots oldest first, each ``[qty, basis]`` in units of 1e-18."""

    lots: deque = field(default_factory=deque)
    realized: int = 0
    position: int = 0  # Σ qty of the lots; negative when short
    basis: int = 0  # Σ basis of the lots: quote paid for what is held (proceeds, negative, if short)
    fees: int = 0  # fees valued in quote at their trade's time (reporting; P&L already includes them)
    unconverted: dict = field(default_factory=dict)  # currency → units, fees with no known price
    oversold: int = 0  # base sold beyond what the bot held (opened or extended a short)
    trade_count: int = 0
    last_price: int | None = None

    def to_json(self) -> dict:
        return {
            "lots": [list(lot) for lot in self.lots],
            "realized": self.realized,
            "position": self.position,
            "basis": self.basis,
            "fees": self.fees,
            "unconverted": dict(self.unconverted),
            "oversold": self.oversold,
            "trade_count": self.trade_count,
            "last_price": self.last_price,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> FifoState:
        if not data:
            return cls()
        return cls(
            lots=deque([int(q), int(b)] for q, b in data["lots"]),
            realized=int(data["realized"]),
            position=int(data["position"]),
            basis=int(data["basis"]),
            fees=int(data["fees"]),
            unconverted={k: int(v) for k, v in data["unconverted"].items()},
            oversold=int(data["oversold"]),
            trade_count=int(data["trade_count"]),
            last_price=None if data.get("last_price") is None else int(data["last_price"]),
        )


def apply(state: FifoState, trades, realized_deltas: list | None = None) -> FifoState:
    """Apply trades in order to ``state`` (mutated and returned).

    With ``realized_deltas``, appends each trade's realized P&L (units) to it, for rollups.
    One loop serves both the incremental path and the full recompute, so they cannot drift.
    """
    lots = state.lots
    popleft, append = lots.popleft, lots.append
    realized, position, basis, fees, oversold = state.realized, state.position, state.basis, state.fees, state.oversold
    unconverted = state.unconverted
    count = 0
    price = state.last_price
    for d, q, fee_value, currency, unconverted_fee, trade_price in trades:
        count += 1
        if trade_price is not None:
            price = trade_price
        before = realized
        if fee_value:
            fees += fee_value
        if unconverted_fee:
            unconverted[currency] = unconverted.get(currency, 0) + unconverted_fee
        if d == 0:
            realized += q  # no base moved (e.g. the whole buy went to a base fee): all cash is P&L
        elif position == 0 or (position > 0) == (d > 0):
            append([d, -q])
            if d < 0:
                oversold -= d  # opening or extending a short: all of it is sold beyond holdings
        else:
            remaining = d if d > 0 else -d
            remaining_basis = -q
            while remaining and lots:
                lot = lots[0]
                lot_qty, lot_basis = lot
                lot_abs = lot_qty if lot_qty > 0 else -lot_qty
                if remaining >= lot_abs:
                    matched, lot_part = lot_abs, lot_basis
                    popleft()
                else:
                    matched = remaining
                    lot_part = div_round(lot_basis * matched, lot_abs)
                    lot[0] = lot_qty - matched if lot_qty > 0 else lot_qty + matched
                    lot[1] = lot_basis - lot_part
                if matched == remaining:
                    trade_part = remaining_basis
                else:
                    trade_part = div_round(remaining_basis * matched, remaining)
                remaining_basis -= trade_part
                remaining -= matched
                realized -= lot_part + trade_part
            if remaining:
                append([remaining if d > 0 else -remaining, remaining_basis])
                if d < 0:
                    oversold += remaining
        position += d
        basis += realized - before - q
        if realized_deltas is not None:
            realized_deltas.append(realized - before)
    state.realized, state.position, state.basis, state.fees, state.oversold = realized, position, basis, fees, oversold
    state.trade_count += count
    state.last_price = price
    return state


def recompute(trades) -> FifoState:
    """The state after ``trades`` from nothing: the definition the incremental state must equal."""
    return apply(FifoState(), trades)


def unrealized(state: FifoState, mark: Decimal) -> Decimal:
    """Open lots marked at ``mark`` (quote per base): position × mark − basis, exact."""
    return EXACT.subtract(EXACT.multiply(from_units(state.position), mark), from_units(state.basis))


def quantize(value: Decimal) -> Decimal:
    """A figure rounded half-even to the ledger's 18 decimals, for display and storage."""
    return value.quantize(QUANTUM, context=EXACT)
