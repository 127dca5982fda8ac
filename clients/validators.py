import re

from solders.pubkey import Pubkey

_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def validate_wallet_address(chain: str, address: str) -> str:
    """The address in canonical form, or ValueError saying what is wrong."""
    address = (address or "").strip()
    if chain == "evm":
        if not _EVM_ADDRESS.match(address):
            raise ValueError("An EVM address is 0x followed by 40 hex digits.")
        return address.lower()
    if chain == "solana":
        try:
            return str(Pubkey.from_string(address))
        except Exception:
            raise ValueError("A Solana address is a base58 public key of 32 bytes.") from None
    raise ValueError(f"Unknown chain {chain!r}.")
