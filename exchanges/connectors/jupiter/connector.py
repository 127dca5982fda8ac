"""Jupiter: market swaps on Solana, signed by the account's wallet and recorded only once confirmed.

Choices:
- A sell of ``amount`` base is an ExactIn quote of ``amount`` base; a buy of ``amount`` base is an
  ExactOut quote of ``amount`` base (Jupiter prices the quote tokens to spend). The filled amount
  and price always come from the confirmed transaction's balance changes, not from the quote.
- Nothing rests on a DEX: ``cancel_order`` returns None; the only "open" orders are sent swaps
  that may still land.
- The ticker and book are two quotes for a nominal size (one base token, scaled up for tokens so
  cheap that one unit would quote too coarsely), one synthetic level per side.
- A sent swap is written to the injected ``SwapStore`` before it is sent (the registry's is the
  ``PendingSwap`` table), so any later connector answers for it by client order id or signature:
  "open" while it may land, its settled amounts once it has, ``OrderNotFound`` only once its
  blockhash expired unseen (or the node refused it). ``fetch_open_orders`` lists those still open.
  A client order id is refused while its swap landed or may land, and free again after that.
- Token decimals are the mint's, read from the chain; configured decimals that disagree are refused
  (ExchangeError ``token_decimals`` naming the mint) before anything is quoted.
- Every swap's network fee is reported in SOL: ``OrderInfo.fee``/``fee_currency`` (filled or
  rejected), and on a swap that failed on chain the InvalidOrder's ``fee``/``fee_currency`` fields
  (with ``signature``): it paid the fee though it traded nothing. ``fetch_my_trades`` lists such a
  swap (one we sent, of that pair) as a fee-only fill: amount, price and cost 0, the fee in SOL.
- Before the wallet signs, the swap API's transaction is checked against the quote (checks.py);
  the RPC and swap API URLs must pass ``exchanges.endpoints.check_endpoint_url``.
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
from exchanges.endpoints import check_endpoint_url
from exchanges.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InvalidOrder,
    OrderNotFound,
)

from .checks import Limits, check_instructions, check_movements, watched_accounts
from .rpc import SolanaRpc
from .settlement import Settlement, decode_swap, settle, sign, swap_of
from .swap_api import JupiterApi
from .swaps import (
    EXPIRED,
    FAILED,
    LANDED,
    NEVER_LANDS,
    PENDING,
    REFUSED,
    SETTLED,
    DuplicateSwap,
    MemorySwapStore,
    SentSwap,
    SwapStore,
)
from .tokens import EXCHANGE, LAMPORTS_DECIMALS, SOL_MINT, Token, from_units, parse_tokens, to_units

MARKET_ONLY = "DEX swaps are market orders"
NO_SIGNING_KEY = "This Jupiter account has no wallet private key; it is read-only"
BAD_KEY = "The wallet private key is not a valid base58 64-byte keypair"
WRONG_KEY = "The wallet private key does not belong to the configured wallet address"
PRICE_STEP = Decimal("1e-12")
MIN_QUOTE_UNITS = 1_000_000  # below this a nominal quote is too coarse to price with
SIGNATURES_PAGE = 1_000  # the most getSignaturesForAddress returns
MAX_SIGNATURES_SCANNED = 20_000  # bounds one call on a very busy wallet
# A blockhash is valid for 150 blocks after its own; ours may come from a block up to ~32 ahead
# of the confirmed height we read.
BLOCKHASH_LIFETIME_BLOCKS = 150 + 32
MAX_ACCOUNTS_PER_CALL = 100  # getMultipleAccounts' and simulateTransaction's limit on a real node
TOO_MANY_TRADES = "More than {count} wallet transactions since {since}; cannot read back that far"
NO_TRADE_TIME = "Solana RPC gave no block time for swap {signature}"
CONFIRMED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)
DECIMALS_MISMATCH = "Token {symbol} is configured with {configured} decimals but its mint {mint} has {chain}"
DUPLICATE_CLIENT_ID = "This client order id belongs to a swap that landed or may still land"
MOVED_WHILE_CHECKING = "The wallet's balances changed while its swap was being checked; try again"
LANDED_UNREADABLE = "Swap {signature} landed but the Solana RPC does not return it now"


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
        swaps: SwapStore | None = None,
    ):
        rpc_url, jupiter_url = _endpoint(rpc_url, "rpc_url"), _endpoint(jupiter_url, "api_url")
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
        self.swaps: SwapStore = swaps if swaps is not None else MemorySwapStore()
        self._markets: dict[str, Market] | None = None
        self._decimals: dict[str, int] = {SOL_MINT: LAMPORTS_DECIMALS}  # read from the chain, checked
        self._nominal_units: dict[str, int] = {}

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
        """Quote, check, sign, record, send and confirm one swap; the answer has the amounts that settled."""
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
        self._token_decimals(quote)  # a misconfigured quote token is refused before anything is sent
        self._refuse_used_client_id(request, base, quote)
        if request.side == "sell":
            quoted, mode = self._quote(base, quote, units, "ExactIn"), "ExactIn"
        else:
            quoted, mode = self._quote(quote, base, units, "ExactOut"), "ExactOut"
        limits = Limits.of(quoted, mode=mode, units=units, slippage_bps=self.slippage_bps)
        swap = self.jupiter.swap(
            quoted, user_public_key=str(self.wallet), priority_fee_lamports=self.priority_fee_lamports
        )
        tx = decode_swap(swap["swapTransaction"], self.wallet)
        self._check_swap(tx, limits)
        signed = sign(tx, self._keypair)
        signature = str(signed.signatures[0])
        # The swap API's lastValidBlockHeight is not trusted: one claimed too low would have the
        # swap called expired while it can still land, and retried. No blockhash valid now outlives this.
        last_valid = self.rpc.block_height() + BLOCKHASH_LIFETIME_BLOCKS
        sent = SentSwap(
            signature=signature, client_order_id=request.client_order_id, symbol=request.symbol,
            side=request.side, amount=request.amount, last_valid_block_height=last_valid,
        )
        # Recorded before sending: if the send times out or this process dies, the swap may still
        # land, and any lookup (the guard's, the next task's) must find it rather than swap twice.
        try:
            self.swaps.add(sent)
        except DuplicateSwap as taken:  # another worker placed this client order id meanwhile
            raise self._duplicate(request, str(taken)) from None
        try:
            self.rpc.send(signed)
        except ExchangeError as exc:
            if exc.fields.get("refused"):  # the node's preflight refused it: it will never land
                self.swaps.settle(signature, REFUSED)
            raise
        settlement = self._await_settlement(signature, sent.last_valid_block_height)
        self.swaps.settle(signature, LANDED if settlement.succeeded else FAILED, settlement.fee_lamports)
        if not settlement.succeeded:
            raise InvalidOrder(
                f"Swap {signature} failed on chain: {settlement.error}", exchange=EXCHANGE, signature=signature,
                fee=from_units(settlement.fee_lamports, LAMPORTS_DECIMALS), fee_currency="SOL",
            )
        return self._order(settlement, base, quote, sent)

    def _refuse_used_client_id(self, request: OrderRequest, base: Token, quote: Token) -> None:
        """InvalidOrder if the client order id's swap landed or may still land."""
        if not request.client_order_id:
            return
        known = self.swaps.get(client_order_id=request.client_order_id)
        if known is None or known.state in NEVER_LANDS:
            return
        if known.state == PENDING and self._lookup(known.signature, known, request.symbol, base, quote) is None:
            return  # it expired unseen just now
        raise self._duplicate(request, known.signature)

    def _duplicate(self, request: OrderRequest, signature: str) -> InvalidOrder:
        return InvalidOrder(
            f"{DUPLICATE_CLIENT_ID}: {signature}", exchange=EXCHANGE, code="duplicate_client_order_id",
            symbol=request.symbol, signature=signature,
        )

    def _check_swap(self, tx, limits: Limits) -> None:
        """Refuse a transaction that does more than the quote (see checks.py); sends nothing."""
        max_fee = check_instructions(tx, self.priority_fee_lamports)
        holdings = [holding.address for holding in self.rpc.token_holdings(self.wallet)]
        watched = watched_accounts(self.wallet, holdings, limits)
        before, after, same_slot = [], [], True
        # A node reads and simulates at most MAX_ACCOUNTS_PER_CALL accounts at once; a wallet full
        # of airdropped tokens holds more.
        for start in range(0, len(watched), MAX_ACCOUNTS_PER_CALL):
            chunk = watched[start : start + MAX_ACCOUNTS_PER_CALL]
            slot_before, accounts = self.rpc.accounts(chunk)
            slot_after, err, simulated = self.rpc.simulate(tx, chunk)
            if err is not None or simulated is None:
                return  # it would fail: the node's preflight says why, and a failure moves only the fee
            before += accounts
            after += simulated
            same_slot = same_slot and slot_before == slot_after
        try:
            check_movements(self.wallet, watched, before, after, limits, max_fee)
        except InvalidOrder:
            # Read at another slot, the difference may be the wallet's other activity (a swap of
            # another bot): refuse only if nothing moved, else let it be tried again.
            if not same_slot and self._accounts(watched) != before:
                raise ExchangeUnavailable(MOVED_WHILE_CHECKING, exchange=EXCHANGE) from None
            raise

    def _accounts(self, addresses: list) -> list:
        found = []
        for start in range(0, len(addresses), MAX_ACCOUNTS_PER_CALL):
            found += self.rpc.accounts(addresses[start : start + MAX_ACCOUNTS_PER_CALL])[1]
        return found

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
                self.swaps.settle(signature, EXPIRED)
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

    def _order(self, settlement: Settlement, base: Token, quote: Token, sent: SentSwap | None) -> OrderInfo:
        swap = swap_of(settlement, base.mint, quote.mint) if settlement.succeeded else None
        base_dec, quote_dec = self._settled_decimals(settlement, base), self._settled_decimals(settlement, quote)
        filled = from_units(swap.base_units, base_dec) if swap else Decimal(0)
        side = swap.side if swap else (sent.side if sent else "")
        return OrderInfo(
            exchange_order_id=settlement.signature,
            client_order_id=sent.client_order_id if sent else "",
            symbol=f"{base.symbol}/{quote.symbol}",
            side=side,
            kind="market",
            amount=sent.amount if sent else filled,
            price=_price(swap.base_units, swap.quote_units, base_dec, quote_dec) if swap else None,
            filled=filled,
            status="filled" if swap else "rejected",
            created_at=settlement.block_time,
            fee=from_units(settlement.fee_lamports, LAMPORTS_DECIMALS),
            fee_currency="SOL",
        )

    def _pending(self, sent: SentSwap, symbol: str) -> OrderInfo:
        return OrderInfo(
            exchange_order_id=sent.signature, client_order_id=sent.client_order_id, symbol=symbol, side=sent.side,
            kind="market", amount=sent.amount, price=None, filled=Decimal(0), status="open",
        )

    def cancel_order(self, symbol: str, exchange_order_id: str) -> OrderInfo | None:
        return None  # a swap either settles or expires; nothing rests on a DEX

    def fetch_open_orders(self, symbol: str) -> list[OrderInfo]:
        """Swaps of this pair sent (by any process) that may still land."""
        base, quote = self._pair(symbol)
        found = []
        for sent in self.swaps.pending(symbol):
            info = self._lookup(sent.signature, sent, symbol, base, quote)
            if info is not None and info.status == "open":
                found.append(info)
        return found

    def fetch_order(self, symbol: str, exchange_order_id: str = "", client_order_id: str = "") -> OrderInfo:
        """Rebuild a swap from its transaction (signature = exchange_order_id), or from the record of
        sent swaps while it may still land; OrderNotFound only once it cannot."""
        base, quote = self._pair(symbol)
        if exchange_order_id:
            sent = self.swaps.get(signature=exchange_order_id)
        else:
            sent = self.swaps.get(client_order_id=client_order_id) if client_order_id else None
        signature = exchange_order_id or (sent.signature if sent else "")
        if not signature:
            raise OrderNotFound(f"No swap known for client order id {client_order_id!r}", exchange=EXCHANGE)
        info = self._lookup(signature, sent, symbol, base, quote)
        if info is None:
            raise OrderNotFound(f"Swap {signature} did not land and no longer can", exchange=EXCHANGE)
        return info

    def _lookup(self, signature: str, sent: SentSwap | None, symbol: str, base: Token, quote: Token) -> OrderInfo | None:
        """The swap as it stands, or None once it cannot land; keeps the store up to date."""
        try:
            confirmed = self.rpc.transaction(signature)
        except ValueError:
            raise OrderNotFound(f"{signature!r} is not a transaction signature", exchange=EXCHANGE) from None
        if confirmed is not None:
            settlement = settle(signature, confirmed, self.wallet)
            if sent is not None and sent.state not in SETTLED:
                self.swaps.settle(signature, LANDED if settlement.succeeded else FAILED, settlement.fee_lamports)
            return self._order(settlement, base, quote, sent)
        if sent is None:  # not one we sent: only the node can say
            if self.rpc.signature_status(signature) is None:
                return None
            return OrderInfo(
                exchange_order_id=signature, client_order_id="", symbol=symbol, side="", kind="market",
                amount=Decimal(0), price=None, filled=Decimal(0), status="open",
            )
        if sent.state in NEVER_LANDS:
            return None
        if sent.state in SETTLED:
            raise ExchangeUnavailable(LANDED_UNREADABLE.format(signature=signature), exchange=EXCHANGE)
        # The height first: if it is past the last valid one, a status read after it shows any landing.
        if self.rpc.block_height() > sent.last_valid_block_height and self.rpc.signature_status(signature) is None:
            self.swaps.settle(signature, EXPIRED)
            return None
        return self._pending(sent, symbol)

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
            if not settlement.succeeded:
                fee_only = self._failed_swap_fee(settlement, symbol, seen_at)
                if fee_only is not None and (since is None or fee_only.traded_at >= since):
                    fills.append(fee_only)
                    if len(fills) >= limit:
                        break
                continue
            swap = swap_of(settlement, base.mint, quote.mint)
            if swap is None:
                continue
            base_dec, quote_dec = self._settled_decimals(settlement, base), self._settled_decimals(settlement, quote)
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

    def _failed_swap_fee(self, settlement: Settlement, symbol: str, seen_at: datetime | None) -> TradeFill | None:
        """A swap of ours on this pair that failed on chain: a fee-only fill (amount 0, its network fee).

        Only swaps this platform sent (the swap store knows their pair and side) are the bot's;
        another failed transaction of the wallet is not.
        """
        sent = self.swaps.get(signature=settlement.signature)
        if sent is None or sent.symbol != symbol or not settlement.fee_lamports:
            return None
        traded_at = settlement.block_time or seen_at
        if traded_at is None:
            raise ExchangeUnavailable(NO_TRADE_TIME.format(signature=settlement.signature), exchange=EXCHANGE)
        return TradeFill(
            exchange_trade_id=settlement.signature, order_id=settlement.signature, symbol=symbol, side=sent.side,
            amount=Decimal(0), price=Decimal(0), cost=Decimal(0),
            fee=from_units(settlement.fee_lamports, LAMPORTS_DECIMALS), fee_currency="SOL", traded_at=traded_at,
        )

    def _signatures_since(self, since: datetime | None, limit: int) -> list[tuple[str, datetime | None]]:
        """Signatures touching the wallet, failed ones too, oldest first (the node pages newest first).
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
                # failed ones too: a failed swap of ours still paid its network fee
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
        """The mint's decimals from the chain (once per connector); configured ones must agree.

        A token configured as 9 decimals whose mint has 6 would trade 1,000 times the amount asked.
        """
        if token.mint not in self._decimals:
            chain = self.rpc.mint_decimals(Pubkey.from_string(token.mint))
            self._refuse_other_decimals(token, chain)
            self._decimals[token.mint] = chain
        decimals = self._decimals[token.mint]
        self._refuse_other_decimals(token, decimals)
        return decimals

    def _settled_decimals(self, settlement: Settlement, token: Token) -> int:
        """The token's decimals, checked against what the settled transaction says of its mint."""
        decimals = self._token_decimals(token)
        seen = settlement.decimals.get(token.mint)
        if seen is not None and seen != decimals:
            raise self._decimals_error(token, decimals, seen)
        return decimals

    def _refuse_other_decimals(self, token: Token, chain: int) -> None:
        if token.decimals is not None and token.decimals != chain:
            raise self._decimals_error(token, token.decimals, chain)

    def _decimals_error(self, token: Token, configured: int, chain: int) -> ExchangeError:
        return ExchangeError(
            DECIMALS_MISMATCH.format(symbol=token.symbol, configured=configured, mint=token.mint, chain=chain),
            exchange=EXCHANGE, code="token_decimals", mint=token.mint,
        )


def _endpoint(url: str, name: str) -> str:
    """The URL if requests may go there (exchanges.endpoints); the error names the option, never
    the URL, which may hold an API key."""
    try:
        return check_endpoint_url(url, name)
    except ValueError as exc:
        raise ExchangeError(str(exc), exchange=EXCHANGE, code="endpoint_refused") from None


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
