"""Solana JSON-RPC through solana-py's ``Client``, every failure mapped to a domain error.

Error messages never carry the RPC URL: hosted endpoints put their API key in it. Every RPC
call first calls the connector's ``before_request`` hook (the guard's throttle).

Time bound: httpx times each connect, write and socket read, and a pooled connection wait, with
``timeout_s``; on top, the answer's body must arrive whole within ``timeout_s`` of the request
(checked as each chunk arrives). The residual: a node trickling its status line and headers, or
stalling mid-body, can hold a call up to one more ``timeout_s`` (one socket read) past that.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.api import Client
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException, RPCNoResultException
from solana.rpc.providers.http import HTTPProvider
from solana.rpc.types import TokenAccountOpts, TxOpts
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.errors import SerdeJSONError
from solders.rpc.config import RpcSimulateTransactionAccountsConfig, RpcSimulateTransactionConfig
from solders.rpc.requests import SimulateVersionedTransaction
from solders.rpc.responses import SimulateTransactionResp
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from exchanges.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
)

from .tokens import EXCHANGE

# Phrases a node uses when the wallet cannot pay (system program, token program, fee payer).
INSUFFICIENT_MARKERS = ("insufficient", "no record of a prior credit")


@dataclass(frozen=True)
class TokenHolding:
    """One SPL token account's balance, in the mint's smallest units."""

    address: str
    mint: str
    amount: int
    decimals: int


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms; solana-py would do it for every client (every
    # connector), which made a 1,000-account balance refresh spend 7 s here. One per process.
    return httpx.create_ssl_context()


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that must arrive whole before ``deadline`` (monotonic)."""

    def __init__(self, stream: httpx.SyncByteStream, request: httpx.Request, deadline: float):
        self._stream, self._request, self._deadline = stream, request, deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the whole answer did not arrive in time", request=self._request)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport with a total bound on each response: ``total_s`` from the request."""

    def __init__(self, total_s: float, **kwargs):
        super().__init__(**kwargs)
        self.total_s = total_s

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.total_s
        response = super().handle_request(request)
        response.stream = _DeadlineStream(response.stream, request, deadline)
        return response


class _SharedTlsProvider(HTTPProvider):
    """solana-py's HTTP provider, with its httpx session built on the process's TLS context."""

    def __init__(self, endpoint: str, timeout_s: float):
        super(HTTPProvider, self).__init__(endpoint, None)
        self.transport = _DeadlineTransport(timeout_s, verify=_tls_context())
        self.session = httpx.Client(timeout=timeout_s, transport=self.transport)


class _Client(Client):
    def __init__(self, endpoint: str, timeout_s: float):
        super(Client, self).__init__(Confirmed)
        self._provider = _SharedTlsProvider(endpoint, timeout_s)


class SolanaRpc:
    """The few RPC calls the Jupiter connector makes, each bounded by ``timeout_s``."""

    before_request: Callable[[], None] | None = None  # set through Connector.before_request

    def __init__(self, url: str, timeout_s: float):
        self._client = _Client(url, timeout_s)
        self.timeout_s = timeout_s

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self._timeout_s = value
        provider = self._client._provider
        provider.session.timeout = httpx.Timeout(value)  # solana-py fixes it at construction
        provider.transport.total_s = value

    def close(self) -> None:
        self._client._provider.session.close()

    def _call(self, what: str, fn, *args, **kwargs):
        if self.before_request is not None:
            self.before_request()
        try:
            answer = fn(*args, **kwargs)
        except SolanaRpcException as exc:
            raise transport_error(what, exc.__cause__, self.timeout_s) from None
        except RPCException as exc:
            raise rpc_error(what, exc.args[0] if exc.args else exc) from None
        except RPCNoResultException:
            raise ExchangeUnavailable(f"Solana RPC gave no result for {what}", exchange=EXCHANGE) from None
        except (SerdeJSONError, ValueError):
            raise ExchangeUnavailable(f"Solana RPC answered {what} with something not JSON-RPC", exchange=EXCHANGE) from None
        except BaseException as exc:
            # solders 0.26 panics (a BaseException) on some error objects, e.g. -32005 "Node is
            # behind" without data; anything else is not ours to swallow.
            if type(exc).__name__ != "PanicException":
                raise
            raise ExchangeUnavailable(f"Solana RPC answered {what} with an error solders cannot read", exchange=EXCHANGE) from None
        if not hasattr(answer, "value"):
            # solders 0.26 reads {"error": {"code": 429, ...}} as the bare number 429.
            if answer == 429:
                raise RateLimited(f"Solana RPC rate-limited {what}", exchange=EXCHANGE, exchange_code=429)
            raise ExchangeUnavailable(f"Solana RPC answered {what} with an unreadable error", exchange=EXCHANGE)
        return answer

    def balance_lamports(self, owner: Pubkey) -> int:
        return self._call("getBalance", self._client.get_balance, owner).value

    def token_holdings(self, owner: Pubkey) -> list[TokenHolding]:
        """Every SPL Token and Token-2022 account ``owner`` holds, amounts exact."""
        holdings = []
        for program in (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID):
            answer = self._call(
                "getTokenAccountsByOwner",
                self._client.get_token_accounts_by_owner_json_parsed,
                owner,
                TokenAccountOpts(program_id=program),
            )
            for keyed in answer.value:
                holdings.append(self._holding(str(keyed.pubkey), keyed.account.data.parsed))
        return holdings

    def _holding(self, address: str, parsed: dict) -> TokenHolding:
        info = (parsed or {}).get("info") or {}
        token_amount = info.get("tokenAmount") or {}
        amount, decimals = token_amount.get("amount"), token_amount.get("decimals")
        if not (isinstance(amount, str) and amount.isascii() and amount.isdigit() and isinstance(decimals, int)):
            # The parsed view lacks an exact amount: ask for this account's balance directly.
            value = self._call(
                "getTokenAccountBalance", self._client.get_token_account_balance, Pubkey.from_string(address)
            ).value
            amount, decimals = value.amount, value.decimals
        if not info.get("mint"):
            raise ExchangeUnavailable(f"Solana RPC returned token account {address} without a mint", exchange=EXCHANGE)
        return TokenHolding(address=address, mint=str(info["mint"]), amount=int(amount), decimals=int(decimals))

    def mint_decimals(self, mint: Pubkey) -> int:
        return self._call("getTokenSupply", self._client.get_token_supply, mint).value.decimals

    def accounts(self, addresses: list[Pubkey]) -> tuple[int, list]:
        """(slot, the solders Account or None of each address), read together."""
        answer = self._call("getMultipleAccounts", self._client.get_multiple_accounts, addresses, encoding="base64")
        return answer.context.slot, list(answer.value)

    def simulate(self, tx: VersionedTransaction, addresses: list[Pubkey]) -> tuple[int, object, list | None]:
        """(slot, err, the Account or None of each address after it) for an unsigned transaction.

        sigVerify is off: the wallet has not signed it, and nothing signed is handed out.
        """
        config = RpcSimulateTransactionConfig(
            sig_verify=False, commitment=CommitmentLevel.Confirmed,
            accounts=RpcSimulateTransactionAccountsConfig(addresses, UiAccountEncoding.Base64),
        )
        body = SimulateVersionedTransaction(tx, config)
        answer = self._call(
            "simulateTransaction", self._client._provider.make_request, body, SimulateTransactionResp
        )
        value = answer.value
        return answer.context.slot, value.err, (list(value.accounts) if value.accounts is not None else None)

    def block_height(self) -> int:
        return self._call("getBlockHeight", self._client.get_block_height).value

    def send(self, tx: VersionedTransaction) -> str:
        """Submit a signed transaction after the node's preflight simulation; returns its signature."""
        opts = TxOpts(skip_confirmation=True, skip_preflight=False, preflight_commitment=Confirmed)
        return str(self._call("sendTransaction", self._client.send_raw_transaction, bytes(tx), opts).value)

    def signature_status(self, signature: str):
        """The node's TransactionStatus for ``signature``, or None while it is unknown."""
        answer = self._call(
            "getSignatureStatuses", self._client.get_signature_statuses, [Signature.from_string(signature)]
        )
        return answer.value[0] if answer.value else None

    def transaction(self, signature: str):
        """The confirmed transaction (json encoding, v0 allowed), or None if the node has none."""
        return self._call(
            "getTransaction",
            self._client.get_transaction,
            Signature.from_string(signature),
            encoding="json",
            commitment=Confirmed,
            max_supported_transaction_version=0,
        ).value

    def signatures(self, owner: Pubkey, *, before: str | None, limit: int) -> list:
        """Newest-first confirmed signatures touching ``owner``, older than ``before``."""
        return self._call(
            "getSignaturesForAddress",
            self._client.get_signatures_for_address,
            owner,
            before=Signature.from_string(before) if before else None,
            limit=limit,
        ).value


def transport_error(what: str, cause: BaseException | None, timeout_s: float) -> ExchangeError:
    if isinstance(cause, httpx.TimeoutException):
        return ExchangeTimeout(f"Solana RPC did not answer {what} within {timeout_s}s", exchange=EXCHANGE)
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        if status == 429:
            return RateLimited(f"Solana RPC rate-limited {what}", exchange=EXCHANGE, exchange_code=status)
        return ExchangeUnavailable(f"Solana RPC answered {what} with HTTP {status}", exchange=EXCHANGE, exchange_code=status)
    name = type(cause).__name__ if cause else "unknown error"
    return ExchangeUnavailable(f"Solana RPC unreachable for {what} ({name})", exchange=EXCHANGE)


def rpc_error(what: str, parsed) -> ExchangeError:
    """Map a JSON-RPC error object (solders parses it) to the domain error it means.

    An error answer to sendTransaction means the node refused the transaction (preflight): it was
    not forwarded and cannot land, which the error says with ``refused=True``.
    """
    message = str(getattr(parsed, "message", "") or parsed)
    data = getattr(parsed, "data", None)
    logs = list(getattr(data, "logs", None) or [])
    extra = {"refused": True} if what == "sendTransaction" else {}
    hint = next((line for line in logs if any(m in line.lower() for m in INSUFFICIENT_MARKERS)), "")
    if hint or any(m in message.lower() for m in INSUFFICIENT_MARKERS):
        return InsufficientFunds(f"Solana RPC rejected {what}: {hint or message}", exchange=EXCHANGE, **extra)
    if "signatureverificationfailure" in message.replace(" ", "").lower():
        return AuthenticationFailed(f"Solana RPC rejected the transaction signature ({what})", exchange=EXCHANGE, **extra)
    if "blockhash not found" in message.lower():  # a stale quote: a fresh one will do
        return ExchangeUnavailable(f"Solana RPC {what} failed: {message}", exchange=EXCHANGE, **extra)
    if extra and "simulation failed" in message.lower():
        return InvalidOrder(f"Swap simulation failed: {message}", exchange=EXCHANGE, **extra)
    return ExchangeUnavailable(f"Solana RPC {what} failed: {message}", exchange=EXCHANGE, **extra)
