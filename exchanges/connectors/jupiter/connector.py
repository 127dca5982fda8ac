"""Jupiter: market swaps on Solana, signed by the account's wallet and recorded only once confirmed.

Choices:
- A sell of ``amount`` base is an ExactIn quote of ``amount`` base; a buy of ``amount`` base is an
  ExactOut quote of ``amount`` base (Jupiter prices the quote tokens to spend). The filled amount
  and price always come from the confirmed transaction's balance changes, not from the quote.
- Nothing rests on a DEX: ``cancel_order`` returns None and there are no open orders.
- The ticker and book are two quotes for a nominal size (one base token, scaled up for tokens so
  cheap that one unit would quote too coarsely), one synthetic level per side.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction_status import TransactionConfirmationStatus

from exchanges.connectors.base import (
    AssetBalance,
    Connector,
    Credentials,
    Market,
    OrderBook,
    OrderInfo,
    OrderRequest,
    Ticker,
    TradeFill,
)
from exchanges.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InvalidOrder,
    OrderNotFound,
)

from .rpc import SolanaRpc
from .settlement import Settlement, settle, sign_swap, swap_of
from .swap_api import JupiterApi
from .tokens import EXCHANGE, LAMPORTS_DECIMALS, SOL_MINT, Token, from_units, parse_tokens, to_units

MARKET_ONLY = "DEX swaps are market orders"
NO_SIGNING_KEY = "This Jupiter account has no wallet private key; it is read-only"
BAD_KEY = "The wallet private key is not a valid base58 64-byte keypair"
WRONG_KEY = "The wallet private key does not belong to the configured wallet address"
PRICE_STEP = Decimal("1e-12")
MIN_QUOTE_UNITS = 1_000_000  # below this a nominal quote is too coarse to price with
SIGNATURES_PAGE = 1_000  # the most getSignaturesForAddress returns
MAX_SIGNATURES_SCANNED = 20_000  # bounds one call on a very busy wallet
TOO_MANY_TRADES = "More than {count} wallet transactions since {since}; cannot read back that far"
NO_TRADE_TIME = "Solana RPC gave no block time for swap {signature}"
CONFIRMED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)


class JupiterConnector(Connector):
    exchange_id = EXCHANGE
    poll_interval_s = 0.4  # between getSignatureStatuses polls while confirming

    def __init__(
        self,
        credentials: Credentials,
        *,
        wallet_address: str,
        rpc_url: str,
        jupiter_url: str,
        tokens: dict,
        slippage_bps: int = 50,
        priority_fee_lamports: int = 10_000,
        timeout_s: float = 15.0,
        confirm_timeout_s: float = 60.0,
    ):
        try:
            self.wallet = Pubkey.from_string(wallet_address)
        except ValueError:
            # Not echoed: a key pasted into the wrong field must not reach a log.
            raise ExchangeError("The wallet address is not a valid Solana public key", exchange=EXCHANGE) from None
        self._keypair = _keypair(credentials.private_key, self.wallet)
        self.tokens = parse_tokens(tokens)
        self.slippage_bps = slippage_bps
        self.priority_fee_lamports = priority_fee_lamports
        self.confirm_timeout_s = confirm_timeout_s
        self.rpc = SolanaRpc(rpc_url, timeout_s)
        self.jupiter = JupiterApi(jupiter_url, timeout_s)
        self._markets: dict[str, Market] | None = None
        self._decimals: dict[str, int] = {t.mint: t.decimals for t in self.tokens.values() if t.decimals is not None}
        self._nominal_units: dict[str, int] = {}
        self._by_client_id: dict[str, str] = {}
        self._requests: dict[str, OrderRequest] = {}
        self._last_valid: dict[str, int] = {}  # signature -> block height after which it cannot land

    @property
    def timeout_s(self) -> float:
        """Each RPC and Jupiter request's timeout; the guard sets it per call kind."""
        return self.rpc.timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self.rpc.timeout_s = value
        self.jupiter.timeout_s = value

    def __repr__(self) -> str:
        return f"JupiterConnector(wallet={self.wallet}, signing={self._keypair is not None})"

    def close(self) -> None:
        self.rpc.close()
        self.jupiter.close()

    # --- markets and balances ------------------------------------------------------------------
    def load_markets(self) -> dict[str, Market]:
        if self._markets is None:
            markets = {}
            for base in self.tokens.values():
                for quote in self.tokens.values():
                    if base.symbol == quote.symbol:
                        continue
                    step = Decimal(1).scaleb(-self._token_decimals(base))
                    symbol = f"{base.symbol}/{quote.symbol}"
                    markets[symbol] = Market(
                        symbol=symbol, base=base.symbol, quote=quote.symbol,
                        exchange_symbol=f"{base.mint}/{quote.mint}",
                        price_step=PRICE_STEP, amount_step=step, min_amount=step,
                    )
            self._markets = markets
        return self._markets

    def fetch_balance(self) -> list[AssetBalance]:
        """SOL (native plus wrapped) and every SPL token the wallet holds, summed per mint, exact."""
        units = {SOL_MINT: self.rpc.balance_lamports(self.wallet)}
        decimals = {SOL_MINT: LAMPORTS_DECIMALS}
        for holding in self.rpc.token_holdings(self.wallet):
            units[holding.mint] = units.get(holding.mint, 0) + holding.amount
            decimals[holding.mint] = holding.decimals
        symbols = {t.mint: t.symbol for t in self.tokens.values()}
        return [
            AssetBalance(asset=symbols.get(mint, mint), available=from_units(amount, decimals[mint]), locked=Decimal(0))
            for mint, amount in units.items()
        ]

    # --- prices --------------------------------------------------------------------------------
    def fetch_ticker(self, symbol: str) -> Ticker:
        bid, ask, _ = self._quote_prices(symbol)
        return Ticker(symbol=symbol, bid=bid, ask=ask, last=(bid + ask) / 2, at=datetime.now(UTC))

    def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        bid, ask, size = self._quote_prices(symbol)
        return OrderBook(symbol=symbol, bids=[(bid, size)], asks=[(ask, size)], at=datetime.now(UTC))

    def _quote_prices(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        """(bid, ask, size): selling ``size`` base ExactIn, buying ``size`` base ExactOut."""
        base, quote = self._pair(symbol)
        base_dec, quote_dec = self._token_decimals(base), self._token_decimals(quote)
        nominal = self._nominal_units.get(symbol, 10**base_dec)
        sell = self._quote(base, quote, nominal, "ExactIn")
        if int(sell["outAmount"]) < MIN_QUOTE_UNITS and symbol not in self._nominal_units:
            nominal *= max(1, MIN_QUOTE_UNITS // max(int(sell["outAmount"]), 1))
            self._nominal_units[symbol] = nominal
            sell = self._quote(base, quote, nominal, "ExactIn")
        buy = self._quote(quote, base, nominal, "ExactOut")
        bid = _price(int(sell["inAmount"]), int(sell["outAmount"]), base_dec, quote_dec)
        ask = _price(int(buy["outAmount"]), int(buy["inAmount"]), base_dec, quote_dec)
        return bid, ask, from_units(nominal, base_dec)

    def _quote(self, sell: Token, buy: Token, amount: int, mode: str) -> dict:
        return self.jupiter.quote(
            input_mint=sell.mint, output_mint=buy.mint, amount=amount, slippage_bps=self.slippage_bps, swap_mode=mode
        )

    # --- orders --------------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> OrderInfo:
        """Quote, sign, send and confirm one swap; the answer carries the amounts that settled."""
        if request.kind != "market":
            raise InvalidOrder(MARKET_ONLY, exchange=EXCHANGE, symbol=request.symbol)
        if request.side not in ("buy", "sell"):
            raise InvalidOrder(f"Unknown side {request.side!r}", exchange=EXCHANGE, symbol=request.symbol)
        if self._keypair is None:
            raise AuthenticationFailed(NO_SIGNING_KEY, exchange=EXCHANGE)
        base, quote = self._pair(request.symbol)
        if request.amount <= 0:
            raise InvalidOrder("Amount must be positive", exchange=EXCHANGE, symbol=request.symbol)
        units = to_units(request.amount, self._token_decimals(base), symbol=request.symbol)
        if request.side == "sell":
            quoted = self._quote(base, quote, units, "ExactIn")
        else:
            quoted = self._quote(quote, base, units, "ExactOut")
        swap = self.jupiter.swap(
            quoted, user_public_key=str(self.wallet), priority_fee_lamports=self.priority_fee_lamports
        )
        signed = sign_swap(swap["swapTransaction"], self._keypair)
        # Remember the swap before sending: if the send times out it may still land, and a
        # lookup by client order id (the guard's) must then find it rather than swap twice.
        signature = str(signed.signatures[0])
        last_valid = swap.get("lastValidBlockHeight")
        last_valid = last_valid if isinstance(last_valid, int) and not isinstance(last_valid, bool) else None
        self._by_client_id[request.client_order_id] = signature
        self._requests[signature] = request
        if last_valid is not None:
            self._last_valid[signature] = last_valid
        try:
            self.rpc.send(signed)
        except ExchangeError as exc:
            if exc.fields.get("refused"):  # the node's preflight refused it: it will never land
                self._last_valid.pop(signature, None)
            raise
        settlement = self._await_settlement(signature, last_valid)
        if not settlement.succeeded:
            raise InvalidOrder(
                f"Swap {signature} failed on chain: {settlement.error}", exchange=EXCHANGE, signature=signature
            )
        return self._order(settlement, base, quote, request)

    def _await_settlement(self, signature: str, last_valid_block_height: int | None) -> Settlement:
        """Poll until the swap is confirmed and its transaction readable; ExchangeTimeout otherwise.

        RPC hiccups while polling are retried until the deadline: the swap is already sent.
        """
        deadline = time.monotonic() + self.confirm_timeout_s
        expired = False
        while True:
            settlement, passed = None, False
            try:
                settlement = self._confirmed_settlement(signature)
                if settlement is None and not expired and last_valid_block_height is not None:
                    passed = self.rpc.block_height() > last_valid_block_height
            except ExchangeUnavailable:
                pass
            if settlement is not None:
                return settlement
            if expired:  # the status was looked at once more after expiry: it did not land
                raise ExchangeTimeout(
                    f"Swap {signature} expired unconfirmed: block height passed {last_valid_block_height}",
                    exchange=EXCHANGE, signature=signature,
                )
            expired = passed
            if time.monotonic() + self.poll_interval_s > deadline:
                raise ExchangeTimeout(
                    f"Swap {signature} not confirmed within {self.confirm_timeout_s}s",
                    exchange=EXCHANGE, signature=signature,
                )
            time.sleep(self.poll_interval_s)

    def _confirmed_settlement(self, signature: str) -> Settlement | None:
        status = self.rpc.signature_status(signature)
        if status is None or (status.err is None and status.confirmation_status not in CONFIRMED):
            return None
        confirmed = self.rpc.transaction(signature)
        return settle(signature, confirmed, self.wallet) if confirmed is not None else None

    def _order(self, settlement: Settlement, base: Token, quote: Token, request: OrderRequest | None) -> OrderInfo:
        swap = swap_of(settlement, base.mint, quote.mint) if settlement.succeeded else None
        base_dec, quote_dec = self._token_decimals(base), self._token_decimals(quote)
        filled = from_units(swap.base_units, base_dec) if swap else Decimal(0)
        side = swap.side if swap else (request.side if request else "")
        return OrderInfo(
            exchange_order_id=settlement.signature,
            client_order_id=request.client_order_id if request else "",
            symbol=f"{base.symbol}/{quote.symbol}",
            side=side,
            kind="market",
            amount=request.amount if request else filled,
            price=_price(swap.base_units, swap.quote_units, base_dec, quote_dec) if swap else None,
            filled=filled,
            status="filled" if swap else "rejected",
            created_at=settlement.block_time,
        )

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        return None  # a swap either settled or never will; nothing rests on a DEX

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        return []

    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo:
        """Rebuild a swap from its transaction (signature = exchange_order_id)."""
        base, quote = self._pair(symbol)
        signature = exchange_order_id or self._by_client_id.get(client_order_id, "")
        if not signature:
            raise OrderNotFound(f"No swap known for client order id {client_order_id!r}", exchange=EXCHANGE)
        request = self._requests.get(signature)
        try:
            confirmed = self.rpc.transaction(signature)
        except ValueError:
            raise OrderNotFound(f"{signature!r} is not a transaction signature", exchange=EXCHANGE) from None
        if confirmed is None:
            if self.rpc.signature_status(signature) is None and not self._may_land(signature):
                raise OrderNotFound(f"Solana does not know transaction {signature}", exchange=EXCHANGE)
            return OrderInfo(
                exchange_order_id=signature, client_order_id=request.client_order_id if request else client_order_id,
                symbol=symbol, side=request.side if request else "", kind="market",
                amount=request.amount if request else Decimal(0), price=None, filled=Decimal(0), status="open",
            )
        return self._order(settle(signature, confirmed, self.wallet), base, quote, request)

    def _may_land(self, signature: str) -> bool:
        """True while a swap we sent is unseen but its blockhash has not expired yet."""
        last_valid = self._last_valid.get(signature)
        return last_valid is not None and self.rpc.block_height() <= last_valid

    def fetch_my_trades(self, symbol: str, since: datetime | None = None, limit: int = 500) -> list[TradeFill]:
        """The wallet's confirmed swaps of this pair at settled amounts, oldest first.

        With ``since``: the first ``limit`` swaps at or after it (ExchangeError ``too_many_trades``
        if that reaches back too far; stops before a listed transaction not readable yet), so a
        cursor advanced to the last fill misses none. Without: among the newest ``limit``. A swap
        without a block time is ExchangeUnavailable, never stamped "now".
        """
        base, quote = self._pair(symbol)
        base_dec, quote_dec = self._token_decimals(base), self._token_decimals(quote)
        fills: list[TradeFill] = []
        for signature, seen_at in self._signatures_since(since, limit):
            confirmed = self.rpc.transaction(signature)
            if confirmed is None:
                break  # listed, not readable yet: a cursor at the last fill returned must not pass it
            settlement = settle(signature, confirmed, self.wallet)
            swap = swap_of(settlement, base.mint, quote.mint) if settlement.succeeded else None
            if swap is None:
                continue
            traded_at = settlement.block_time or seen_at
            if traded_at is None:  # "now" would misplace the fill, and a cursor with it
                raise ExchangeUnavailable(NO_TRADE_TIME.format(signature=signature), exchange=EXCHANGE)
            if since is not None and traded_at < since:
                continue  # listed without a time; its transaction says it is older
            fills.append(TradeFill(
                exchange_trade_id=signature,
                order_id=signature,
                symbol=symbol,
                side=swap.side,
                amount=from_units(swap.base_units, base_dec),
                price=_price(swap.base_units, swap.quote_units, base_dec, quote_dec),
                cost=from_units(swap.quote_units, quote_dec),
                fee=from_units(settlement.fee_lamports, LAMPORTS_DECIMALS),
                fee_currency="SOL",
                traded_at=traded_at,
            ))
            if len(fills) >= limit:
                break
        return fills

    def _signatures_since(self, since: datetime | None, limit: int) -> list[tuple[str, datetime | None]]:
        """Successful signatures touching the wallet, oldest first (the node pages newest first).
        With ``since``: all at or after it, or ExchangeError ``too_many_trades`` past
        MAX_SIGNATURES_SCANNED. Without: the newest ``limit``."""
        rows: list[tuple[str, datetime | None]] = []
        before = None
        scanned = 0
        while True:
            page = self.rpc.signatures(self.wallet, before=before, limit=SIGNATURES_PAGE)
            for row in page:
                seen_at = datetime.fromtimestamp(row.block_time, UTC) if row.block_time else None
                if since is not None and seen_at is not None and seen_at < since:
                    return rows[::-1]
                if row.err is None:
                    rows.append((str(row.signature), seen_at))
            scanned += len(page)
            if len(page) < SIGNATURES_PAGE or (since is None and len(rows) >= limit):
                break
            if scanned >= MAX_SIGNATURES_SCANNED:
                if since is None:
                    break
                raise ExchangeError(
                    TOO_MANY_TRADES.format(count=scanned, since=since.isoformat()), exchange=EXCHANGE,
                    code="too_many_trades",
                )
            before = str(page[-1].signature)
        return (rows if since is not None else rows[:limit])[::-1]

    # --- helpers -------------------------------------------------------------------------------
    def _pair(self, symbol: str) -> tuple[Token, Token]:
        base, _, quote = symbol.partition("/")
        if base not in self.tokens or quote not in self.tokens or base == quote:
            raise InvalidOrder(f"Unknown market {symbol}", exchange=EXCHANGE, symbol=symbol)
        return self.tokens[base], self.tokens[quote]

    def _token_decimals(self, token: Token) -> int:
        if token.mint not in self._decimals:
            self._decimals[token.mint] = self.rpc.mint_decimals(Pubkey.from_string(token.mint))
        return self._decimals[token.mint]


def _keypair(private_key: str, wallet: Pubkey) -> Keypair | None:
    """The wallet's Keypair from its base58 secret; errors never echo the secret."""
    if not private_key:
        return None
    try:
        keypair = Keypair.from_base58_string(private_key.strip())
    except Exception:  # solders says why in its message, which may quote the key: never re-raise it
        keypair = None
    if keypair is None:
        raise AuthenticationFailed(BAD_KEY, exchange=EXCHANGE)
    if keypair.pubkey() != wallet:
        raise AuthenticationFailed(WRONG_KEY, exchange=EXCHANGE, wallet=str(wallet))
    return keypair


def _price(base_units: int, quote_units: int, base_decimals: int, quote_decimals: int) -> Decimal:
    """Quote per base in UI units, from exact smallest-unit amounts."""
    return from_units(quote_units, quote_decimals) / from_units(base_units, base_decimals)
