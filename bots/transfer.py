"""Clients, their wallets, accounts and bots as JSON: to move a setup between installations or
keep it under version control. Never a secret: no exchange key, no wallet key, no provider URL
with a path or query (an RPC provider's key rides in its URL).

Import matches by name (client by name, account by venue and name, bot by name within its
client) and adds only what is missing, all in one transaction: a bad entry stops the import with
its position named and nothing written.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import Bot
from bots.services import create_bot
from clients.models import Client, Wallet
from clients.services import add_wallet, create_client
from exchanges.models import ExchangeAccount
from exchanges.services import save_account

VERSION = 1
URL_KEYS = ("rpc_url", "api_url")


class TransferError(ValueError):
    """An import that cannot go ahead: the message names the entry and why."""


def _safe_options(options: dict) -> tuple[dict, list[str]]:
    """Options without URLs that could carry a key; the keys left out."""
    kept, dropped = {}, []
    for key, value in (options or {}).items():
        if key in URL_KEYS and isinstance(value, str):
            parts = urlsplit(value)
            if parts.path.strip("/") or parts.query or parts.username or parts.password:
                dropped.append(key)
                continue
        kept[key] = value
    return kept, dropped


def export_setup(clients=None) -> tuple[dict, list[str]]:
    """The setup as a JSON-ready dict, and notes on what was left out."""
    clients = Client.objects.all() if clients is None else clients
    notes, result = [], []
    for client in clients.prefetch_related("wallets", "exchange_accounts", "bots__account").order_by("name", "id"):
        accounts = []
        for account in client.exchange_accounts.order_by("exchange", "name"):
            options, dropped = _safe_options(account.options)
            notes += [f"{client.name} · {account}: {key} left out (it may carry a key)" for key in dropped]
            accounts.append({"exchange": account.exchange, "name": account.name, "options": options,
                             "wallet": account.wallet.address if account.wallet_id else None})
        result.append({
            "name": client.name, "role": client.role, "email": client.email,
            "management_mode": client.management_mode, "is_active": client.is_active,
            "wallets": [{"chain": w.chain, "address": w.address, "label": w.label} for w in client.wallets.all()],
            "accounts": accounts,
            "bots": [{"name": b.name, "account": {"exchange": b.account.exchange, "name": b.account.name},
                      "bot_type": b.bot_type, "symbol": b.symbol, "config": b.config}
                     for b in client.bots.order_by("name", "id")],
        })
    return {"version": VERSION, "clients": result}, notes


def _entry(where: str, item, keys: tuple[str, ...]) -> dict:
    if not isinstance(item, dict):
        raise TransferError(f"{where}: must be an object.")
    missing = [key for key in keys if not isinstance(item.get(key), str) or not item.get(key).strip()]
    if missing:
        raise TransferError(f"{where}: {', '.join(missing)} missing or not text.")
    return item


def _messages(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


@transaction.atomic
def import_setup(data, *, actor: str = "import", dry_run: bool = False, progress=None) -> dict[str, int]:
    """Add what ``data`` (export_setup's shape) holds and this installation lacks; counts of what was added."""
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("clients"), list):
        raise TransferError(f"Not a pipelabs export: expected an object with version {VERSION} and a clients list.")
    added = {"clients": 0, "wallets": 0, "accounts": 0, "bots": 0}
    for i, raw in enumerate(data["clients"]):
        item = _entry(f"clients[{i}]", raw, ("name",))
        where = f"client {item['name']!r}"
        try:
            client = Client.objects.filter(name=item["name"].strip()).first()
            if client is None:
                client = create_client(name=item["name"], role=item.get("role") or Client.Role.CLIENT,
                                       email=item.get("email") or "",
                                       management_mode=item.get("management_mode") or Client.ManagementMode.MANAGED)
                added["clients"] += 1
            for j, wallet in enumerate(item.get("wallets") or []):
                wallet = _entry(f"{where} wallets[{j}]", wallet, ("chain", "address"))
                if not Wallet.objects.filter(chain=wallet["chain"], address=wallet["address"].strip()).exists():
                    add_wallet(client, chain=wallet["chain"], address=wallet["address"].strip(),
                               label=wallet.get("label") or "")
                    added["wallets"] += 1
            for j, account in enumerate(item.get("accounts") or []):
                account = _entry(f"{where} accounts[{j}]", account, ("exchange", "name"))
                if client.exchange_accounts.filter(exchange=account["exchange"], name=account["name"]).exists():
                    continue
                wallet = Wallet.objects.filter(client=client, address=account["wallet"]).first() \
                    if account.get("wallet") else None
                save_account(ExchangeAccount(client=client, exchange=account["exchange"], name=account["name"],
                                             options=account.get("options") or {}, wallet=wallet), actor=actor)
                added["accounts"] += 1
            for j, bot in enumerate(item.get("bots") or []):
                bot = _entry(f"{where} bots[{j}]", bot, ("name", "bot_type", "symbol"))
                if Bot.objects.filter(client=client, name=bot["name"].strip()).exists():
                    continue
                ref = bot.get("account") if isinstance(bot.get("account"), dict) else {}
                account = client.exchange_accounts.filter(exchange=ref.get("exchange"), name=ref.get("name")).first()
                if account is None:
                    raise TransferError(f"{where} bots[{j}]: its account {ref.get('exchange')}:{ref.get('name')} "
                                        "is neither in the file nor in this installation.")
                create_bot(client=client, account=account, name=bot["name"], bot_type=bot["bot_type"],
                           symbol=bot["symbol"], config=bot.get("config") or {}, actor=actor)
                added["bots"] += 1
        except ValidationError as error:
            raise TransferError(f"{where}: {_messages(error)}") from None
        if progress is not None:
            progress(i + 1, len(data["clients"]))
    if dry_run:
        transaction.set_rollback(True)
    return added
