"""A Jupiter swap that failed on chain still paid its network fee: the ledger books it as a cost.

Real solana-py/solders against the LiteSVM-backed node and the local Jupiter API, through trade
sync and ingest as the product runs them.
"""

from decimal import Decimal

import pytest

from exchanges.errors import InvalidOrder
from ledger.models import BotTrade, QuarantinedFill
from ledger.selectors import pnl_for_bot, volume_for_bot
from ledger.services import ingest_trades, rebuild_pnl, sync_trades
from tests.exchanges.test_jupiter_money_path import (  # noqa: F401  fixtures
    _ata,
    account,
    connector,
    jupiter,
    order,
    rpc,
    usdc,
    wallet,
)
from bots.models import Order
from tests.factories import BotFactory
from tests.ledger.conftest import bot, fill  # noqa: F401  bot is a fixture

pytestmark = pytest.mark.django_db
FEE = Decimal("0.00001")  # 10,000 lamports, as the node charged it


def test_a_failed_swap_is_synced_as_a_fee_only_trade_and_counted_as_a_cost(rpc, jupiter, wallet, usdc, account):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.skip_preflight = True  # it lands, fails, and pays its fee
    with pytest.raises(InvalidOrder, match="failed on chain") as caught:
        connector(account, confirm_timeout_s=5).create_order(order("sell", "10", symbol="USDC/SOL", client_order_id="f"))
    assert caught.value.fields["fee"] == FEE
    bot = BotFactory(client=account.client, account=account, symbol="USDC/SOL")
    # The engine records the refused swap with its signature (bots/engine/orders.py): it is the bot's.
    Order.objects.create(account=account, bot=bot, symbol="USDC/SOL", client_order_id="f", side="sell",
                         kind="market", amount=Decimal("10"), status=Order.Status.REJECTED,
                         exchange_order_id=caught.value.fields["signature"])

    assert sync_trades(bot).new == 1
    trade = BotTrade.objects.get(bot=bot)
    assert (trade.exchange_trade_id, trade.amount, trade.cost, trade.fee, trade.fee_currency) == (
        caught.value.fields["signature"], 0, 0, FEE, "SOL")
    pnl = pnl_for_bot(bot)
    assert (pnl["realized"], pnl["fees"], pnl["position"]) == (-FEE, FEE, 0)  # SOL is the quote: a cost
    assert volume_for_bot(bot, "all")["fees"] == FEE
    assert sync_trades(bot).new == 0  # booked once
    assert rebuild_pnl(bot).differences == {}


def test_another_pairs_failed_swap_is_not_this_bots(rpc, jupiter, wallet, usdc, account):
    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.skip_preflight = True
    with pytest.raises(InvalidOrder):
        connector(account, confirm_timeout_s=5).create_order(order("sell", "10", symbol="USDC/SOL", client_order_id="g"))
    other = BotFactory(client=account.client, account=account, symbol="SOL/USDC")
    assert sync_trades(other).new == 0


def test_only_a_fee_makes_an_amount_of_zero_a_trade(bot):
    assert ingest_trades(bot, [fill("zero", "buy", 0, 1, fee="0", fee_currency="USDT")]) == 0
    (kept,) = QuarantinedFill.objects.filter(bot=bot)  # kept for operators, out of every figure
    assert kept.code == "trade_amount" and "0 with a fee paid" in kept.reason
    assert ingest_trades(bot, [fill("b", "buy", 2, 3), fill("gas", "sell", 0, 0, fee="0.1", fee_currency="USDT", minutes=1)]) == 2
    pnl = pnl_for_bot(bot)
    assert (pnl["realized"], pnl["position"], pnl["mark"]["price"]) == (Decimal("-0.1"), 2, 3)  # the mark is not 0


def test_a_bots_failed_swap_placed_by_the_engine_books_its_fee_to_the_bot(rpc, jupiter, wallet, usdc, account):
    from bots.engine.orders import place_order

    rpc.create_token_account(usdc, wallet.pubkey(), 5_000_000, address=_ata(wallet.pubkey(), usdc))
    rpc.skip_preflight = True
    bot = BotFactory(client=account.client, account=account, symbol="USDC/SOL", status="running")
    venue = connector(account, confirm_timeout_s=5)
    market = venue.load_markets()["USDC/SOL"]
    with pytest.raises(InvalidOrder, match="failed on chain") as caught:
        place_order(venue, account=account, bot=bot, symbol="USDC/SOL", side="sell", kind="market",
                    amount=Decimal("10"), market=market)
    order = Order.objects.get(bot=bot)
    assert order.status == Order.Status.REJECTED and order.exchange_order_id == caught.value.fields["signature"]
    assert sync_trades(bot).new == 1
    assert pnl_for_bot(bot)["fees"] == FEE
