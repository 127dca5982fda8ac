"""Jupiter DEX on Solana: swaps quoted by Jupiter, signed by the account's wallet, settled on chain."""

from .connector import MARKET_ONLY, JupiterConnector
from .tokens import DEFAULT_TOKENS, SOL_MINT

__all__ = ["DEFAULT_TOKENS", "MARKET_ONLY", "SOL_MINT", "JupiterConnector"]
