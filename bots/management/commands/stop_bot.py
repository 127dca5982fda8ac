from django.core.management.base import BaseCommand, CommandError

from bots.management.commands._select import add_selection, selected
from bots.models import Bot
from bots.services import STOPPABLE, stop_bot


class Command(BaseCommand):
    help = ("Stop bots (by id, or --all): cancel their open orders (or --keep-orders), sync their fills "
            "one last time. A bot whose orders cannot be cancelled now stays 'stopping' and the engine retries.")

    def add_arguments(self, parser):
        add_selection(parser, all_help="Every bot that is running, paused, in error or stopping.")
        orders = parser.add_mutually_exclusive_group()
        orders.add_argument("--cancel-orders", dest="keep_orders", action="store_false", default=False,
                            help="Cancel the bots' open orders (the default).")
        orders.add_argument("--keep-orders", dest="keep_orders", action="store_true",
                            help="Leave the bots' open orders resting on the exchange.")

    def handle(self, *args, **options):
        pending = 0
        for bot in selected(options, all_statuses=(*STOPPABLE, Bot.Status.STOPPING)):
            bot = stop_bot(bot, actor=options["actor"], keep_orders=options["keep_orders"], reason=options["reason"])
            if bot.status == Bot.Status.STOPPED:
                self.stdout.write(self.style.SUCCESS(f"bot {bot.pk} ({bot.name}): stopped"))
            else:
                pending += 1
                self.stderr.write(f"bot {bot.pk} ({bot.name}): {bot.status}. {bot.health_message}".rstrip())
        if pending:
            raise CommandError(f"{pending} bot(s) not stopped yet; the engine keeps trying (see above).")
