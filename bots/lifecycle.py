"""Lifecycle steps the API takes on behalf of a client that touch several bots at once."""

from __future__ import annotations

from bots.models import Bot
from clients.models import Client, Wallet
from clients.services import clear_wallet_key

DEX_EXCHANGE = "jupiter"


def revoke_trading_key(client: Client, *, actor: str) -> list[int]:
    """Forget the client's trading-wallet keys, then stop its DEX bots; returns the ids of bots stopped.

    The key goes first: a bot that can no longer sign cannot trade, whatever happens to the stops.
    """
    for wallet in Wallet.objects.filter(client=client).exclude(private_key_encrypted=""):
        clear_wallet_key(wallet, actor=actor)
    from bots import services

    stopped = []
    live = Bot.objects.filter(client=client, account__exchange=DEX_EXCHANGE).exclude(
        status__in=[Bot.Status.STOPPED, Bot.Status.CREATED, Bot.Status.ERROR])
    for bot in live.select_related("account", "client"):
        stop_bot = getattr(services, "stop_bot", None)
        if stop_bot is not None:
            stop_bot(bot, actor=actor)
        else:  # until the engine's lifecycle services land: ask it to stop, it acts at its next tick
            Bot.objects.filter(pk=bot.pk).update(desired_status=Bot.Status.STOPPED)
        stopped.append(bot.pk)
    return stopped
