"""The bot engine: dispatch and leases, ticks, orders, reconciliation and safety.

Strategies (bots/strategies) decide; the engine reads the venue, asks them, and carries out
what they decided, one lease-holding worker per bot at a time.
"""
