"""The paper exchange (exchange id ``paper``): simulated markets for demos, dry runs and tests.

Prices follow a seeded random walk over wall time, the book is synthesized around the price,
limit orders rest with their funds locked and fill when the price crosses them, market orders
walk the book. All state is database rows, so it survives restarts and is shared by processes.
"""

from exchanges.connectors.paper.connector import PaperConnector
from exchanges.connectors.paper.setup import DEFAULT_BALANCES, DEFAULT_MARKETS

__all__ = ["DEFAULT_BALANCES", "DEFAULT_MARKETS", "PaperConnector"]
