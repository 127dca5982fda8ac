from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ledger.services.snapshots import MAX_DAYS, prune, prune_days
from pipelabs.management.commands._progress import interruptible


def _days(value: str) -> int:
    from argparse import ArgumentTypeError

    try:
        return prune_days(value)
    except ValidationError as exc:
        raise ArgumentTypeError(exc.messages[0]) from None


class Command(BaseCommand):
    help = "Delete balance snapshots and price history older than --days (the latest of each is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=_days, default=None,
                            help=f"Age in days, 1 to {MAX_DAYS} "
                                 f"(default: PRUNE_AFTER_DAYS, now {settings.PRUNE_AFTER_DAYS}).")

    def handle(self, *args, days, **options):
        deleted = {"balance snapshots": 0, "prices": 0}

        def progress(kind, count):
            deleted[kind] += count
            self.stdout.write(f"  {deleted[kind]:,} {kind} deleted so far")

        def done():
            return (f"{deleted['balance snapshots']:,} balance snapshot(s) and {deleted['prices']:,} price(s) deleted, "
                    "each batch whole (the one under way was rolled back); run prune again to finish.")

        try:
            with interruptible(done):
                result = prune(days, progress=progress)
        except ValidationError as exc:  # a bad PRUNE_AFTER_DAYS setting
            raise CommandError(exc.messages[0]) from None
        self.stdout.write(
            f"pruned {result.balance_snapshots} balance snapshot(s) and {result.price_history} price(s) "
            f"older than {result.cutoff:%Y-%m-%d %H:%M} UTC; the latest of each kept"
        )
