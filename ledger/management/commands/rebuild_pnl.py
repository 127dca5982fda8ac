from django.core.management.base import BaseCommand, CommandError

from ledger.management.commands._args import add_bot_arguments, selected_bots
from ledger.services import rebuild_pnl
from pipelabs.display import amount
from pipelabs.management.commands._progress import Progress, interruptible


class Command(BaseCommand):
    help = "Recompute bots' FIFO P&L and rollups from all their trades and report any difference."

    def add_arguments(self, parser):
        add_bot_arguments(parser)

    def handle(self, *args, **options):
        bots = selected_bots(options)
        progress = Progress(self.stdout, "bot(s)", total=len(bots))

        def done():
            # Each bot's rebuild is one transaction: the one under way was rolled back, untouched.
            return f"{progress.line()} rebuilt; the rest keep their incremental figures."

        with interruptible(done):
            self.rebuild(bots, progress)

    def rebuild(self, bots, progress):
        differing = 0
        for bot in bots:
            result = rebuild_pnl(bot)
            progress.done += 1
            after = result.after
            summary = (f"[{progress.count()}] bot {bot.pk}: {after['trade_count']} trades, "
                       f"realized {amount(after['realized'])}, position {amount(after['position'])}")
            if not result.differences:
                self.stdout.write(self.style.SUCCESS(f"{summary}: same as the incremental figures"))
                continue
            differing += 1
            self.stdout.write(self.style.WARNING(f"{summary}: DIFFERED from the incremental figures:"))
            for name, (before, now) in sorted(result.differences.items()):
                if name == "rollups":
                    changed = sorted({*before, *now} - {k for k in before if before.get(k) == now.get(k)})
                    self.stdout.write(f"  rollups: {len(changed)} bucket(s) differ, e.g. {changed[:3]}")
                else:
                    self.stdout.write(f"  {name}: {amount(before)} -> {amount(now)}")
        if differing:
            raise CommandError(f"{differing} bot(s) had incremental figures that differed; they are rebuilt now.")
