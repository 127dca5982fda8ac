from django.core.management.base import BaseCommand, CommandError

from bots.management.commands._select import add_selection, selected
from bots.services import STARTABLE, BotStateConflict, start_bot


class Command(BaseCommand):
    help = "Start bots (by id, or --all stopped/paused/errored ones); their first tick reconciles their orders."

    def add_arguments(self, parser):
        add_selection(parser, all_help="Every bot that is created, stopped, paused or in error.")

    def handle(self, *args, **options):
        failed = 0
        for bot in selected(options, all_statuses=STARTABLE):
            try:
                bot = start_bot(bot, actor=options["actor"], reason=options["reason"])
            except BotStateConflict as exc:
                failed += 1
                self.stderr.write(f"bot {bot.pk} ({bot.name}): {exc.detail}")
                continue
            self.stdout.write(self.style.SUCCESS(f"bot {bot.pk} ({bot.name}): {bot.status}"))
        if failed:
            raise CommandError(f"{failed} bot(s) not started; see above.")
