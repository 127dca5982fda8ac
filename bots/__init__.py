"""What runs: bots, their orders, lifecycle services, strategies, the engine and the audit trail."""
