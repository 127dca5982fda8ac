"""A local Solana JSON-RPC node backed by a real ``solders.litesvm.LiteSVM`` bank.

It answers the methods solana-py's ``Client`` calls in the wire format of a real node:
getBalance, getTokenAccountsByOwner (jsonParsed), getTokenAccountBalance, getTokenSupply,
getLatestBlockhash, getBlockHeight, getMultipleAccounts (base64), simulateTransaction (with
``accounts``), sendTransaction, getSignatureStatuses, getTransaction (json) and getSignaturesForAddress. ``sendTransaction`` verifies every signature with solders (the fee payer's
first), then executes the transaction in LiteSVM, so balances change for real; the transaction's
status answers "processed" to the first ``pending_polls`` polls, then "confirmed" (and only then
does getTransaction or getSignaturesForAddress show it).

Faults: set ``fault`` to "hang", "500", "429", "garbage", "jsonrpc-429" or "node-behind"
(optionally only for the methods in ``fault_methods``, and after ``fault_spare`` such calls), ``never_confirm = True``,
``omit_token_amount = True``, or ``skip_preflight = True`` (a failing transaction lands with
``err`` set and its fee paid). ``before_simulate`` (a callable) runs inside simulateTransaction
first, as another transaction landing meanwhile would; the simulation then answers one slot later.
``calls`` records every (method, params).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler

from solders.keypair import Keypair
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from tests.fakes.server import LocalServer, send

TOKEN_PROGRAM = TOKEN_PROGRAM_ID
TOKEN_2022_PROGRAM = TOKEN_2022_PROGRAM_ID
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82
LAST_VALID_BLOCKS = 150
MAX_MULTIPLE_ACCOUNTS = 100  # a real node's limit for getMultipleAccounts and simulated accounts


@dataclass
class SentTransaction:
    signature: str
    slot: int
    block_time: int
    account_keys: list[Pubkey]
    wire: dict  # the "transaction" part of getTransaction
    meta: dict
    polls: int = 0
    addresses: set[str] = field(default_factory=set)


def ui_amount_string(amount: int, decimals: int) -> str:
    text = format(Decimal(amount).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def token_amount_json(amount: int, decimals: int) -> dict:
    text = ui_amount_string(amount, decimals)
    # A real node sends uiAmount as a JSON float; the connector must not use it.
    return {"amount": str(amount), "decimals": decimals, "uiAmount": json.loads(text), "uiAmountString": text}


class FakeSolanaRpc(LocalServer):
    """Start with ``with FakeSolanaRpc() as rpc:``; ``rpc.url`` is the endpoint."""

    def __init__(self, *, pending_polls: int = 2, blocks_per_height_call: int = 1):
        # Signatures are verified here, before LiteSVM runs a transaction; a simulation, like a real
        # node's with sigVerify false, runs a transaction the wallet has not signed yet.
        self.svm = LiteSVM().with_sigverify(False)
        self.lock = threading.RLock()
        self.pending_polls = pending_polls
        self.blocks_per_height_call = blocks_per_height_call
        self.block_height = 1_000
        self.slot = 5_000
        self.fault: str | None = None
        self.fault_methods: set[str] | None = None
        self.fault_spare = 0  # this many matching calls are answered normally before the fault
        self.hang_s = 5.0
        self.delay_s = 0.0  # every answer waits this long (latency benchmarks)
        self.never_confirm = False
        self.unreadable: set[str] = set()  # listed by getSignaturesForAddress, null from getTransaction
        self.omit_token_amount = False  # getTokenAccountsByOwner without tokenAmount (a lean parser)
        self.skip_preflight = False  # land failing transactions (fee paid, err set) instead of refusing
        self.before_simulate = None
        self.calls: list[tuple[str, list]] = []
        self.token_accounts: set[Pubkey] = set()
        self.sent: dict[str, SentTransaction] = {}
        self.history: list[SentTransaction] = []  # oldest first

    # --- lifecycle --------------------------------------------------------------------------
    def make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                fake._handle(self)

            def log_message(self, *args):
                pass

        return Handler

    # --- state set-up (direct LiteSVM writes, for tests' starting balances) --------------------
    def airdrop(self, owner: Pubkey, lamports: int) -> None:
        with self.lock:
            result = self.svm.airdrop(owner, lamports)
        assert not isinstance(result, FailedTransactionMetadata), result

    def create_mint(self, decimals: int, *, authority: Pubkey | None = None, program: Pubkey = TOKEN_PROGRAM) -> Pubkey:
        from solders.account import Account

        address = Keypair().pubkey()
        mint = Mint(mint_authority=authority, supply=0, decimals=decimals, is_initialized=True)
        with self.lock:
            lamports = self.svm.minimum_balance_for_rent_exemption(MINT_LEN)
            self.svm.set_account(address, Account(lamports=lamports, data=bytes(mint), owner=program, executable=False))
        return address

    def set_mint(self, address: Pubkey, decimals: int, *, program: Pubkey = TOKEN_PROGRAM) -> None:
        """Put a mint at a well-known address (USDC's, say)."""
        from solders.account import Account

        mint = Mint(mint_authority=None, supply=0, decimals=decimals, is_initialized=True)
        with self.lock:
            lamports = self.svm.minimum_balance_for_rent_exemption(MINT_LEN)
            self.svm.set_account(address, Account(lamports=lamports, data=bytes(mint), owner=program, executable=False))

    def create_token_account(self, mint: Pubkey, owner: Pubkey, amount: int, *, address: Pubkey | None = None) -> Pubkey:
        from solders.account import Account
        from solders.token.state import TokenAccountState

        address = address or Keypair().pubkey()
        with self.lock:
            program = self.svm.get_account(mint).owner
            state = TokenAccount(
                mint=mint, owner=owner, amount=amount, delegate=None, state=TokenAccountState.Initialized,
                is_native=None, delegated_amount=0, close_authority=None,
            )
            lamports = self.svm.minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN)
            self.svm.set_account(address, Account(lamports=lamports, data=bytes(state), owner=program, executable=False))
            self.token_accounts.add(address)
        return address

    def track(self, address: Pubkey) -> None:
        """Make getTokenAccountsByOwner see a token account created by a transaction."""
        with self.lock:
            self.token_accounts.add(address)

    def balance(self, address: Pubkey) -> int:
        with self.lock:
            return self.svm.get_balance(address) or 0

    def token_balance(self, address: Pubkey) -> int:
        with self.lock:
            account = self.svm.get_account(address)
        return TokenAccount.from_bytes(bytes(account.data)[:TOKEN_ACCOUNT_LEN]).amount if account else 0

    def latest_blockhash(self):
        with self.lock:
            return self.svm.latest_blockhash()

    def last_valid_block_height(self) -> int:
        return self.block_height + LAST_VALID_BLOCKS

    def methods_called(self) -> list[str]:
        return [method for method, _ in self.calls]

    # --- HTTP ------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = json.loads(handler.rfile.read(length) or b"{}")
        method, params, request_id = request.get("method", ""), request.get("params") or [], request.get("id")
        with self.lock:
            self.calls.append((method, params))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fault and (self.fault_methods is None or method in self.fault_methods):
            with self.lock:
                spared, self.fault_spare = self.fault_spare > 0, max(0, self.fault_spare - 1)
            if not spared:
                return self._fault(handler)
        answer = getattr(self, f"_rpc_{method}", None)
        try:
            if answer is None:
                raise RpcError(-32601, "Method not found")
            with self.lock:
                result = answer(*params)
            body = {"jsonrpc": "2.0", "result": result, "id": request_id}
        except RpcError as exc:
            body = {"jsonrpc": "2.0", "error": exc.body(), "id": request_id}
        self._reply(handler, 200, json.dumps(body).encode())

    def _fault(self, handler) -> None:
        if self.fault == "hang":
            time.sleep(self.hang_s)
            return self._reply(handler, 200, b"{}")
        if self.fault == "500":
            return self._reply(handler, 500, b"Internal Server Error")
        if self.fault == "429":
            return self._reply(handler, 429, b'{"jsonrpc":"2.0","error":{"code":429,"message":"Too many requests"}}')
        if self.fault == "jsonrpc-429":  # some providers say it in the body, with HTTP 200
            return self._reply(handler, 200, b'{"jsonrpc":"2.0","error":{"code":429,"message":"Too many requests"},"id":1}')
        if self.fault == "node-behind":
            return self._reply(
                handler, 200, b'{"jsonrpc":"2.0","error":{"code":-32005,"message":"Node is behind by 42 slots"},"id":1}'
            )
        return self._reply(handler, 200, b"<html>bad gateway</html>")

    @staticmethod
    def _reply(handler, status: int, payload: bytes) -> None:
        send(handler, status, payload)

    def _context(self) -> dict:
        return {"slot": self.slot, "apiVersion": "2.2.0"}

    # --- RPC methods -------------------------------------------------------------------------
    def _rpc_getBalance(self, address, config=None):
        return {"context": self._context(), "value": self.svm.get_balance(Pubkey.from_string(address)) or 0}

    def _rpc_getLatestBlockhash(self, config=None):
        return {
            "context": self._context(),
            "value": {"blockhash": str(self.svm.latest_blockhash()), "lastValidBlockHeight": self.last_valid_block_height()},
        }

    def _rpc_getBlockHeight(self, config=None):
        self.block_height += self.blocks_per_height_call
        return self.block_height

    def _token_account_json(self, address: Pubkey) -> dict | None:
        account = self.svm.get_account(address)
        if account is None or account.owner not in TOKEN_PROGRAMS or len(account.data) < TOKEN_ACCOUNT_LEN:
            return None
        state = TokenAccount.from_bytes(bytes(account.data)[:TOKEN_ACCOUNT_LEN])
        decimals = self._decimals(state.mint)
        info = {
            "isNative": state.is_native is not None,
            "mint": str(state.mint),
            "owner": str(state.owner),
            "state": "initialized",
            "tokenAmount": token_amount_json(state.amount, decimals),
        }
        return {
            "lamports": account.lamports,
            "owner": str(account.owner),
            "executable": False,
            "rentEpoch": 18446744073709551615,
            "space": len(account.data),
            "data": {"program": "spl-token", "parsed": {"info": info, "type": "account"}, "space": len(account.data)},
        }

    def _decimals(self, mint: Pubkey) -> int:
        account = self.svm.get_account(mint)
        return Mint.from_bytes(bytes(account.data)[:MINT_LEN]).decimals

    def _account_base64(self, address: Pubkey, account=None) -> dict | None:
        account = account if account is not None else self.svm.get_account(address)
        if account is None or (account.lamports == 0 and not bytes(account.data)):
            return None
        return {
            "lamports": account.lamports, "owner": str(account.owner), "executable": account.executable,
            "rentEpoch": 18446744073709551615, "space": len(account.data),
            "data": [base64.b64encode(bytes(account.data)).decode(), "base64"],
        }

    def _rpc_getMultipleAccounts(self, addresses, config=None):
        if len(addresses) > MAX_MULTIPLE_ACCOUNTS:
            raise RpcError(-32602, f"Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}")
        if (config or {}).get("encoding") != "base64":
            raise RpcError(-32602, "this fake answers getMultipleAccounts in base64 only")
        return {"context": self._context(), "value": [self._account_base64(Pubkey.from_string(a)) for a in addresses]}

    def _rpc_simulateTransaction(self, wire, config=None):
        config = config or {}
        if config.get("encoding") != "base64" or config.get("sigVerify"):
            raise RpcError(-32602, "this fake simulates base64 transactions without sigVerify only")
        tx = VersionedTransaction.from_bytes(base64.b64decode(wire))
        if self.before_simulate is not None:
            self.before_simulate()
            self.slot += 1
        result = self.svm.simulate_transaction(tx)
        failed = isinstance(result, FailedTransactionMetadata)
        watched = [Pubkey.from_string(a) for a in (config.get("accounts") or {}).get("addresses", [])]
        if len(watched) > MAX_MULTIPLE_ACCOUNTS:
            raise RpcError(-32602, f"Too many accounts provided; max {MAX_MULTIPLE_ACCOUNTS}")
        accounts = None
        if not failed:
            post = dict(result.post_accounts())
            accounts = [self._account_base64(a, post.get(a)) for a in watched]
        metadata = result.meta()
        return {"context": self._context(), "value": {
            "err": _error_json(result.err()) if failed else None,
            "logs": list(metadata.logs()),
            "accounts": accounts,
            "unitsConsumed": metadata.compute_units_consumed(),
            "returnData": None,
        }}

    def _rpc_getTokenAccountsByOwner(self, owner, selector, config=None):
        if (config or {}).get("encoding") != "jsonParsed":
            raise RpcError(-32602, "this fake answers jsonParsed only")
        owner = Pubkey.from_string(owner)
        rows = []
        for address in sorted(self.token_accounts, key=str):
            parsed = self._token_account_json(address)
            if parsed is None:
                continue
            info = parsed["data"]["parsed"]["info"]
            if info["owner"] != str(owner):
                continue
            if "mint" in selector and info["mint"] != selector["mint"]:
                continue
            if "programId" in selector and parsed["owner"] != selector["programId"]:
                continue
            if self.omit_token_amount:
                del info["tokenAmount"]
            rows.append({"pubkey": str(address), "account": parsed})
        return {"context": self._context(), "value": rows}

    def _rpc_getTokenAccountBalance(self, address, config=None):
        parsed = self._token_account_json(Pubkey.from_string(address))
        if parsed is None:
            raise RpcError(-32602, "Invalid param: not a Token account")
        return {"context": self._context(), "value": parsed["data"]["parsed"]["info"]["tokenAmount"]}

    def _rpc_getTokenSupply(self, mint, config=None):
        account = self.svm.get_account(Pubkey.from_string(mint))
        if account is None or account.owner not in TOKEN_PROGRAMS:
            raise RpcError(-32602, "Invalid param: not a Token mint")
        state = Mint.from_bytes(bytes(account.data)[:MINT_LEN])
        return {"context": self._context(), "value": token_amount_json(state.supply, state.decimals)}

    def _rpc_sendTransaction(self, wire, config=None):
        config = config or {}
        raw = base64.b64decode(wire) if config.get("encoding") == "base64" else None
        if raw is None:
            raise RpcError(-32602, "this fake expects base64 encoding")
        tx = VersionedTransaction.from_bytes(raw)
        keys = list(tx.message.account_keys)
        verified = tx.verify_with_results()
        if not verified or not verified[0]:
            raise RpcError(-32003, "Transaction signature verification failure")
        if not all(verified):
            raise RpcError(-32003, "Transaction signature verification failure")
        signature = str(tx.signatures[0])
        pre_lamports = [self.svm.get_balance(k) or 0 for k in keys]
        pre_tokens = self._token_balances(keys)
        result = self.svm.send_transaction(tx)
        failed = isinstance(result, FailedTransactionMetadata)
        if failed and not (self.skip_preflight or config.get("skipPreflight")):
            logs = list(result.meta().logs())
            raise RpcError(
                -32002,
                f"Transaction simulation failed: {_error_text(result.err(), logs)}",
                {"err": None, "logs": logs, "accounts": None, "unitsConsumed": 0, "returnData": None,
                 "innerInstructions": None},
            )
        err = _error_json(result.err()) if failed else None
        metadata = result.meta() if failed else result
        post_lamports = [self.svm.get_balance(k) or 0 for k in keys]
        for key in keys:
            if self._token_account_json(key) is not None:
                self.token_accounts.add(key)
        post_tokens = self._token_balances(keys)
        self.slot += 1
        message = tx.message
        header = message.header
        sent = SentTransaction(
            signature=signature,
            slot=self.slot,
            block_time=int(time.time()),
            account_keys=keys,
            wire={
                "signatures": [str(s) for s in tx.signatures],
                "message": {
                    "accountKeys": [str(k) for k in keys],
                    "header": {
                        "numRequiredSignatures": header.num_required_signatures,
                        "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                        "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
                    },
                    "recentBlockhash": str(message.recent_blockhash),
                    "instructions": [
                        {"programIdIndex": ix.program_id_index, "accounts": list(ix.accounts),
                         "data": _base58(bytes(ix.data)), "stackHeight": None}
                        for ix in message.instructions
                    ],
                    "addressTableLookups": [],
                },
            },
            meta={
                "err": err,
                "status": {"Ok": None} if err is None else {"Err": err},
                # LiteSVM burns the fee: whatever lamports left the accounts is the fee.
                "fee": sum(pre_lamports) - sum(post_lamports),
                "preBalances": pre_lamports,
                "postBalances": post_lamports,
                "innerInstructions": [],
                "logMessages": list(metadata.logs()),
                "preTokenBalances": pre_tokens,
                "postTokenBalances": post_tokens,
                "rewards": [],
                "loadedAddresses": {"writable": [], "readonly": []},
                "computeUnitsConsumed": metadata.compute_units_consumed(),
            },
            addresses={str(k) for k in keys},
        )
        self.sent[signature] = sent
        self.history.append(sent)
        return signature

    def _token_balances(self, keys: list[Pubkey]) -> list[dict]:
        rows = []
        for index, key in enumerate(keys):
            parsed = self._token_account_json(key)
            if parsed is None:
                continue
            info = parsed["data"]["parsed"]["info"]
            rows.append({
                "accountIndex": index,
                "mint": info["mint"],
                "owner": info["owner"],
                "programId": parsed["owner"],
                "uiTokenAmount": info["tokenAmount"],
            })
        return rows

    def _is_confirmed(self, sent: SentTransaction) -> bool:
        return not self.never_confirm and sent.polls >= self.pending_polls

    def _rpc_getSignatureStatuses(self, signatures, config=None):
        value = []
        for signature in signatures:
            sent = self.sent.get(signature)
            if sent is None or self.never_confirm:
                value.append(None)
                continue
            confirmed = self._is_confirmed(sent)
            sent.polls += 1
            value.append({
                "slot": sent.slot,
                "confirmations": 1 if confirmed else 0,
                "err": sent.meta["err"],
                "status": sent.meta["status"],
                "confirmationStatus": "confirmed" if confirmed else "processed",
            })
        return {"context": self._context(), "value": value}

    def _rpc_getTransaction(self, signature, config=None):
        sent = self.sent.get(signature)
        if sent is None or not self._is_confirmed(sent) or signature in self.unreadable:
            return None
        if (config or {}).get("maxSupportedTransactionVersion") is None:
            raise RpcError(-32015, "Transaction version (0) is not supported by the requesting client.")
        return {"slot": sent.slot, "blockTime": sent.block_time, "transaction": sent.wire, "meta": sent.meta, "version": 0}

    def _rpc_getSignaturesForAddress(self, address, config=None):
        config = config or {}
        limit = config.get("limit") or 1000
        rows = [s for s in reversed(self.history) if address in s.addresses and self._is_confirmed(s)]
        if config.get("before"):
            signatures = [s.signature for s in rows]
            rows = rows[signatures.index(config["before"]) + 1:] if config["before"] in signatures else []
        if config.get("until"):
            signatures = [s.signature for s in rows]
            rows = rows[: signatures.index(config["until"])] if config["until"] in signatures else rows
        return [
            {"signature": s.signature, "slot": s.slot, "err": s.meta["err"], "memo": None, "blockTime": s.block_time,
             "confirmationStatus": "confirmed"}
            for s in rows[:limit]
        ]


class RpcError(Exception):
    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def body(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


def _error_text(err, logs: list[str]) -> str:
    """The words a real node's preflight uses for the failures tests provoke."""
    if "AccountNotFound" in str(err):  # the fee payer holds no lamports at all
        return "Attempt to debit an account but found no record of a prior credit."
    if "BlockhashNotFound" in str(err):
        return "Blockhash not found"
    for line in logs:
        if "insufficient" in line.lower():
            return f"Error processing Instruction: {line}"
    return f"Error processing Instruction: {err}"


def _error_json(err) -> dict:
    """LiteSVM's error as a node writes it in meta.err, e.g. {"InstructionError": [2, {"Custom": 1}]}."""
    found = re.search(r"\((\d+), Tagged\(Custom\(InstructionErrorCustom\((\d+)\)", str(err))
    if found:
        return {"InstructionError": [int(found[1]), {"Custom": int(found[2])}]}
    return {"InstructionError": [0, "GenericError"]}


_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    text = ""
    while number:
        number, rem = divmod(number, 58)
        text = _ALPHABET[rem] + text
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + text
