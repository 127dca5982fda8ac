"""What changes ledger state: ingesting trades, rebuilding P&L, refreshing balances and prices."""

from ledger.services.balances import BalanceRefreshResult, refresh_balances
from ledger.services.ingest import RebuildResult, ingest_trades, rebuild_pnl
from ledger.services.prices import PriceRefreshResult, refresh_prices
from ledger.services.sync import SyncResult, sync_trades

__all__ = [
    "BalanceRefreshResult",
    "PriceRefreshResult",
    "RebuildResult",
    "SyncResult",
    "ingest_trades",
    "rebuild_pnl",
    "refresh_balances",
    "refresh_prices",
    "sync_trades",
]
