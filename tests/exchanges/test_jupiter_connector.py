"""Jupiter swaps: quoted by the local Jupiter, signed by the wallet, settled by a LiteSVM node."""

import base64
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.jupiter import DEFAULT_TOKENS, MARKET_ONLY, SOL_MINT, JupiterConnector
from exchanges.connectors.jupiter.connector import BAD_KEY, NO_SIGNING_KEY, WRONG_KEY
from exchanges.connectors.jupiter.settlement import FOREIGN_PAYER
from exchanges.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)
from tests.fakes.jupiter import FakeJupiter
from tests.fakes.solana_rpc import FakeSolanaRpc

SOL_PRICE = Decimal("150.25")


@pytest.fixture
def rpc():
    with FakeSolanaRpc(pending_polls=3) as node:
        node.set_mint(Pubkey.from_string(DEFAULT_TOKENS["USDT"]["mint"]), 6)  # a default token, as on mainnet
        yield node


@pytest.fixture
def jupiter(rpc):
    with FakeJupiter(rpc) as api:
        yield api


@pytest.fixture
def wallet(rpc):
    keypair = Keypair()
    rpc.airdrop(keypair.pubkey(), 5 * 10**9)
    return keypair


@pytest.fixture
def usdc(rpc, jupiter):
    mint = rpc.create_mint(6)
    jupiter.list_token(mint, 6, 10**12)
    jupiter.set_price(SOL_MINT, mint, SOL_PRICE)
    return mint


def make(rpc, jupiter, wallet, usdc, *, private_key=None, **options) -> JupiterConnector:
    options = {"timeout_s": 2.0, "confirm_timeout_s": 5.0, **options}
    conn = JupiterConnector(
        Credentials(private_key=str(wallet) if private_key is None else private_key),
        wallet_address=str(wallet.pubkey()),
        rpc_url=rpc.url,
        jupiter_url=jupiter.url,
        tokens={"USDC": {"mint": str(usdc), "decimals": 6}},
        **options,
    )
    conn.poll_interval_s = 0.02
    return conn


def order(side="sell", amount="1.5", kind="market", symbol="SOL/USDC", price=None, client_order_id="c1"):
    return OrderRequest(
        symbol=symbol, side=side, kind=kind, amount=Decimal(amount), client_order_id=client_order_id,
        price=None if price is None else Decimal(price),
    )


def balances(conn) -> dict[str, Decimal]:
    return {row.asset: row.total for row in conn.fetch_balance()}


def test_sell_is_signed_by_the_wallet_confirmed_after_polls_and_recorded_at_settled_amounts(rpc, jupiter, wallet, usdc):
    jupiter.shortfall_bps = 25  # the pool pays 0.25% less than it quoted
    conn = make(rpc, jupiter, wallet, usdc)

    info = conn.create_order(order("sell", "1.5"))

    quoted_out = 1_500_000_000 * 150_250_000 // 10**9  # 225.375 USDC in units
    settled_out = quoted_out * (10_000 - 25) // 10_000
    assert info.status == "filled" and info.side == "sell" and info.kind == "market"
    assert info.filled == Decimal("1.5")
    assert info.price == Decimal(settled_out) / Decimal(10**6) / Decimal("1.5")
    assert info.price != SOL_PRICE  # not the quote
    assert info.exchange_order_id in rpc.sent and info.client_order_id == "c1"
    assert balances(conn)["USDC"] == Decimal(settled_out).scaleb(-6)
    # The wallet's signature is what the node verified; the pool signed its own leg.
    tx = VersionedTransaction.from_bytes(base64.b64decode(rpc.calls[rpc.methods_called().index("sendTransaction")][1][0]))
    assert tx.message.account_keys[0] == wallet.pubkey() and all(tx.verify_with_results())
    assert str(tx.signatures[0]) == info.exchange_order_id
    statuses = rpc.methods_called().count("getSignatureStatuses")
    assert statuses == 4  # pending 3 times, then confirmed
    assert jupiter.quote_requests[-1] == {
        "inputMint": SOL_MINT, "outputMint": str(usdc), "amount": "1500000000", "slippageBps": "50", "swapMode": "ExactIn",
    }
    body = jupiter.swap_requests[-1]
    assert body["userPublicKey"] == str(wallet.pubkey())
    assert body["wrapAndUnwrapSol"] is True and body["prioritizationFeeLamports"] == 10_000


def test_buy_quotes_exact_out_and_records_the_quote_token_really_spent(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 0, address=_ata(wallet, usdc))
    conn = make(rpc, jupiter, wallet, usdc)
    conn.create_order(order("sell", "2", client_order_id="s"))
    jupiter.shortfall_bps = 40  # the pool takes 0.4% more than it quoted
    before = balances(conn)

    info = conn.create_order(order("buy", "0.5", client_order_id="b"))

    spent = 75_125_000 * (10_000 + 40) // 10_000
    after = balances(conn)
    assert jupiter.quote_requests[-1]["swapMode"] == "ExactOut"
    assert jupiter.quote_requests[-1]["amount"] == "500000000"
    assert info.side == "buy" and info.filled == Decimal("0.5")
    assert info.price == Decimal(spent).scaleb(-6) / Decimal("0.5")
    assert before["USDC"] - after["USDC"] == Decimal(spent).scaleb(-6)
    # SOL rises by the bought amount less the network fee, which the fill does not include.
    assert after["SOL"] - before["SOL"] == Decimal("0.5") - Decimal("0.00001")


def test_swap_that_never_confirms_raises_timeout_with_its_signature_within_budget(rpc, jupiter, wallet, usdc):
    rpc.never_confirm = True
    conn = make(rpc, jupiter, wallet, usdc, confirm_timeout_s=0.6)
    started = time.monotonic()
    with pytest.raises(ExchangeTimeout) as caught:
        conn.create_order(order("sell", "1"))
    assert time.monotonic() - started < 2.0
    (signature,) = rpc.sent
    assert signature in str(caught.value) and caught.value.fields["signature"] == signature
    assert conn.fetch_my_trades("SOL/USDC") == []  # unconfirmed: not a trade
    rpc.never_confirm, rpc.pending_polls = False, 0
    assert [fill.order_id for fill in conn.fetch_my_trades("SOL/USDC")] == [signature]  # landed late: now it is


def test_swap_past_its_last_valid_block_height_raises_timeout_early(rpc, jupiter, wallet, usdc):
    rpc.never_confirm = True
    rpc.blocks_per_height_call = 200  # each getBlockHeight jumps past lastValidBlockHeight (+150)
    conn = make(rpc, jupiter, wallet, usdc, confirm_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(ExchangeTimeout, match="expired unconfirmed"):
        conn.create_order(order("sell", "1"))
    assert time.monotonic() - started < 1.0
    assert rpc.methods_called().count("getSignatureStatuses") == 2  # one more look after expiry


def test_rpc_error_while_confirming_is_retried(rpc, jupiter, wallet, usdc):
    rpc.fault, rpc.fault_methods = "500", {"getBlockHeight"}
    rpc.fault_spare = 1  # the height read before sending answers; every one while confirming fails
    info = make(rpc, jupiter, wallet, usdc).create_order(order("sell", "1"))
    assert info.status == "filled"
    assert rpc.methods_called().count("getBlockHeight") > 1


def test_no_height_before_sending_sends_nothing_and_is_retryable(rpc, jupiter, wallet, usdc):
    rpc.fault, rpc.fault_methods = "500", {"getBlockHeight"}
    with pytest.raises(ExchangeUnavailable) as caught:
        make(rpc, jupiter, wallet, usdc).create_order(order("sell", "1"))
    assert caught.value.retryable and "sendTransaction" not in rpc.methods_called()


def test_no_route_is_invalid_order_with_jupiters_message(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    with pytest.raises(InvalidOrder, match="Could not find any route") as caught:
        conn.create_order(order("sell", "1", symbol="USDT/USDC"))
    assert caught.value.exchange_code == "COULD_NOT_FIND_ANY_ROUTE"
    assert "sendTransaction" not in rpc.methods_called()


def test_limit_orders_are_refused(rpc, jupiter, wallet, usdc):
    with pytest.raises(InvalidOrder, match=MARKET_ONLY):
        make(rpc, jupiter, wallet, usdc).create_order(order(kind="limit", price="150"))
    assert jupiter.quote_requests == []


def test_amount_finer_than_the_base_token_is_refused(rpc, jupiter, wallet, usdc):
    with pytest.raises(InvalidOrder, match="more than 6 decimals"):
        make(rpc, jupiter, wallet, usdc).create_order(order(symbol="USDC/SOL", amount="1.0000001"))


def test_transaction_with_another_fee_payer_is_not_signed(rpc, jupiter, wallet, usdc):
    jupiter.payer_override = Keypair()
    with pytest.raises(InvalidOrder, match=FOREIGN_PAYER):
        make(rpc, jupiter, wallet, usdc).create_order(order())
    assert "sendTransaction" not in rpc.methods_called()


def test_insufficient_lamports_is_insufficient_funds(rpc, jupiter, wallet, usdc):
    with pytest.raises(InsufficientFunds, match="insufficient lamports"):
        make(rpc, jupiter, wallet, usdc).create_order(order("sell", "50"))
    assert rpc.sent == {}


def test_insufficient_token_balance_is_insufficient_funds(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet, usdc))
    with pytest.raises(InsufficientFunds, match="insufficient funds"):
        make(rpc, jupiter, wallet, usdc).create_order(order("sell", "10", symbol="USDC/SOL"))


def test_fee_payer_without_lamports_is_insufficient_funds(rpc, jupiter, usdc):
    broke = Keypair()
    rpc.create_token_account(usdc, broke.pubkey(), 5_000_000, address=_ata(broke, usdc))
    with pytest.raises(InsufficientFunds, match="no record of a prior credit"):
        make(rpc, jupiter, broke, usdc).create_order(order("sell", "1", symbol="USDC/SOL"))


def test_unconfirmed_swap_is_found_open_by_client_order_id_until_its_blockhash_expires(rpc, jupiter, wallet, usdc):
    """What the guard's retry relies on: never report 'not found' for a swap that may still land."""
    rpc.never_confirm = True
    conn = make(rpc, jupiter, wallet, usdc, confirm_timeout_s=0.2)
    with pytest.raises(ExchangeTimeout):
        conn.create_order(order("sell", "1", client_order_id="retry-me"))
    (signature,) = rpc.sent

    pending = conn.fetch_order("SOL/USDC", client_order_id="retry-me")
    assert (pending.status, pending.exchange_order_id, pending.filled) == ("open", signature, 0)

    rpc.blocks_per_height_call = 1_000  # its lastValidBlockHeight passes
    with pytest.raises(OrderNotFound):
        conn.fetch_order("SOL/USDC", client_order_id="retry-me")

    rpc.never_confirm, rpc.pending_polls = False, 0  # (a node that saw it after all)
    landed = conn.fetch_order("SOL/USDC", client_order_id="retry-me")
    assert (landed.status, landed.filled, landed.client_order_id) == ("filled", Decimal(1), "retry-me")


def test_guarded_swap_that_times_out_is_returned_open_and_sent_once(rpc, jupiter, wallet, usdc):
    from exchanges.guard import GuardedConnector

    rpc.never_confirm = True
    guarded = GuardedConnector(make(rpc, jupiter, wallet, usdc, confirm_timeout_s=0.3), account_id=1)

    placed = guarded.create_order(order("sell", "1", client_order_id="once"))

    assert (placed.status, placed.client_order_id) == ("open", "once")
    assert rpc.methods_called().count("sendTransaction") == 1 and placed.exchange_order_id in rpc.sent


def test_swap_refused_for_a_stale_blockhash_is_retryable_and_known_not_to_land(rpc, jupiter, wallet, usdc):
    jupiter.stale_blockhash = True
    conn = make(rpc, jupiter, wallet, usdc)
    with pytest.raises(ExchangeUnavailable, match="Blockhash not found") as caught:
        conn.create_order(order("sell", "1", client_order_id="stale"))
    assert caught.value.retryable and caught.value.fields["refused"] is True
    with pytest.raises(OrderNotFound):  # so a retry cannot swap twice
        conn.fetch_order("SOL/USDC", client_order_id="stale")


def test_swap_failing_on_chain_is_rejected_and_only_its_fee_is_a_fill(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet, usdc))
    rpc.skip_preflight = True  # it lands, and fails there (the token program: insufficient funds)
    conn = make(rpc, jupiter, wallet, usdc)
    before = balances(conn)

    with pytest.raises(InvalidOrder, match="failed on chain") as caught:
        conn.create_order(order("sell", "10", symbol="USDC/SOL", client_order_id="doomed"))

    signature = caught.value.fields["signature"]
    assert conn.fetch_order("USDC/SOL", exchange_order_id=signature).status == "rejected"
    (fee_only,) = conn.fetch_my_trades("USDC/SOL")  # it traded nothing but paid its network fee
    assert (fee_only.exchange_trade_id, fee_only.side, fee_only.amount, fee_only.cost) == (signature, "sell", 0, 0)
    assert (fee_only.fee, fee_only.fee_currency) == (Decimal("0.00001"), "SOL")
    after = balances(conn)
    assert after["USDC"] == before["USDC"]
    assert before["SOL"] - after["SOL"] == Decimal("0.00001")  # the fee is spent all the same


def test_rpc_hang_raises_exchange_timeout_within_budget(rpc, jupiter, wallet, usdc):
    rpc.fault, rpc.hang_s = "hang", 3.0
    conn = make(rpc, jupiter, wallet, usdc, timeout_s=5.0)
    conn.timeout_s = 0.4  # as the guard sets it per call kind
    started = time.monotonic()
    with pytest.raises(ExchangeTimeout):
        conn.fetch_balance()
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", ExchangeUnavailable),
        ("429", RateLimited),
        ("garbage", ExchangeUnavailable),
        ("jsonrpc-429", RateLimited),
        ("node-behind", ExchangeUnavailable),  # solders 0.26 panics reading it
    ],
)
def test_rpc_faults_map_to_domain_errors(rpc, jupiter, wallet, usdc, fault, error):
    rpc.fault = fault
    with pytest.raises(error) as caught:
        make(rpc, jupiter, wallet, usdc).fetch_balance()
    assert type(caught.value) is error  # not a timeout
    assert rpc.url not in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("hang", ExchangeTimeout), ("500", ExchangeUnavailable), ("429", RateLimited), ("garbage", ExchangeUnavailable)],
)
def test_jupiter_faults_map_to_domain_errors(rpc, jupiter, wallet, usdc, fault, error):
    jupiter.fault, jupiter.hang_s = fault, 2.0
    started = time.monotonic()
    with pytest.raises(error) as caught:
        make(rpc, jupiter, wallet, usdc, timeout_s=0.4).create_order(order())
    assert type(caught.value) is error
    assert time.monotonic() - started < 1.5
    assert "sendTransaction" not in rpc.methods_called()


def test_ticker_and_book_come_from_quotes(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    ticker = conn.fetch_ticker("SOL/USDC")
    book = conn.fetch_order_book("SOL/USDC")
    assert ticker.bid == ticker.ask == ticker.last == SOL_PRICE
    assert book.bids == [(SOL_PRICE, Decimal(1))] and book.asks == [(SOL_PRICE, Decimal(1))]
    assert {q["swapMode"] for q in jupiter.quote_requests} == {"ExactIn", "ExactOut"}


def test_ticker_of_a_cheap_token_quotes_a_size_big_enough_to_price(rpc, jupiter, wallet, usdc):
    meme = rpc.create_mint(0)
    jupiter.list_token(meme, 0, 10**12)
    jupiter.set_price(meme, usdc, Decimal("0.000123"))
    conn = JupiterConnector(
        Credentials(), wallet_address=str(wallet.pubkey()), rpc_url=rpc.url, jupiter_url=jupiter.url,
        tokens={"USDC": {"mint": str(usdc), "decimals": 6}, "MEME": {"mint": str(meme), "decimals": 0}},
    )
    ticker = conn.fetch_ticker("MEME/USDC")
    assert ticker.bid == ticker.ask == Decimal("0.000123")
    assert conn.fetch_order_book("MEME/USDC").bids[0][1] > 1


def test_fetch_my_trades_since_a_cursor_at_settled_amounts(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    first = conn.create_order(order("sell", "1", client_order_id="a"))
    second = conn.create_order(order("sell", "0.25", client_order_id="b"))
    rpc.sent[first.exchange_order_id].block_time -= 3_600
    cursor = datetime.now(UTC) - timedelta(minutes=30)

    everything = conn.fetch_my_trades("SOL/USDC")
    recent = conn.fetch_my_trades("SOL/USDC", since=cursor)

    assert [fill.exchange_trade_id for fill in everything] == [first.exchange_order_id, second.exchange_order_id]
    (fill,) = recent
    assert fill.order_id == second.exchange_order_id and fill.side == "sell"
    assert fill.amount == Decimal("0.25") and fill.price == SOL_PRICE
    assert fill.cost == Decimal("37.5625")
    assert fill.fee == Decimal("0.00001") and fill.fee_currency == "SOL"
    assert conn.fetch_my_trades("USDC/SOL")[0].side == "buy"  # the same swap, seen from the other side


def test_fetch_my_trades_with_a_limit_returns_the_first_fills_after_the_cursor_across_pages(
    rpc, jupiter, wallet, usdc, monkeypatch
):
    monkeypatch.setattr("exchanges.connectors.jupiter.connector.SIGNATURES_PAGE", 2)
    conn = make(rpc, jupiter, wallet, usdc)
    placed = [conn.create_order(order("sell", amount, client_order_id=amount)) for amount in ("0.1", "0.2", "0.3", "0.4")]
    for hours_ago, info in zip((4, 3, 2, 1), placed, strict=True):
        rpc.sent[info.exchange_order_id].block_time -= hours_ago * 3_600
    cursor = datetime.now(UTC) - timedelta(hours=3, minutes=30)

    first_two = conn.fetch_my_trades("SOL/USDC", since=cursor, limit=2)
    newest = conn.fetch_my_trades("SOL/USDC", limit=1)

    assert [fill.amount for fill in first_two] == [Decimal("0.2"), Decimal("0.3")]
    assert [fill.amount for fill in newest] == [Decimal("0.4")]
    assert any(params[1].get("before") for method, params in rpc.calls if method == "getSignaturesForAddress")


def test_fetch_order_rebuilds_a_swap_from_its_transaction(rpc, jupiter, wallet, usdc):
    placed = make(rpc, jupiter, wallet, usdc).create_order(order("sell", "1"))
    fresh = make(rpc, jupiter, wallet, usdc)  # no memory of the order

    found = fresh.fetch_order("SOL/USDC", exchange_order_id=placed.exchange_order_id)

    assert (found.status, found.side, found.filled, found.price) == ("filled", "sell", Decimal(1), SOL_PRICE)
    with pytest.raises(OrderNotFound):
        fresh.fetch_order("SOL/USDC", exchange_order_id=str(Keypair().sign_message(b"x")))
    with pytest.raises(OrderNotFound):
        fresh.fetch_order("SOL/USDC", client_order_id="c1")


def test_nothing_rests_on_a_dex(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    assert conn.cancel_order("SOL/USDC", "anything") is None
    assert conn.fetch_open_orders("SOL/USDC") == []


def test_markets_cover_every_pair_of_configured_tokens(rpc, jupiter, wallet, usdc):
    markets = make(rpc, jupiter, wallet, usdc).load_markets()
    assert set(markets) == {"SOL/USDC", "USDC/SOL", "SOL/USDT", "USDT/SOL", "USDC/USDT", "USDT/USDC"}
    assert markets["SOL/USDC"].amount_step == Decimal("1e-9")
    assert markets["USDC/SOL"].amount_step == Decimal("1e-6")


def test_read_only_account_reads_balances_but_refuses_to_swap(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc, private_key="")
    assert balances(conn)["SOL"] == Decimal(5)
    with pytest.raises(AuthenticationFailed, match=NO_SIGNING_KEY):
        conn.create_order(order())


def test_private_key_never_appears_in_repr_logs_or_errors(rpc, jupiter, wallet, usdc, caplog):
    secret = str(wallet)
    caplog.set_level(logging.DEBUG)
    conn = make(rpc, jupiter, wallet, usdc)
    conn.create_order(order("sell", "1"))
    errors = []
    for bad_key, message in ((secret[:-3] + "zzz", BAD_KEY), (secret + "0", BAD_KEY), (str(Keypair()), WRONG_KEY)):
        with pytest.raises(AuthenticationFailed, match=message) as caught:
            make(rpc, jupiter, wallet, usdc, private_key=bad_key)
        errors.append((caught.value, bad_key))
    rpc.never_confirm = True
    with pytest.raises(ExchangeTimeout) as caught:
        make(rpc, jupiter, wallet, usdc, confirm_timeout_s=0.2).create_order(order("sell", "0.5"))
    errors.append((caught.value, secret))

    for error, key in errors:
        chain = [error, error.__cause__, error.__context__]
        text = " ".join(f"{e!s} {e!r} {getattr(e, 'fields', '')}" for e in chain if e is not None)
        assert key not in text and key[:20] not in text
        assert error.__cause__ is None and error.__context__ is None
    assert secret not in repr(conn) and secret[:20] not in repr(conn)
    assert secret not in repr(conn.__dict__.get("tokens"))
    assert secret[:20] not in caplog.text


def _ata(wallet, mint):
    from solders.token.associated import get_associated_token_address

    return get_associated_token_address(wallet.pubkey(), mint)


@pytest.mark.parametrize(
    "change",
    [
        {"quoteResponse": "tampered"},
        {"userPublicKey": "not-a-key"},
        {"wrapAndUnwrapSol": "yes"},
        {"prioritizationFeeLamports": "10000"},
    ],
)
def test_fake_jupiter_refuses_a_swap_body_of_the_wrong_shape(rpc, jupiter, wallet, usdc, change):
    import requests

    quote = requests.get(
        f"{jupiter.url}/quote",
        params={"inputMint": SOL_MINT, "outputMint": str(usdc), "amount": "1000", "slippageBps": "50"},
        timeout=2,
    ).json()
    body = {
        "quoteResponse": quote, "userPublicKey": str(wallet.pubkey()), "wrapAndUnwrapSol": True,
        "prioritizationFeeLamports": 10_000,
    }
    assert requests.post(f"{jupiter.url}/swap", json=body, timeout=2).status_code == 200
    response = requests.post(f"{jupiter.url}/swap", json={**body, **change}, timeout=2)
    assert response.status_code == 400 and response.json()["error"]


def test_fetch_my_trades_that_cannot_reach_the_cursor_raises_rather_than_returning_some(
    rpc, jupiter, wallet, usdc, monkeypatch
):
    monkeypatch.setattr("exchanges.connectors.jupiter.connector.SIGNATURES_PAGE", 2)
    monkeypatch.setattr("exchanges.connectors.jupiter.connector.MAX_SIGNATURES_SCANNED", 2)
    conn = make(rpc, jupiter, wallet, usdc)
    for amount in ("0.1", "0.2", "0.3"):
        conn.create_order(order("sell", amount, client_order_id=amount))

    with pytest.raises(ExchangeError) as caught:
        conn.fetch_my_trades("SOL/USDC", since=datetime.now(UTC) - timedelta(hours=1))

    assert caught.value.code == "too_many_trades"
    assert len(conn.fetch_my_trades("SOL/USDC", limit=2)) == 2  # the newest few need no walk back


def test_a_swap_without_a_block_time_is_an_error_not_stamped_now(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    placed = conn.create_order(order("sell", "0.5"))
    rpc.sent[placed.exchange_order_id].block_time = None

    with pytest.raises(ExchangeUnavailable, match="no block time"):
        conn.fetch_my_trades("SOL/USDC", since=datetime.now(UTC) - timedelta(hours=1))


def test_fetch_my_trades_stops_before_a_listed_swap_it_cannot_read_yet(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, usdc)
    placed = [conn.create_order(order("sell", amount, client_order_id=amount)) for amount in ("0.1", "0.2", "0.3")]
    rpc.unreadable.add(placed[1].exchange_order_id)
    since = datetime.now(UTC) - timedelta(hours=1)

    assert [f.order_id for f in conn.fetch_my_trades("SOL/USDC", since=since)] == [placed[0].exchange_order_id]
    rpc.unreadable.clear()
    assert len(conn.fetch_my_trades("SOL/USDC", since=since)) == 3
