from django.core.management.base import BaseCommand, CommandError

from ledger.services import refresh_balances


class Command(BaseCommand):
    help = "Refresh balance snapshots now (default: every account a bot uses); failures keep the last good snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, action="append", dest="accounts", metavar="ID",
                            help="Only this exchange account (repeatable).")
        parser.add_argument("--deadline", type=float, default=30.0, help="Seconds to wait for every answer.")

    def handle(self, *args, accounts, deadline, **options):
        if deadline <= 0:
            raise CommandError("--deadline must be a positive number of seconds.")
        result = refresh_balances(accounts, deadline_s=deadline)
        self.stdout.write(f"refreshed {len(result.refreshed)} account(s)")
        for account_id, error in sorted(result.failed.items()):
            self.stderr.write(f"account {account_id}: {error} (last good snapshot kept, marked stale)")
        if result.failed:
            raise CommandError(f"{len(result.failed)} account(s) failed.")
