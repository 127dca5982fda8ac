"""Which bots a lifecycle command acts on: ids given, or --all."""

from django.core.management.base import CommandError

from bots.models import Bot
from ledger.management.commands._args import object_id

NO_SUCH_BOTS = "No bot with id {ids}."
NEITHER = "Name bot ids or give --all."
BOTH = "Give bot ids or --all, not both."


def add_selection(parser, *, all_help: str) -> None:
    parser.add_argument("bot_ids", nargs="*", type=object_id("bot id"), metavar="BOT_ID", help="Bot ids.")
    parser.add_argument("--all", action="store_true", help=all_help)
    parser.add_argument("--actor", default="command", help="Who to record in the audit trail (default: command).")
    parser.add_argument("--reason", default="", help="Why, for the audit trail.")


def selected(options, *, all_statuses) -> list[Bot]:
    ids, every = options["bot_ids"], options["all"]
    if ids and every:
        raise CommandError(BOTH)
    if not ids and not every:
        raise CommandError(NEITHER)
    bots = Bot.objects.select_related("account", "client").order_by("pk")
    if every:
        return list(bots.filter(status__in=all_statuses))
    found = list(bots.filter(pk__in=ids))
    missing = sorted(set(ids) - {bot.pk for bot in found})
    if missing:
        raise CommandError(NO_SUCH_BOTS.format(ids=", ".join(map(str, missing))))
    return found
