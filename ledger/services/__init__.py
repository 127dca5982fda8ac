"""What changes ledger state: ingesting trades, rebuilding P&L, refreshing balances and prices."""

from ledger.services.balances import BalanceRefreshResult, refresh_balances
from ledger.services.ingest import IngestResult, RebuildResult, ingest_fills, ingest_trades, rebuild_pnl
from ledger.services.prices import PriceRefreshResult, refresh_prices
from ledger.services.sync import SyncResult, sync_trades

__all__ = [
    "BalanceRefreshResult",
    "IngestResult",
    "PriceRefreshResult",
    "RebuildResult",
    "SyncResult",
    "ingest_fills",
    "ingest_trades",
    "rebuild_pnl",
    "refresh_balances",
    "refresh_prices",
    "sync_trades",
]
