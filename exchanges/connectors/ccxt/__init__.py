"""Any ccxt exchange (BitMart first) behind the Connector interface.

``CcxtConnector`` is what the registry builds; order rounding lives in ``exchanges.markets``.
"""

from exchanges.connectors.ccxt.connector import CcxtConnector

__all__ = ["CcxtConnector"]
