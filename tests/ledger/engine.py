"""Helpers to feed the pure engine plain Decimal trades in tests."""

from decimal import Decimal

from ledger import fifo

D = Decimal


def trade(side, amount, price, cost=None, fee="0", fee_currency="", fee_quote=None, base="SHARP", quote="USDT"):
    amount, price = D(str(amount)), D(str(price))
    cost = amount * price if cost is None else D(str(cost))
    return fifo.engine_trade(
        side=side, amount=amount, price=price, cost=cost, fee=D(str(fee)), fee_currency=fee_currency,
        fee_quote=None if fee_quote is None else D(str(fee_quote)), base=base, quote=quote,
    )


def run(*trades) -> fifo.FifoState:
    return fifo.recompute(list(trades))


def dec(units: int) -> Decimal:
    return fifo.from_units(units)


def lots(state) -> list[tuple[Decimal, Decimal]]:
    return [(dec(q).normalize(), dec(b).normalize()) for q, b in state.lots]
