"""Wallet balances over Solana JSON-RPC, exact per mint, on a LiteSVM-backed local node."""

from decimal import Decimal

import pytest
from solana.rpc.api import Client
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction
from spl.token import instructions as spl
from spl.token.constants import TOKEN_PROGRAM_ID

from exchanges.connectors.base import Credentials
from exchanges.connectors.jupiter import DEFAULT_TOKENS, SOL_MINT, JupiterConnector
from exchanges.connectors.jupiter.settlement import settle
from tests.fakes.solana_rpc import MINT_LEN, FakeSolanaRpc


@pytest.fixture
def rpc():
    with FakeSolanaRpc(pending_polls=0) as node:
        for token in DEFAULT_TOKENS.values():  # the default tokens' mints, as on mainnet
            if token["mint"] != SOL_MINT:
                node.set_mint(Pubkey.from_string(token["mint"]), token["decimals"])
        yield node


def connector(rpc, wallet: Pubkey, tokens=None, private_key="") -> JupiterConnector:
    return JupiterConnector(
        Credentials(private_key=private_key),
        wallet_address=str(wallet),
        rpc_url=rpc.url,
        jupiter_url="http://127.0.0.1:9",  # balances never ask Jupiter
        tokens=tokens or {},
        timeout_s=2.0,
    )


def balances(conn) -> dict[str, Decimal]:
    return {row.asset: row.total for row in conn.fetch_balance()}


def test_balances_are_exact_per_mint_decimals_and_sum_token_accounts(rpc):
    wallet = Keypair().pubkey()
    rpc.airdrop(wallet, 1_234_567_891)
    usd = rpc.create_mint(6)
    ticket = rpc.create_mint(0)
    odd = rpc.create_mint(3)  # not configured: reported under its mint address
    rpc.create_token_account(usd, wallet, 1_500_000)
    rpc.create_token_account(usd, wallet, 2_000_001)
    rpc.create_token_account(ticket, wallet, 7)
    rpc.create_token_account(odd, wallet, 12_345)
    rpc.create_token_account(usd, Keypair().pubkey(), 99_000_000)  # someone else's

    conn = connector(rpc, wallet, {"USD": {"mint": str(usd), "decimals": 6}, "TIX": {"mint": str(ticket)}})

    got = balances(conn)
    assert got == {
        "SOL": Decimal("1.234567891"),
        "USD": Decimal("3.500001"),
        "TIX": Decimal("7"),
        str(odd): Decimal("12.345"),
    }
    assert all(type(value) is Decimal for value in got.values())
    assert {row.asset: row.locked for row in conn.fetch_balance()}["USD"] == 0
    assert rpc.methods_called().count("getTokenAccountsByOwner") == 4  # Token and Token-2022, twice


def test_balances_never_trust_ui_amount_floats(rpc):
    """uiAmount of 2**53 + 1 smallest units is not representable as a float; amount is."""
    wallet = Keypair().pubkey()
    big = rpc.create_mint(0)
    rpc.create_token_account(big, wallet, 2**53 + 1)
    conn = connector(rpc, wallet, {"BIG": {"mint": str(big)}})
    assert balances(conn)["BIG"] == Decimal(2**53 + 1)


def test_token_account_balance_is_asked_when_the_parsed_view_lacks_an_amount(rpc):
    wallet = Keypair().pubkey()
    usd = rpc.create_mint(6)
    rpc.create_token_account(usd, wallet, 1_500_000)
    rpc.create_token_account(usd, wallet, 250)
    rpc.omit_token_amount = True
    assert balances(connector(rpc, wallet, {"USD": {"mint": str(usd)}}))["USD"] == Decimal("1.50025")
    assert rpc.methods_called().count("getTokenAccountBalance") == 2


def test_wrapped_sol_counts_as_sol(rpc):
    wallet = Keypair().pubkey()
    rpc.airdrop(wallet, 1_000_000_000)
    native = Pubkey.from_string(SOL_MINT)
    rpc.set_mint(native, 9)
    rpc.create_token_account(native, wallet, 250_000_000)
    assert balances(connector(rpc, wallet))["SOL"] == Decimal("1.25")


def test_unconfigured_decimals_are_read_from_the_mint(rpc):
    wallet = Keypair().pubkey()
    two = rpc.create_mint(2)
    conn = connector(rpc, wallet, {"TWO": {"mint": str(two)}})
    markets = conn.load_markets()
    assert markets["TWO/USDC"].amount_step == Decimal("0.01")
    assert markets["USDC/TWO"].amount_step == Decimal("0.000001")
    assert markets["SOL/TWO"].amount_step == Decimal("0.000000001")
    assert "getTokenSupply" in rpc.methods_called()


def _send(client: Client, payer: Keypair, instructions, *signers) -> str:
    blockhash = client.get_latest_blockhash().value.blockhash
    message = MessageV0.try_compile(payer.pubkey(), instructions, [], blockhash)
    tx = VersionedTransaction(message, [payer, *signers])
    return str(client.send_transaction(tx, opts=TxOpts(skip_confirmation=True)).value)


def test_spl_mint_and_transfer_on_litesvm_read_back_through_the_connector(rpc):
    """A real SPL mint, accounts and transfer_checked executed by LiteSVM via sendTransaction."""
    alice, bob, mint = Keypair(), Keypair(), Keypair()
    rpc.airdrop(alice.pubkey(), 2_000_000_000)
    client = Client(rpc.url, timeout=2)
    with rpc.lock:
        rent = rpc.svm.minimum_balance_for_rent_exemption(MINT_LEN)
    _send(client, alice, [
        create_account(CreateAccountParams(
            from_pubkey=alice.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=MINT_LEN, owner=TOKEN_PROGRAM_ID,
        )),
        spl.initialize_mint(spl.InitializeMintParams(
            decimals=2, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=alice.pubkey(),
        )),
    ], mint)
    alice_ata = get_associated_token_address(alice.pubkey(), mint.pubkey())
    bob_ata = get_associated_token_address(bob.pubkey(), mint.pubkey())
    _send(client, alice, [
        spl.create_idempotent_associated_token_account(alice.pubkey(), alice.pubkey(), mint.pubkey()),
        spl.create_idempotent_associated_token_account(alice.pubkey(), bob.pubkey(), mint.pubkey()),
        spl.mint_to(spl.MintToParams(
            program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=alice_ata, mint_authority=alice.pubkey(), amount=10_000,
        )),
    ])
    transfer_sig = _send(client, alice, [
        spl.transfer_checked(spl.TransferCheckedParams(
            program_id=TOKEN_PROGRAM_ID, source=alice_ata, mint=mint.pubkey(), dest=bob_ata,
            owner=alice.pubkey(), amount=1_234, decimals=2,
        )),
    ])
    tokens = {"PTS": {"mint": str(mint.pubkey())}}  # decimals left for the chain to tell

    assert balances(connector(rpc, alice.pubkey(), tokens))["PTS"] == Decimal("87.66")
    assert balances(connector(rpc, bob.pubkey(), tokens))["PTS"] == Decimal("12.34")
    assert rpc.token_balance(bob_ata) == 1_234  # LiteSVM's own view agrees

    confirmed = client.get_transaction(Signature.from_string(transfer_sig), max_supported_transaction_version=0).value
    sent = settle(transfer_sig, confirmed, alice.pubkey())
    received = settle(transfer_sig, confirmed, bob.pubkey())
    assert sent.deltas == {str(mint.pubkey()): -1_234}  # the fee is not a SOL trade
    assert sent.fee_lamports == 5_000 and received.fee_lamports == 0
    assert received.deltas == {str(mint.pubkey()): 1_234}
    assert sent.decimals[str(mint.pubkey())] == 2


def test_fake_node_rejects_a_transaction_the_fee_payer_did_not_sign(rpc):
    payer, other = Keypair(), Keypair()
    rpc.airdrop(payer.pubkey(), 10**9)
    message = MessageV0.try_compile(
        payer.pubkey(),
        [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=other.pubkey(), lamports=1))],
        [],
        rpc.latest_blockhash(),
    )
    forged = VersionedTransaction.populate(message, [other.sign_message(to_bytes_versioned(message))])
    with pytest.raises(RPCException) as caught:
        Client(rpc.url, timeout=2).send_raw_transaction(bytes(forged), TxOpts(skip_confirmation=True))
    assert "SignatureVerificationFailure" in repr(caught.value.args)
    assert rpc.balance(other.pubkey()) == 0
    assert rpc.sent == {}
