"""PaperConnector: the paper exchange behind the common Connector interface."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from exchanges.connectors.base import (
    AssetBalance,
    Connector,
    Market,
    OrderBook,
    OrderInfo,
    OrderRequest,
    Ticker,
    TradeFill,
)
from exchanges.connectors.paper import engine
from exchanges.connectors.paper.setup import EXCHANGE_ID, ensure_opened
from exchanges.errors import InvalidOrder, OrderNotFound
from exchanges.models import ExchangeAccount, PaperBalance, PaperMarket, PaperOrder, PaperTrade

UNKNOWN_MARKET = "Unknown market {symbol} on the paper exchange."


def order_info(order: PaperOrder, symbol: str) -> OrderInfo:
    return OrderInfo(
        exchange_order_id=str(order.pk),
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=order.side,
        kind=order.kind,
        amount=order.amount,
        price=order.price,
        filled=order.filled,
        status=order.status,
        created_at=order.created_at,
    )


class PaperConnector(Connector):
    """A simulated venue whose state is database rows; every call first settles resting orders.

    ``clock`` returns the current aware datetime; it defaults to the wall clock (tests and
    replays pass their own).
    """

    exchange_id = EXCHANGE_ID

    def __init__(self, account: ExchangeAccount, *, clock: Callable[[], datetime] | None = None, timeout_s: float | None = None):
        self.account = account
        self.clock = clock or timezone.now
        self.timeout_s = timeout_s  # nothing here waits on a network

    # --- markets ------------------------------------------------------------------------------
    def _markets(self) -> dict[str, PaperMarket]:
        """Every market, settled up to now."""
        now = self.clock()
        ensure_opened(self.account, now)
        markets = {m.symbol: m for m in PaperMarket.objects.filter(account=self.account)}
        for market in markets.values():
            engine.settle(market, now)
        return markets

    def _market(self, symbol: str) -> PaperMarket:
        """The market, settled up to now."""
        ensure_opened(self.account, self.clock())
        try:
            market = PaperMarket.objects.get(account=self.account, symbol=symbol)
        except PaperMarket.DoesNotExist:
            raise InvalidOrder(UNKNOWN_MARKET.format(symbol=symbol), exchange=EXCHANGE_ID, symbol=symbol) from None
        engine.settle(market, self.clock())
        return market

    def load_markets(self) -> dict[str, Market]:
        return {
            symbol: Market(
                symbol=symbol,
                base=m.base,
                quote=m.quote,
                exchange_symbol=f"{m.base}{m.quote}",
                price_step=m.price_step,
                amount_step=m.amount_step,
                min_amount=m.min_amount,
                min_notional=m.min_notional,
            )
            for symbol, m in self._markets().items()
        }

    def fetch_ticker(self, symbol: str) -> Ticker:
        market = self._market(symbol)
        now = self.clock()
        step, mid = engine.reference(market, now)
        bids, asks = engine.book(market, step, mid, 1)
        return Ticker(symbol, bids[0][0] if bids else None, asks[0][0] if asks else None, mid, now)

    def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        market = self._market(symbol)
        now = self.clock()
        step, mid = engine.reference(market, now)
        bids, asks = engine.book(market, step, mid, max(1, depth))
        return OrderBook(symbol, bids, asks, now)

    # --- funds ----------------------------------------------------------------------------------
    def fetch_balance(self) -> list[AssetBalance]:
        self._markets()
        return [
            AssetBalance(b.asset, b.available, b.locked)
            for b in PaperBalance.objects.filter(account=self.account).order_by("asset")
        ]

    # --- orders ---------------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> OrderInfo:
        market = self._market(request.symbol)
        return order_info(engine.place(market, request, self.clock()), market.symbol)

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        market = self._market(symbol)
        return order_info(engine.cancel(market, _order_pk(exchange_order_id, symbol)), symbol)

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        market = self._market(symbol)
        orders = PaperOrder.objects.filter(market=market, status=PaperOrder.Status.OPEN).order_by("id")
        return [order_info(order, symbol) for order in orders]

    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo:
        market = self._market(symbol)
        orders = PaperOrder.objects.filter(market=market)
        if exchange_order_id:
            orders = orders.filter(pk=_order_pk(exchange_order_id, symbol))
        elif client_order_id:
            orders = orders.filter(client_order_id=client_order_id)
        else:
            raise OrderNotFound("An order id or a client order id is needed.", exchange=EXCHANGE_ID)
        order = orders.first()
        if order is None:
            raise OrderNotFound(f"No such order on {symbol}.", exchange=EXCHANGE_ID, symbol=symbol)
        return order_info(order, symbol)

    def fetch_my_trades(self, symbol: str, since: datetime | None = None, limit: int = 500) -> list[TradeFill]:
        """Own fills at or after ``since``, oldest first (ids make repeats safe to drop)."""
        market = self._market(symbol)
        trades = PaperTrade.objects.filter(account=self.account, symbol=market.symbol)
        if since is not None:
            trades = trades.filter(traded_at__gte=since)
        return [
            TradeFill(
                exchange_trade_id=str(t.pk),
                order_id=str(t.order_id),
                symbol=symbol,
                side=t.side,
                amount=t.amount,
                price=t.price,
                cost=t.cost,
                fee=t.fee,
                fee_currency=t.fee_currency,
                traded_at=t.traded_at,
            )
            for t in trades.order_by("traded_at", "id")[: max(1, limit)]
        ]


def _order_pk(exchange_order_id: str, symbol: str) -> int:
    if not (str(exchange_order_id).isascii() and str(exchange_order_id).isdigit()):
        raise OrderNotFound(f"No order {exchange_order_id!r} on {symbol}.", exchange=EXCHANGE_ID, symbol=symbol)
    return int(exchange_order_id)
