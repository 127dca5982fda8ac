from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import AuditEvent, Bot
from clients.models import Client
from exchanges.models import ExchangeAccount


def record_event(*, actor: str, action: str, bot: Bot | None = None, client: Client | None = None,
                 changes: dict | None = None, reason: str = "") -> AuditEvent:
    """An audit row; callers write it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        bot=bot,
        client=client or (bot.client if bot else None),
        target=str(bot) if bot else (str(client) if client else ""),
        changes=changes or {},
        reason=reason,
    )


@transaction.atomic
def create_bot(*, client: Client, account: ExchangeAccount, name: str, bot_type: str, symbol: str,
               config: dict | None = None, actor: str = "system") -> Bot:
    """A stopped bot of `client` on its own `account`."""
    errors = {}
    if account.client_id != client.id:
        errors["account"] = "The exchange account belongs to another client."
    if bot_type not in Bot.Type.values:
        errors["bot_type"] = f"bot_type must be one of {', '.join(Bot.Type.values)}."
    symbol = (symbol or "").strip().upper()
    if symbol.count("/") != 1 or not all(symbol.split("/")):
        errors["symbol"] = "A symbol is BASE/QUOTE, e.g. SHARP/USDT."
    if not (name or "").strip():
        errors["name"] = "A bot needs a name."
    if config is not None and not isinstance(config, dict):
        errors["config"] = "config is a JSON object."
    if errors:
        raise ValidationError(errors)
    bot = Bot.objects.create(
        client=client, account=account, name=name.strip(), bot_type=bot_type, symbol=symbol,
        config=config or {}, status=Bot.Status.CREATED, desired_status=Bot.Status.STOPPED,
    )
    record_event(actor=actor, action="bot.create", bot=bot, changes={"config": bot.config})
    return bot
