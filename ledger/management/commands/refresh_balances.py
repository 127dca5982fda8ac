from django.core.management.base import BaseCommand, CommandError

from exchanges.models import ExchangeAccount
from ledger.management.commands._args import object_id, seconds
from ledger.services import refresh_balances
from pipelabs.management.commands._progress import Progress, interruptible

MAX_DEADLINE_S = 86_400.0
NO_ACCOUNT = "No exchange account with id {ids}; nothing was refreshed."


class Command(BaseCommand):
    help = "Refresh balance snapshots now (default: every account a bot uses); failures keep the last good snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=object_id("--account"), action="append", dest="accounts", metavar="ID",
                            help="Only this exchange account (repeatable).")
        parser.add_argument("--deadline", type=seconds("--deadline", MAX_DEADLINE_S), default=30.0,
                            help=f"Seconds to wait for every answer (at most {MAX_DEADLINE_S:g}).")

    def handle(self, *args, accounts, deadline, **options):
        if accounts:
            missing = set(accounts) - set(ExchangeAccount.objects.filter(pk__in=accounts).values_list("pk", flat=True))
            if missing:
                raise CommandError(NO_ACCOUNT.format(ids=", ".join(map(str, sorted(missing)))))
        # The same accounts refresh_balances picks: those given, else every account a bot uses.
        total = len(accounts) if accounts else ExchangeAccount.objects.filter(bots__isnull=False).distinct().count()
        progress = Progress(self.stdout, "account(s) answered", total=total)

        def answered(account_id, answer):
            progress.step(detail=f"account {account_id}{'' if isinstance(answer, list) else ' failed'}")

        def done():
            # Answers are stored in small batches, each in one transaction; the batch not yet stored
            # is dropped whole, and those accounts keep their last snapshot until the next refresh.
            return f"{progress.line()} before the stop; the answers not yet stored were dropped, not half-written."

        with interruptible(done):
            result = refresh_balances(accounts, deadline_s=deadline, on_result=answered)
        self.stdout.write(f"refreshed {len(result.refreshed)} account(s)")
        for account_id, error in sorted(result.failed.items()):
            self.stderr.write(f"account {account_id}: {error} (last good snapshot kept, marked stale)")
        if result.failed:
            raise CommandError(f"{len(result.failed)} account(s) failed.")
