"""Lifecycle steps the API takes on behalf of a client that touch several bots at once."""

from __future__ import annotations

from bots.models import Bot
from bots.services import stop_bot
from clients.models import Client, Wallet
from clients.services import clear_wallet_key

DEX_EXCHANGE = "jupiter"
KEY_REVOKED = "Trading-wallet key revoked."


def revoke_trading_key(client: Client, *, actor: str) -> list[int]:
    """Forget the client's trading-wallet keys, then stop its DEX bots; returns the ids of bots stopped.

    The key goes first: a bot that can no longer sign cannot trade, whatever happens to the stops.
    The stops move each bot to ``stopping`` at once; the engine finishes them (no venue call here).
    """
    for wallet in Wallet.objects.filter(client=client).exclude(private_key_encrypted=""):
        clear_wallet_key(wallet, actor=actor)
    stopped = []
    live = Bot.objects.filter(client=client, account__exchange=DEX_EXCHANGE).exclude(
        status__in=[Bot.Status.STOPPED, Bot.Status.CREATED, Bot.Status.STOPPING])
    for bot in live.select_related("account", "client"):
        stop_bot(bot, actor=actor, reason=KEY_REVOKED, finish=False)
        stopped.append(bot.pk)
    return stopped
