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
        # One connector serves one task (a bot's tick): its market rows and the step each was
        # last settled at are kept for its life, so a tick's several reads settle each market
        # once per price step and read the rows once. Rows change only by conditional UPDATEs
        # (order state, funds, the checkpoint), which hold whatever another process did meanwhile.
        self._rows: dict[str, PaperMarket] | None = None
        self._settled: dict[str, int] = {}
        self._open: dict[str, list[PaperOrder]] = {}  # open orders the last settle left, by symbol

    # --- markets ------------------------------------------------------------------------------
    def _load(self) -> dict[str, PaperMarket]:
        if self._rows is None:
            rows = {m.symbol: m for m in PaperMarket.objects.filter(account=self.account)}
            if not rows:
                ensure_opened(self.account, self.clock())
                rows = {m.symbol: m for m in PaperMarket.objects.filter(account=self.account)}
            self._rows = rows
        return self._rows

    def _settle(self, symbols) -> None:
        """Settle the given markets up to now, those not yet settled at this step, with one read of
        their open orders."""
        now = self.clock()
        rows = self._load()
        due = {s: rows[s] for s in symbols if self._settled.get(s) != engine.spec_of(rows[s]).step_at(now)}
        if not due:
            return
        by_market: dict[int, list[PaperOrder]] = {m.pk: [] for m in due.values()}
        for order in PaperOrder.objects.filter(market_id__in=by_market, status=PaperOrder.Status.OPEN).order_by("id"):
            by_market[order.market_id].append(order)
        for symbol, market in due.items():
            self._open[symbol] = engine.settle(market, now, by_market[market.pk])
            self._settled[symbol] = engine.spec_of(market).step_at(now)

    def _forget(self, symbol: str) -> None:
        """An order changed on this market: the next read asks the database again."""
        self._open.pop(symbol, None)

    def _markets(self) -> dict[str, PaperMarket]:
        """Every market, settled up to now."""
        rows = self._load()
        self._settle(rows)
        return rows

    def _market(self, symbol: str) -> PaperMarket:
        """The market, settled up to now."""
        rows = self._load()
        if symbol not in rows:
            raise InvalidOrder(UNKNOWN_MARKET.format(symbol=symbol), exchange=EXCHANGE_ID, symbol=symbol)
        # Settling every market at once costs the same one read, and fetch_balance needs them all.
        self._settle(rows)
        return rows[symbol]

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
        self._forget(market.symbol)
        return order_info(engine.place(market, request, self.clock()), market.symbol)

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        market = self._market(symbol)
        self._forget(symbol)
        return order_info(engine.cancel(market, _order_pk(exchange_order_id, symbol)), symbol)

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        market = self._market(symbol)
        orders = self._open.pop(symbol, None)  # what the settle just read, once; else ask again
        if orders is None:
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
