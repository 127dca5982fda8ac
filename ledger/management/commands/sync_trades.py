from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from exchanges.errors import ExchangeError
from ledger.management.commands._args import add_bot_arguments, parse_moment, selected_bots
from ledger.services import sync_trades
from pipelabs.management.commands._progress import Progress, interruptible


class Command(BaseCommand):
    help = "Backfill or re-sync bots' own fills from their exchange over a date range (idempotent)."

    def add_arguments(self, parser):
        add_bot_arguments(parser)
        parser.add_argument("--since", help="From this date (YYYY-MM-DD, UTC) or ISO time; default: the bot's cursor.")
        parser.add_argument("--until", help="Up to this date (inclusive) or ISO time; default: now.")

    def handle(self, *args, **options):
        since = parse_moment(options["since"])
        until = parse_moment(options["until"], end_of_day=True)
        if since and until and since > until:
            raise CommandError("--since is after --until.")
        bots = selected_bots(options)
        progress = Progress(self.stdout, "bot(s)", total=len(bots))

        def done():
            # Each page of fills is stored in its own transaction and the cursor moves after it, so
            # the page under way was rolled back and the next sync starts from where this one stopped.
            return f"{progress.line()} synced; the bot under way kept the pages stored before the stop."

        with interruptible(done):
            self.sync(bots, since, until, progress)

    def sync(self, bots, since, until, progress):
        failed = 0
        for bot in bots:
            progress.done += 1
            label = f"[{progress.count()}] bot {bot.pk} ({bot.name}, {bot.account.exchange} {bot.symbol})"

            def progress(result, label=label):
                self.stdout.write(f"  {label}: page {result.pages}, {result.fetched} fetched, {result.new} new")

            try:
                result = sync_trades(bot, since=since, until=until, progress=progress)
            except ExchangeError as exc:
                failed += 1
                self.stderr.write(f"{label}: exchange error {exc.code}: {exc}")
                continue
            except ValidationError as exc:  # the venue sent fills the ledger refuses (another pair, ...)
                failed += 1
                self.stderr.write(f"{label}: refused fills: {'; '.join(exc.messages)}")
                continue
            self.stdout.write(self.style.SUCCESS(f"{label}: {result.new} new of {result.fetched} fetched"))
        if failed:
            raise CommandError(f"{failed} bot(s) failed; see above.")
