"""Coinstore, spoken natively (it is not in ccxt): signing, transport, parsing, the connector."""

from exchanges.connectors.coinstore.connector import DEFAULT_BASE_URL, CoinstoreConnector
from exchanges.connectors.coinstore.signing import expires_key, signature

__all__ = ["DEFAULT_BASE_URL", "CoinstoreConnector", "expires_key", "signature"]
