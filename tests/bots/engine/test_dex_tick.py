"""A DEX (Jupiter/Solana) bot through the engine: real solana-py/solders against the local LiteSVM
node and the local Jupiter API (tests/fakes), the same path a cluster's tick takes."""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bots.engine import dispatch, lease, tick
from bots.models import Bot, Order
from bots.services import start_bot
from exchanges import crypto
from exchanges.connectors.jupiter import DEFAULT_TOKENS, SOL_MINT
from ledger.models import BotTrade
from tests.factories import BotFactory, ExchangeAccountFactory, WalletFactory
from tests.fakes.jupiter import FakeJupiter
from tests.fakes.solana_rpc import FakeSolanaRpc

SOL_PRICE = Decimal("150.25")
LAMPORTS = 10**9
# Sell 0.5 SOL in one slice: the side is fixed, so the wallet needs no USDC.
SELL = {"mode": "sell", "twap_amount": "0.5", "twap_slices": 1, "min_sol_kept": "0.05",
        "interval_min_seconds": 60, "interval_max_seconds": 120}


@pytest.fixture
def rpc():
    with FakeSolanaRpc(pending_polls=0) as node:
        node.set_mint(Pubkey.from_string(DEFAULT_TOKENS["USDT"]["mint"]), 6)
        yield node


@pytest.fixture
def jupiter(rpc):
    with FakeJupiter(rpc) as api:
        yield api


@pytest.fixture
def usdc(rpc, jupiter):
    mint = rpc.create_mint(6)
    jupiter.list_token(mint, 6, 10**12)
    jupiter.set_price(SOL_MINT, mint, SOL_PRICE)
    return mint


def dex_bot(settings, rpc, jupiter, usdc, *, lamports: int) -> tuple[Bot, Keypair]:
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # The request budget is tested in tests/exchanges; here it would only add seconds of waiting.
    settings.EXCHANGE_RATE_LIMITS = {"jupiter": {"account": None, "ip": None}}
    keypair = Keypair()
    rpc.airdrop(keypair.pubkey(), lamports)
    wallet = WalletFactory(chain="solana", address=str(keypair.pubkey()),
                           private_key_encrypted=crypto.encrypt(str(keypair)))
    account = ExchangeAccountFactory(
        exchange="jupiter", wallet=wallet, client=wallet.client,
        options={"rpc_url": rpc.url, "api_url": jupiter.url, "tokens": {"USDC": {"mint": str(usdc), "decimals": 6}},
                 "confirm_timeout_s": 5},
    )
    bot = BotFactory(client=wallet.client, account=account, bot_type=Bot.Type.DEX, symbol="SOL/USDC", config=SELL)
    return start_bot(bot, actor="op"), keypair


def tick_now(bot: Bot) -> tick.TickReport:
    token = lease.claim(bot.pk, statuses=dispatch.ACTIVE)
    assert token
    return tick.run(bot.pk, token)


@pytest.mark.django_db
def test_dex_bot_swaps_and_books_the_fill_to_itself(settings, rpc, jupiter, usdc):
    bot, _ = dex_bot(settings, rpc, jupiter, usdc, lamports=2 * LAMPORTS)
    report = tick_now(bot)
    assert report.placed == 1, report.outcome
    (order,) = Order.objects.filter(bot=bot)
    assert (order.side, order.kind, order.status, order.amount) == ("sell", "market", Order.Status.FILLED, Decimal("0.5"))
    assert order.exchange_order_id == list(rpc.sent)[0]  # the swap's signature
    (trade,) = BotTrade.objects.filter(bot=bot)
    assert (trade.side, trade.amount) == ("sell", Decimal("0.5"))
    assert trade.price == pytest.approx(SOL_PRICE, rel=Decimal("0.01"))
    bot.refresh_from_db()
    assert bot.health_status == Bot.Health.OK and bot.failures == 0 and bot.status == Bot.Status.RUNNING
    # The next tick is not due yet for this TWAP slice: nothing more is swapped.
    assert tick_now(Bot.objects.get(pk=bot.pk)).placed == 0
    assert len(rpc.sent) == 1


@pytest.mark.django_db
def test_dex_bot_at_the_kept_sol_says_no_gas_and_swaps_nothing(settings, rpc, jupiter, usdc):
    bot, _ = dex_bot(settings, rpc, jupiter, usdc, lamports=LAMPORTS // 20)  # exactly the 0.05 SOL kept
    report = tick_now(bot)
    bot.refresh_from_db()
    assert "NO GAS" in bot.health_message, report.outcome
    assert bot.health_status == Bot.Health.WARNING and bot.status == Bot.Status.RUNNING
    assert report.placed == 0 and not Order.objects.filter(bot=bot).exists()
    assert rpc.methods_called().count("sendTransaction") == 0 and not rpc.sent
