from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest

from exchanges.connectors.base import TradeFill
from tests.factories import BotFactory

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=dt_timezone.utc)


def fill(trade_id, side="buy", amount="1", price="1", *, fee="0", fee_currency="USDT", at=None, minutes=0, cost=None,
         symbol="SHARP/USDT"):
    amount, price = Decimal(str(amount)), Decimal(str(price))
    return TradeFill(
        exchange_trade_id=str(trade_id),
        order_id=f"o-{trade_id}",
        symbol=symbol,
        side=side,
        amount=amount,
        price=price,
        cost=amount * price if cost is None else Decimal(str(cost)),
        fee=Decimal(str(fee)),
        fee_currency=fee_currency,
        traded_at=at or T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def bot(db):
    return BotFactory(symbol="SHARP/USDT")
