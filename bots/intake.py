"""Bots made from the frontend's requests: the account, its keys and the bot in one step.

The frontend names an account by its label and venue (``account`` + ``connector``) and may send
the API keys in the same body; this finds or makes the account, stores the keys encrypted and
creates the bot, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from bots.config import DEX, SPREAD, VOLUME
from bots.models import Bot
from bots.services import bot_field_errors, create_bot, normalise_symbol
from clients.models import Client
from clients.services import store_wallet_key
from exchanges.models import ExchangeAccount
from exchanges.services import CREDENTIALS_REQUIRED, account_errors, save_account, save_credentials

LEGACY_PAIR_NOTICE = (
    "Legacy pair bot (strategy 'both', empty config): created as a spread bot with the default spread "
    "settings (300 bps, one level of 10 quote per side); edit its config to tune it."
)
CONNECTOR_REQUIRED = "Name the venue: connector (or exchange), e.g. bitmart, coinstore, jupiter, paper."
PAIR_REQUIRED = "A pair is BASE/QUOTE, e.g. SHARP/USDT (or base_asset and quote_asset)."
UNKNOWN_STRATEGY = "strategy must be one of: {choices}."
DEX_EXCHANGE = "jupiter"
DEFAULT_ACCOUNT = "main"
# The earlier system's strategy names → our bot types; "both" was its pair bot (quotes both sides).
STRATEGY_TYPES = {
    "volume": VOLUME, "volume_generation": VOLUME,
    "spread": SPREAD, "market_making": SPREAD, "mm": SPREAD, "both": SPREAD,
    "dex": DEX, "swap": DEX, "jupiter": DEX,
}


@dataclass(frozen=True)
class Keys:
    api_key: str = ""
    secret: str = ""
    memo: str = ""
    passphrase: str = ""
    private_key: str = ""

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key or self.secret)


def keys_from(data: dict) -> Keys:
    def text(*names):
        for name in names:
            value = data.get(name)
            if value not in (None, ""):
                return str(value)
        return ""

    return Keys(api_key=text("api_key", "apiKey"), secret=text("api_secret", "secret", "secret_key", "apiSecret"),
                memo=text("memo", "uid"), passphrase=text("passphrase"), private_key=text("private_key"))


def bot_type_for(data: dict) -> tuple[str, bool]:
    """(bot type, whether it is the legacy pair bot) from ``bot_type`` and the earlier ``strategy``."""
    strategy = str(data.get("strategy") or "").strip().lower()
    bot_type = str(data.get("bot_type") or "").strip().lower()
    legacy = strategy == "both" and not data.get("config")
    if bot_type in Bot.Type.values:
        return bot_type, legacy
    if strategy and strategy not in STRATEGY_TYPES:
        raise ValidationError({"strategy": UNKNOWN_STRATEGY.format(choices=", ".join(sorted(STRATEGY_TYPES)))})
    if strategy:
        return STRATEGY_TYPES[strategy], legacy
    if bot_type == "dex" or str(data.get("connector") or data.get("exchange") or "").lower() == DEX_EXCHANGE:
        return DEX, False
    return bot_type or VOLUME, False


def pair_from(data: dict) -> str:
    pair = data.get("pair") or data.get("symbol")
    if not pair and data.get("base_asset") and data.get("quote_asset"):
        pair = f"{data['base_asset']}/{data['quote_asset']}"
    pair = normalise_symbol(str(pair or "")).replace("-", "/").replace("_", "/")
    if pair.count("/") != 1 or not all(pair.split("/")):
        raise ValidationError({"pair": PAIR_REQUIRED})
    return pair


def _account(client: Client, *, name: str, exchange: str, actor: str) -> ExchangeAccount:
    accounts = ExchangeAccount.objects.filter(client=client, name=name)
    if exchange:
        accounts = accounts.filter(exchange=exchange)
    found = accounts.order_by("pk").first()
    if found is not None:
        return found
    if not exchange:
        raise ValidationError({"connector": CONNECTOR_REQUIRED})
    if errors := account_errors(exchange=exchange, options={}):
        raise ValidationError({"connector": errors.get("exchange") or errors.get("options")})
    return save_account(ExchangeAccount(client=client, exchange=exchange, name=name), actor=actor)


def store_keys(account: ExchangeAccount, keys: Keys, *, actor: str) -> None:
    """Save whatever keys came: an API key pair for a CEX account, a wallet key for a DEX one."""
    if keys.private_key:
        wallet = store_wallet_key(account.client, private_key=keys.private_key, actor=actor)
        if account.wallet_id != wallet.pk:
            ExchangeAccount.objects.filter(pk=account.pk).update(wallet=wallet)
            account.wallet = wallet
    if keys.has_api_key:
        if not (keys.api_key and keys.secret):
            raise ValidationError({"api_key": CREDENTIALS_REQUIRED})
        save_credentials(account, api_key=keys.api_key, secret=keys.secret, memo=keys.memo,
                         passphrase=keys.passphrase, actor=actor)


def create_bot_for(client: Client, data: dict, *, actor: str) -> tuple[Bot, str | None]:
    """A bot of ``client`` from the frontend's body; (bot, notice), the notice naming any legacy defaults.

    Raises ValidationError (one message per field) and writes nothing when any part is wrong.
    """
    bot_type, legacy = bot_type_for(data)
    pair = pair_from(data)
    exchange = str(data.get("connector") or data.get("exchange") or "").strip().lower()
    if bot_type == DEX and not exchange:
        exchange = DEX_EXCHANGE
    account_name = str(data.get("account") or DEFAULT_ACCOUNT).strip()[:100] or DEFAULT_ACCOUNT
    config = data.get("config")
    config = {} if config is None else config
    name = str(data.get("name") or f"{pair} {bot_type}").strip()
    # The bot's own fields first, so a bad config writes no account and no key.
    if errors := bot_field_errors(client=None, account=None, name=name, bot_type=bot_type, symbol=pair,
                                  config=config):
        raise ValidationError(errors)
    keys = keys_from(data)
    with transaction.atomic():
        account = _account(client, name=account_name, exchange=exchange, actor=actor)
        store_keys(account, keys, actor=actor)
        bot = create_bot(client=client, account=account, name=name, bot_type=bot_type, symbol=pair,
                         config=config, actor=actor)
    return bot, LEGACY_PAIR_NOTICE if legacy else None


def account_with_keys(client: Client, *, exchange: str, name: str, keys: Keys, actor: str) -> ExchangeAccount:
    """Find or make the client's account ``name`` at ``exchange`` and store the keys given, all or nothing."""
    exchange = (exchange or "").strip().lower()
    if not exchange:
        raise ValidationError({"exchange": CONNECTOR_REQUIRED})
    if not keys.has_api_key and not keys.private_key:
        raise ValidationError({"api_key": CREDENTIALS_REQUIRED})
    with transaction.atomic():
        account = _account(client, name=(name or DEFAULT_ACCOUNT).strip() or DEFAULT_ACCOUNT, exchange=exchange,
                           actor=actor)
        store_keys(account, keys, actor=actor)
    return account
