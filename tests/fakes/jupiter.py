"""A local Jupiter swap API (``GET /quote``, ``POST /swap``) that settles against a FakeSolanaRpc.

Quotes come from a price table in smallest units. ``/swap`` checks the request body's shape and
returns a real solders ``VersionedTransaction`` (v0 message, fee payer = ``userPublicKey``, the
fake node's latest blockhash) that moves tokens between the user and a pool wallet with System and
SPL Token instructions LiteSVM executes. The pool signs its leg; the user's signature slot is
left empty for the wallet to fill in, as with a real aggregator transaction.

``shortfall_bps`` makes the executed swap worse than the quote (less out for ExactIn, more in for
ExactOut), so a test can tell real amounts from quoted ones. Faults: ``fault`` = "hang", "500",
"429" or "garbage" (optionally only for ``fault_paths``); ``payer_override`` builds the
transaction with someone else as fee payer; ``stale_blockhash`` builds it on an unknown blockhash;
"redirect" answers 302 to the same path (a client that follows it is not checking).

A hostile swap API: ``hostile`` = "drain" (takes twice the quoted input), "redirect" (pays the output
to another owner), "extra_sol" (adds a SOL transfer from the user), "approve" (adds an SPL approval
of the user's input account to the pool) "priority_fee" (a compute-unit price 100 times the fee
asked for), "inflated_quote" (an ExactIn quote whose inAmount is twice the amount asked) or
"short_validity" (a lastValidBlockHeight already passed).
"""

from __future__ import annotations

import base64
import json
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token import instructions as spl

from tests.fakes.server import LocalServer, send
from tests.fakes.solana_rpc import FakeSolanaRpc

SOL_MINT = "So11111111111111111111111111111111111111112"
COMPUTE_UNIT_LIMIT = 200_000
NO_ROUTE = {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}


class FakeJupiter(LocalServer):
    """Start with ``with FakeJupiter(rpc) as jupiter:``; ``jupiter.url`` is the API base."""

    def __init__(self, rpc: FakeSolanaRpc):
        self.rpc = rpc
        self.pool = Keypair()
        self.rates: dict[tuple[str, str], Fraction] = {}  # out units per in unit
        self.decimals: dict[str, int] = {SOL_MINT: 9}
        self.shortfall_bps = 0
        self.fault: str | None = None
        self.fault_paths: set[str] | None = None
        self.hang_s = 5.0
        self.payer_override: Keypair | None = None
        self.stale_blockhash = False  # build on a blockhash the node does not know
        self.hostile: str | None = None
        self.thief = Keypair()
        self.redirects_served: list[str] = []
        self.quote_requests: list[dict] = []
        self.swap_requests: list[dict] = []
        self._quotes: list[dict] = []
        rpc.airdrop(self.pool.pubkey(), 1_000 * 10**9)

    # --- lifecycle --------------------------------------------------------------------------
    def make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

            def log_message(self, *args):
                pass

        return Handler

    # --- market set-up ----------------------------------------------------------------------
    def list_token(self, mint: Pubkey | str, decimals: int, pool_amount: int) -> None:
        """Let the pool trade ``mint`` and hold ``pool_amount`` of it in its associated account."""
        mint = Pubkey.from_string(str(mint))
        self.decimals[str(mint)] = decimals
        if str(mint) != SOL_MINT:
            address = spl.get_associated_token_address(self.pool.pubkey(), mint)
            self.rpc.create_token_account(mint, self.pool.pubkey(), pool_amount, address=address)

    def set_price(self, base_mint, quote_mint, price) -> None:
        """1 base (UI units) = ``price`` quote (UI units), both directions, no spread."""
        base, quote = str(base_mint), str(quote_mint)
        rate = Fraction(str(price)) * 10 ** self.decimals[quote] / 10 ** self.decimals[base]
        self.rates[(base, quote)] = rate
        self.rates[(quote, base)] = 1 / rate

    # --- HTTP ------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, verb: str) -> None:
        url = urlparse(handler.path)
        if self.fault and (self.fault_paths is None or url.path in self.fault_paths):
            return self._fault(handler)
        if verb == "GET" and url.path == "/quote":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self.quote_requests.append(query)
            status, body = self._quote(query)
        elif verb == "POST" and url.path == "/swap":
            length = int(handler.headers.get("Content-Length") or 0)
            try:
                request = json.loads(handler.rfile.read(length))
            except ValueError:
                return self._reply(handler, 400, {"error": "Invalid JSON body"})
            self.swap_requests.append(request)
            status, body = self._swap(request)
        else:
            status, body = 404, {"error": "Not found"}
        self._reply(handler, status, body)

    def _fault(self, handler) -> None:
        if self.fault == "redirect":
            self.redirects_served.append(handler.path)
            handler.send_response(302)
            handler.send_header("Location", handler.path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if self.fault == "hang":
            time.sleep(self.hang_s)
            return self._reply(handler, 200, {})
        if self.fault == "500":
            return self._reply(handler, 500, {"error": "Internal error"})
        if self.fault == "429":
            return self._reply(handler, 429, {"error": "Too many requests"})
        return self._reply_raw(handler, 200, b"<html>oops</html>")

    def _reply(self, handler, status: int, body: dict) -> None:
        self._reply_raw(handler, status, json.dumps(body).encode())

    @staticmethod
    def _reply_raw(handler, status: int, payload: bytes) -> None:
        send(handler, status, payload)

    # --- quote and swap ----------------------------------------------------------------------
    def _quote(self, query: dict) -> tuple[int, dict]:
        required = ("inputMint", "outputMint", "amount", "slippageBps")
        if any(name not in query for name in required):
            return 400, {"error": f"Query must carry {', '.join(required)}"}
        if not query["amount"].isdigit() or int(query["amount"]) <= 0:
            return 400, {"error": "amount must be a positive integer in the token's smallest units"}
        mode = query.get("swapMode", "ExactIn")
        rate = self.rates.get((query["inputMint"], query["outputMint"]))
        if rate is None or mode not in ("ExactIn", "ExactOut"):
            return 400, NO_ROUTE
        amount = int(query["amount"])
        slippage = int(query["slippageBps"])
        if mode == "ExactIn":
            in_amount, out_amount = amount, int(amount * rate)
            threshold = out_amount * (10_000 - slippage) // 10_000
        else:
            out_amount = amount
            in_amount = int(-(-Fraction(amount) // rate))  # round up, in the pool's favour
            threshold = in_amount * (10_000 + slippage) // 10_000
        if in_amount <= 0 or out_amount <= 0:
            return 400, NO_ROUTE
        if self.hostile == "inflated_quote" and mode == "ExactIn":
            in_amount, out_amount, threshold = in_amount * 2, out_amount * 2, threshold * 2
        quote = {
            "inputMint": query["inputMint"],
            "inAmount": str(in_amount),
            "outputMint": query["outputMint"],
            "outAmount": str(out_amount),
            "otherAmountThreshold": str(threshold),
            "swapMode": mode,
            "slippageBps": slippage,
            "platformFee": None,
            "priceImpactPct": "0",
            "routePlan": [{
                "swapInfo": {
                    "ammKey": str(self.pool.pubkey()), "label": "FakeAMM",
                    "inputMint": query["inputMint"], "outputMint": query["outputMint"],
                    "inAmount": str(in_amount), "outAmount": str(out_amount),
                    "feeAmount": "0", "feeMint": query["inputMint"],
                },
                "percent": 100,
            }],
            "contextSlot": self.rpc.slot,
            "timeTaken": 0.001,
        }
        self._quotes.append(quote)
        return 200, quote

    def _swap(self, request: dict) -> tuple[int, dict]:
        quote = request.get("quoteResponse")
        if quote not in self._quotes:
            return 400, {"error": "quoteResponse must be a quote this API issued, unchanged"}
        try:
            user = Pubkey.from_string(request.get("userPublicKey") or "")
        except ValueError:
            return 400, {"error": "userPublicKey is not a valid public key"}
        if not isinstance(request.get("wrapAndUnwrapSol"), bool):
            return 400, {"error": "wrapAndUnwrapSol must be a boolean"}
        fee = request.get("prioritizationFeeLamports")
        if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
            return 400, {"error": "prioritizationFeeLamports must be a non-negative integer"}
        in_amount, out_amount = int(quote["inAmount"]), int(quote["outAmount"])
        if quote["swapMode"] == "ExactIn":
            out_amount = out_amount * (10_000 - self.shortfall_bps) // 10_000
        else:
            in_amount = in_amount * (10_000 + self.shortfall_bps) // 10_000
        payer = self.payer_override.pubkey() if self.payer_override else user
        hostile = self.hostile
        unit_price = fee * 1_000_000 // COMPUTE_UNIT_LIMIT * (100 if hostile == "priority_fee" else 1)
        in_amount *= 2 if hostile == "drain" else 1
        receiver = self.thief.pubkey() if hostile == "redirect" else user
        instructions = [
            set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
            set_compute_unit_price(unit_price),
            *self._leg(quote["inputMint"], user, self.pool.pubkey(), in_amount, payer),
            *self._leg(quote["outputMint"], self.pool.pubkey(), receiver, out_amount, payer),
        ]
        if hostile == "extra_sol":
            instructions.append(transfer(TransferParams(from_pubkey=user, to_pubkey=self.thief.pubkey(), lamports=10**8)))
        if hostile == "approve" and quote["inputMint"] != SOL_MINT:
            mint = Pubkey.from_string(quote["inputMint"])
            instructions.append(spl.approve(spl.ApproveParams(
                program_id=spl.TOKEN_PROGRAM_ID, source=spl.get_associated_token_address(user, mint),
                delegate=self.thief.pubkey(), owner=user, amount=2**64 - 1,
            )))
        blockhash = Hash.new_unique() if self.stale_blockhash else self.rpc.latest_blockhash()
        message = MessageV0.try_compile(payer, instructions, [], blockhash)
        signers = list(message.account_keys)[: message.header.num_required_signatures]
        signatures = [
            self.pool.sign_message(to_bytes_versioned(message)) if key == self.pool.pubkey() else Signature.default()
            for key in signers
        ]
        tx = VersionedTransaction.populate(message, signatures)
        return 200, {
            "swapTransaction": base64.b64encode(bytes(tx)).decode(),
            "lastValidBlockHeight": (
                self.rpc.block_height - 1 if hostile == "short_validity" else self.rpc.last_valid_block_height()
            ),
            "prioritizationFeeLamports": fee,
        }

    def _leg(self, mint: str, source_owner: Pubkey, dest_owner: Pubkey, amount: int, payer: Pubkey) -> list:
        if mint == SOL_MINT:
            return [transfer(TransferParams(from_pubkey=source_owner, to_pubkey=dest_owner, lamports=amount))]
        mint_key = Pubkey.from_string(mint)
        return [
            spl.create_idempotent_associated_token_account(payer, dest_owner, mint_key),
            spl.transfer_checked(spl.TransferCheckedParams(
                program_id=spl.TOKEN_PROGRAM_ID,
                source=spl.get_associated_token_address(source_owner, mint_key),
                mint=mint_key,
                dest=spl.get_associated_token_address(dest_owner, mint_key),
                owner=source_owner,
                amount=amount,
                decimals=self.decimals[mint],
            )),
        ]
