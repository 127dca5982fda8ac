"""What happened and what it is worth: trades, FIFO lots, P&L, volume and balance snapshots."""
