from django.core.management.base import BaseCommand, CommandError

from bots.engine.reconcile import reconcile_bot
from bots.models import Bot, Order
from exchanges.errors import ExchangeError
from ledger.management.commands._args import object_id


class Command(BaseCommand):
    help = ("Compare the exchange's open orders with the bots' own: adopt or cancel orders carrying a bot's "
            "client order id, settle finished ones and ingest their fills. Default: every bot with live orders "
            "or running.")

    def add_arguments(self, parser):
        parser.add_argument("--bot", type=object_id("--bot"), help="Only this bot's id.")

    def handle(self, *args, bot=None, **options):
        bots = Bot.objects.select_related("account").order_by("pk")
        if bot is not None:
            bots = list(bots.filter(pk=bot))
            if not bots:
                raise CommandError(f"No bot with id {bot}.")
        else:
            live = Order.objects.filter(status__in=Order.LIVE, bot__isnull=False).values("bot_id")
            bots = list(bots.filter(status__in=(Bot.Status.RUNNING, Bot.Status.PAUSED)) | bots.filter(pk__in=live))
        failed = 0
        for one in bots:
            label = f"bot {one.pk} ({one.name}, {one.account.exchange} {one.symbol})"
            try:
                result = reconcile_bot(one)
            except ExchangeError as exc:
                failed += 1
                self.stderr.write(f"{label}: exchange error {exc.code}: {exc}")
                continue
            self.stdout.write(f"{label}: {result.adopted} adopted, {result.cancelled} cancelled, "
                              f"{result.settled} settled, {result.unresolved} unresolved, {result.fills} new fills")
        if failed:
            raise CommandError(f"{failed} bot(s) failed; see above.")
