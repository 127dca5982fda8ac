"""Jupiter swaps on the money path: a swap outlives the process that sent it, decimals come from the
chain, a failed swap's fee is reported, and only https endpoints and honest transactions are used.

Real solana-py/solders against the LiteSVM-backed node and the local Jupiter API.
"""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.db import OperationalError
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from exchanges import crypto
from exchanges.connectors.base import Credentials, OrderRequest
from exchanges.connectors.jupiter import DEFAULT_TOKENS, SOL_MINT, JupiterConnector
from exchanges.connectors.jupiter.connector import DECIMALS_MISMATCH, DUPLICATE_CLIENT_ID
from exchanges.connectors.jupiter.swaps import MemorySwapStore
from exchanges.errors import ExchangeError, ExchangeTimeout, ExchangeUnavailable, InvalidOrder, OrderNotFound
from exchanges.models import PendingSwap
from exchanges.registry import raw_connector_for
from tests.factories import ExchangeAccountFactory, WalletFactory
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


@pytest.fixture
def account(settings, rpc, jupiter, wallet, usdc):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    owner = WalletFactory(chain="solana", address=str(wallet.pubkey()), private_key_encrypted=crypto.encrypt(str(wallet)))
    return ExchangeAccountFactory(
        exchange="jupiter", wallet=owner, client=owner.client,
        options={"rpc_url": rpc.url, "api_url": jupiter.url, "tokens": {"USDC": {"mint": str(usdc), "decimals": 6}}},
    )


def connector(account, confirm_timeout_s=0.3) -> JupiterConnector:
    """A new connector for the account, as each task gets one; the confirmation wait is shortened on
    the connector itself (account options only take whole seconds)."""
    conn = raw_connector_for(account, timeout_s=2.0)
    conn.confirm_timeout_s = confirm_timeout_s
    conn.poll_interval_s = 0.02
    return conn


def make(rpc, jupiter, wallet, tokens, **options) -> JupiterConnector:
    conn = JupiterConnector(
        Credentials(private_key=str(wallet)), wallet_address=str(wallet.pubkey()), rpc_url=rpc.url,
        jupiter_url=jupiter.url, tokens=tokens, timeout_s=2.0, confirm_timeout_s=5.0, **options,
    )
    conn.poll_interval_s = 0.02
    return conn


def order(side="sell", amount="1", symbol="SOL/USDC", client_order_id="c1"):
    return OrderRequest(symbol=symbol, side=side, kind="market", amount=Decimal(amount), client_order_id=client_order_id)


def _ata(owner, mint):
    from solders.token.associated import get_associated_token_address

    return get_associated_token_address(owner, mint)


# --- a swap survives the process that sent it ----------------------------------------------------
@pytest.mark.django_db
def test_a_new_connector_answers_for_a_swap_another_sent_until_it_lands(rpc, jupiter, account):
    rpc.never_confirm = True
    with pytest.raises(ExchangeTimeout):
        connector(account).create_order(order("sell", "1", client_order_id="task-1"))
    (signature,) = rpc.sent

    later = connector(account)  # the next task: no memory of its own
    by_client = later.fetch_order("SOL/USDC", client_order_id="task-1")
    by_signature = later.fetch_order("SOL/USDC", exchange_order_id=signature)
    (listed,) = later.fetch_open_orders("SOL/USDC")

    for info in (by_client, by_signature, listed):
        assert (info.status, info.exchange_order_id, info.client_order_id) == ("open", signature, "task-1")
        assert (info.side, info.amount, info.filled) == ("sell", Decimal(1), 0)
    with pytest.raises(InvalidOrder, match=DUPLICATE_CLIENT_ID):  # and never swaps twice for it
        connector(account).create_order(order("sell", "1", client_order_id="task-1"))
    assert rpc.methods_called().count("sendTransaction") == 1

    rpc.never_confirm, rpc.pending_polls = False, 0  # it lands
    landed = connector(account).fetch_order("SOL/USDC", client_order_id="task-1")
    assert (landed.status, landed.filled, landed.exchange_order_id) == ("filled", Decimal(1), signature)
    assert connector(account).fetch_open_orders("SOL/USDC") == []
    row = PendingSwap.objects.get(signature=signature)
    assert (row.state, row.fee_lamports, row.client_order_id) == ("landed", 10_000, "task-1")


@pytest.mark.django_db
def test_through_the_guard_a_timed_out_swap_is_open_once_and_the_next_tasks_guard_finds_it(rpc, jupiter, account):
    from exchanges.registry import connector_for

    rpc.never_confirm = True
    account.options = {**account.options, "confirm_timeout_s": 1}

    placed = connector_for(account).create_order(order("sell", "1", client_order_id="guarded"))
    found = connector_for(account).fetch_order("SOL/USDC", client_order_id="guarded")

    assert (placed.status, found.status) == ("open", "open")
    assert found.exchange_order_id == placed.exchange_order_id
    assert rpc.methods_called().count("sendTransaction") == 1


@pytest.mark.django_db
def test_a_swap_is_not_found_only_once_its_blockhash_expired_and_its_id_is_then_free(rpc, jupiter, account):
    rpc.fault, rpc.fault_methods, rpc.hang_s = "hang", {"sendTransaction"}, 2.5  # lost on the way
    conn = connector(account)
    conn.timeout_s = 1.5  # only the send hangs; the calls before it must not time out on a busy machine
    with pytest.raises(ExchangeTimeout):
        conn.create_order(order("sell", "1", client_order_id="late"))
    rpc.fault = None
    first = PendingSwap.objects.get(client_order_id="late").signature

    assert connector(account).fetch_order("SOL/USDC", exchange_order_id=first).status == "open"
    rpc.blocks_per_height_call = 1_000  # its lastValidBlockHeight passes
    with pytest.raises(OrderNotFound):
        connector(account).fetch_order("SOL/USDC", client_order_id="late")
    with pytest.raises(OrderNotFound):
        connector(account).fetch_order("SOL/USDC", exchange_order_id=first)
    assert PendingSwap.objects.get(signature=first).state == "expired"

    rpc.blocks_per_height_call = 1
    rpc.svm.expire_blockhash()  # the chain moved on: the retry is a new transaction
    retried = connector(account, confirm_timeout_s=5).create_order(order("sell", "1", client_order_id="late"))
    assert retried.status == "filled" and retried.exchange_order_id != first
    assert connector(account).fetch_order("SOL/USDC", client_order_id="late").exchange_order_id == retried.exchange_order_id


@pytest.mark.django_db
def test_a_swap_api_claiming_a_short_validity_does_not_make_a_swap_that_can_land_not_found(rpc, jupiter, account):
    jupiter.hostile = "short_validity"
    rpc.never_confirm = True
    with pytest.raises(ExchangeTimeout, match="not confirmed within"):
        connector(account).create_order(order("sell", "1", client_order_id="short"))
    assert connector(account).fetch_order("SOL/USDC", client_order_id="short").status == "open"


@pytest.mark.django_db
def test_a_send_that_dies_on_the_way_is_open_until_expiry_then_not_found(rpc, jupiter, account):
    """The crash between recording and the node's answer: the swap may or may not have reached it."""
    rpc.fault, rpc.fault_methods, rpc.hang_s = "hang", {"sendTransaction"}, 2.5
    conn = connector(account)
    conn.timeout_s = 1.5  # only the send hangs; the calls before it must not time out on a busy machine
    with pytest.raises(ExchangeTimeout):
        conn.create_order(order("sell", "1", client_order_id="lost"))
    rpc.fault = None
    assert rpc.sent == {}  # it never executed

    pending = connector(account).fetch_order("SOL/USDC", client_order_id="lost")
    assert pending.status == "open"
    rpc.blocks_per_height_call = 1_000
    with pytest.raises(OrderNotFound):
        connector(account).fetch_order("SOL/USDC", client_order_id="lost")


@pytest.mark.django_db
def test_a_swap_that_cannot_be_recorded_is_not_sent(rpc, jupiter, account, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(PendingSwap.objects, "create", broken)
    with pytest.raises(ExchangeError) as caught:
        connector(account).create_order(order("sell", "1", client_order_id="unrecorded"))
    assert caught.value.code == "swap_not_recorded" and not caught.value.retryable
    assert "sendTransaction" not in rpc.methods_called()


@pytest.mark.django_db
def test_a_refused_swap_frees_its_client_order_id(rpc, jupiter, account):
    jupiter.stale_blockhash = True
    with pytest.raises(ExchangeUnavailable, match="Blockhash not found"):
        connector(account).create_order(order("sell", "1", client_order_id="stale"))
    with pytest.raises(OrderNotFound):
        connector(account).fetch_order("SOL/USDC", client_order_id="stale")
    jupiter.stale_blockhash = False
    assert connector(account, confirm_timeout_s=5).create_order(order("sell", "1", client_order_id="stale")).status == "filled"


# --- decimals come from the mint ---------------------------------------------------------------
def test_decimals_configured_against_the_mint_are_refused_naming_it(rpc, jupiter, wallet, usdc):
    meme = rpc.create_mint(6)
    jupiter.list_token(meme, 6, 10**15)
    jupiter.set_price(meme, usdc, Decimal("0.5"))
    rpc.create_token_account(meme, wallet.pubkey(), 5_000 * 10**6, address=_ata(wallet.pubkey(), meme))
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc), "decimals": 6}, "MEME": {"mint": str(meme), "decimals": 9}})

    with pytest.raises(ExchangeError) as caught:
        conn.create_order(order("sell", "1", symbol="MEME/USDC"))

    assert str(meme) in str(caught.value) and caught.value.code == "token_decimals"
    assert DECIMALS_MISMATCH.split("{")[0] in str(caught.value)
    assert jupiter.quote_requests == [] and rpc.sent == {}
    assert rpc.token_balance(_ata(wallet.pubkey(), meme)) == 5_000 * 10**6


def test_decimals_left_out_are_read_from_the_mint(rpc, jupiter, wallet, usdc):
    meme = rpc.create_mint(6)
    jupiter.list_token(meme, 6, 10**15)
    jupiter.set_price(meme, usdc, Decimal("0.5"))
    rpc.create_token_account(meme, wallet.pubkey(), 5_000 * 10**6, address=_ata(wallet.pubkey(), meme))
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}, "MEME": {"mint": str(meme)}})

    info = conn.create_order(order("sell", "1", symbol="MEME/USDC"))

    assert (info.filled, info.price) == (Decimal(1), Decimal("0.5"))
    assert rpc.token_balance(_ata(wallet.pubkey(), meme)) == 4_999 * 10**6


# --- a failed swap's fee --------------------------------------------------------------------------
def test_a_swap_failing_on_chain_reports_the_fee_it_paid(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.skip_preflight = True
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc), "decimals": 6}})

    with pytest.raises(InvalidOrder, match="failed on chain") as caught:
        conn.create_order(order("sell", "10", symbol="USDC/SOL", client_order_id="doomed"))

    assert (caught.value.fields["fee"], caught.value.fields["fee_currency"]) == (Decimal("0.00001"), "SOL")
    found = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}}).fetch_order(
        "USDC/SOL", exchange_order_id=caught.value.fields["signature"]
    )
    assert (found.status, found.filled, found.fee, found.fee_currency) == ("rejected", 0, Decimal("0.00001"), "SOL")


@pytest.mark.django_db
def test_a_failed_swap_and_its_fee_are_recorded_and_its_client_id_stays_taken(rpc, jupiter, wallet, usdc, account):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.skip_preflight = True
    with pytest.raises(InvalidOrder, match="failed on chain") as caught:
        connector(account, confirm_timeout_s=5).create_order(order("sell", "10", symbol="USDC/SOL", client_order_id="f"))

    row = PendingSwap.objects.get(client_order_id="f")
    assert (row.signature, row.state, row.fee_lamports) == (caught.value.fields["signature"], "failed", 10_000)
    found = connector(account).fetch_order("USDC/SOL", client_order_id="f")
    assert (found.status, found.fee, found.side, found.amount) == ("rejected", Decimal("0.00001"), "sell", Decimal(10))
    with pytest.raises(InvalidOrder, match=DUPLICATE_CLIENT_ID):  # it was placed; a new swap needs a new id
        connector(account).create_order(order("sell", "1", symbol="USDC/SOL", client_order_id="f"))


def test_a_filled_swap_reports_its_fee(rpc, jupiter, wallet, usdc):
    info = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}}).create_order(order("sell", "1"))
    assert (info.fee, info.fee_currency) == (Decimal("0.00001"), "SOL")


# --- where requests go ---------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["rpc_url", "api_url"])
@pytest.mark.django_db
def test_plain_http_to_another_host_is_refused_before_any_request(rpc, jupiter, account, option):
    account.options = {**account.options, option: "http://swap.example.com:9"}
    with pytest.raises(ExchangeError, match=option) as caught:
        raw_connector_for(account)
    assert "swap.example.com" not in str(caught.value)
    assert rpc.calls == [] and jupiter.quote_requests == []


def test_the_connector_itself_refuses_plain_http(rpc, jupiter, wallet):
    with pytest.raises(ExchangeError, match="rpc_url"):
        JupiterConnector(Credentials(), wallet_address=str(wallet.pubkey()), rpc_url="http://10.1.2.3:8899",
                         jupiter_url=jupiter.url, tokens={})


def test_a_redirect_from_the_swap_api_is_not_followed(rpc, jupiter, wallet, usdc):
    jupiter.fault = "redirect"
    with pytest.raises(ExchangeUnavailable, match="redirect"):
        make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}}).create_order(order())
    assert len(jupiter.redirects_served) == 1 and jupiter.quote_requests == []


# --- the transaction is checked against the quote before it is signed ---------------------------
@pytest.mark.parametrize("hostile", ["drain", "redirect", "extra_sol", "approve", "priority_fee", "inflated_quote"])
def test_a_swap_transaction_that_moves_more_than_quoted_is_not_signed(rpc, jupiter, wallet, usdc, hostile):
    rpc.create_token_account(usdc, wallet.pubkey(), 500_000_000, address=_ata(wallet.pubkey(), usdc))
    jupiter.hostile = hostile
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}})
    before = (rpc.balance(wallet.pubkey()), rpc.token_balance(_ata(wallet.pubkey(), usdc)))

    with pytest.raises(InvalidOrder) as caught:
        conn.create_order(order("sell", "100", symbol="USDC/SOL"))

    assert caught.value.code == "swap_check_failed"
    assert "sendTransaction" not in rpc.methods_called() and rpc.sent == {}
    assert (rpc.balance(wallet.pubkey()), rpc.token_balance(_ata(wallet.pubkey(), usdc))) == before


def test_an_honest_swap_within_slippage_passes_the_check(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 500_000_000, address=_ata(wallet.pubkey(), usdc))
    jupiter.shortfall_bps = 45  # worse than quoted, within the 50 bps asked for
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}})
    assert conn.create_order(order("sell", "100", symbol="USDC/SOL")).status == "filled"
    assert conn.create_order(order("buy", "100", symbol="USDC/SOL", client_order_id="c2")).status == "filled"
    assert "simulateTransaction" in rpc.methods_called()


def test_a_swap_worse_than_its_slippage_is_not_signed(rpc, jupiter, wallet, usdc):
    jupiter.shortfall_bps = 80
    with pytest.raises(InvalidOrder) as caught:
        make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}}).create_order(order("sell", "1"))
    assert caught.value.code == "swap_check_failed" and rpc.sent == {}


def test_memory_store_is_the_default_and_keeps_the_old_promise(rpc, jupiter, wallet, usdc):
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}})
    assert isinstance(conn.swaps, MemorySwapStore)


# --- the database store on its own ----------------------------------------------------------------
def _sent(signature, client_order_id="c", symbol="SOL/USDC"):
    from exchanges.connectors.jupiter.swaps import SentSwap

    return SentSwap(signature=signature, client_order_id=client_order_id, symbol=symbol, side="sell",
                    amount=Decimal("1.5"), last_valid_block_height=1_150)


@pytest.mark.django_db
def test_the_database_store_frees_a_client_order_id_only_once_its_swap_cannot_land():
    from django.db import transaction

    from exchanges.connectors.jupiter.swaps import DuplicateSwap
    from exchanges.pending_swaps import DbSwapStore

    store = DbSwapStore(ExchangeAccountFactory(exchange="jupiter").pk)
    other = DbSwapStore(ExchangeAccountFactory(exchange="jupiter").pk)
    store.add(_sent("sig-1"))
    other.add(_sent("sig-other"))  # another account's ids are its own
    with transaction.atomic():  # a caller's transaction survives the refusal
        with pytest.raises(DuplicateSwap):
            store.add(_sent("sig-2"))
        assert store.get(client_order_id="c").signature == "sig-1"

    store.settle("sig-1", "expired")
    store.add(_sent("sig-2"))
    assert (store.get(client_order_id="c").signature, store.get(client_order_id="c").state) == ("sig-2", "pending")
    assert store.get(signature="sig-1") is None
    assert [s.signature for s in store.pending("SOL/USDC")] == ["sig-2"] and store.pending("USDC/SOL") == []

    store.settle("sig-2", "failed", 5_000)
    store.settle("sig-2", "expired")  # the chain said it landed: it stays so
    assert (store.get(signature="sig-2").state, store.get(signature="sig-2").fee_lamports) == ("failed", 5_000)
    with pytest.raises(DuplicateSwap):
        store.add(_sent("sig-3"))
    store.add(_sent("sig-4", client_order_id=""))  # no client id: found by signature only
    store.add(_sent("sig-5", client_order_id=""))
    assert store.get(client_order_id="") is None and store.get(signature="sig-5").amount == Decimal("1.5")


def test_a_check_upset_by_the_wallets_other_activity_is_retryable_and_sends_nothing(rpc, jupiter, wallet, usdc):
    """Another bot's swap from the same wallet lands between the read and the simulation."""
    account = _ata(wallet.pubkey(), usdc)
    rpc.create_token_account(usdc, wallet.pubkey(), 500_000_000, address=account)
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}})

    def other_swap():
        rpc.create_token_account(usdc, wallet.pubkey(), 400_000_000, address=account)  # 100 USDC left
        rpc.before_simulate = None

    rpc.before_simulate = other_swap
    with pytest.raises(ExchangeUnavailable, match="changed while") as caught:
        conn.create_order(order("sell", "50", symbol="USDC/SOL"))
    assert caught.value.retryable and rpc.sent == {}
    assert conn.create_order(order("sell", "50", symbol="USDC/SOL")).status == "filled"  # tried again


def test_a_hostile_transaction_read_at_another_slot_is_still_refused(rpc, jupiter, wallet, usdc):
    rpc.create_token_account(usdc, wallet.pubkey(), 500_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.before_simulate = lambda: None  # the slot moves on, the wallet does not
    jupiter.hostile = "drain"
    with pytest.raises(InvalidOrder) as caught:
        make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}}).create_order(order("sell", "50", symbol="USDC/SOL"))
    assert caught.value.code == "swap_check_failed" and rpc.sent == {}


def test_a_wallet_holding_more_token_accounts_than_one_call_reads_is_checked_whole(rpc, jupiter, wallet, usdc):
    """Airdropped spam leaves a wallet with over 100 token accounts: read and simulated in two calls."""
    for _ in range(120):
        rpc.create_token_account(rpc.create_mint(0), wallet.pubkey(), 1)
    rpc.create_token_account(usdc, wallet.pubkey(), 500_000_000, address=_ata(wallet.pubkey(), usdc))
    conn = make(rpc, jupiter, wallet, {"USDC": {"mint": str(usdc)}})
    assert conn.create_order(order("sell", "50", symbol="USDC/SOL")).status == "filled"
    assert rpc.methods_called().count("simulateTransaction") == 2

    jupiter.hostile = "drain"
    with pytest.raises(InvalidOrder) as caught:
        conn.create_order(order("sell", "50", symbol="USDC/SOL", client_order_id="c2"))
    assert caught.value.code == "swap_check_failed" and len(rpc.sent) == 1


@pytest.mark.parametrize(
    ("mode", "in_amount", "out_amount", "threshold", "refused"),
    [
        ("ExactIn", 1_000, 2_000, 1_990, False),  # exactly 50 bps
        ("ExactIn", 1_000, 2_000, 1_989, True),  # looser than asked
        ("ExactIn", 2_000, 4_000, 3_980, True),  # not the amount asked
        ("ExactOut", 1_001, 1_000, 1_007, False),  # 1,006.005 rounded up
        ("ExactOut", 1_001, 1_000, 1_008, True),
        ("ExactOut", 1_001, 999, 1_006, True),
    ],
)
def test_a_quote_is_held_to_the_amount_and_slippage_asked(mode, in_amount, out_amount, threshold, refused):
    from exchanges.connectors.jupiter.checks import Limits

    quote = {"inputMint": "A", "outputMint": "B", "inAmount": str(in_amount), "outAmount": str(out_amount),
             "otherAmountThreshold": str(threshold), "swapMode": mode}
    if refused:
        with pytest.raises(InvalidOrder) as caught:
            Limits.of(quote, mode=mode, units=1_000, slippage_bps=50)
        assert caught.value.code == "swap_check_failed"
    else:
        limits = Limits.of(quote, mode=mode, units=1_000, slippage_bps=50)
        assert (limits.max_in, limits.min_out) == ((in_amount, threshold) if mode == "ExactIn" else (threshold, out_amount))
