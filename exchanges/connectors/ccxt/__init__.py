"""Any ccxt exchange (BitMart first) behind the Connector interface.

``CcxtConnector`` is what the registry builds; ``quantize_order`` is the venue-independent order
rounding other connectors import.
"""

from exchanges.connectors.ccxt.connector import CcxtConnector
from exchanges.connectors.ccxt.quantize import quantize_order

__all__ = ["CcxtConnector", "quantize_order"]
