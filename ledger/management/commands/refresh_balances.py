from django.core.management.base import BaseCommand, CommandError

from exchanges.models import ExchangeAccount
from ledger.management.commands._args import object_id, seconds
from ledger.services import refresh_balances

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
        result = refresh_balances(accounts, deadline_s=deadline)
        self.stdout.write(f"refreshed {len(result.refreshed)} account(s)")
        for account_id, error in sorted(result.failed.items()):
            self.stderr.write(f"account {account_id}: {error} (last good snapshot kept, marked stale)")
        if result.failed:
            raise CommandError(f"{len(result.failed)} account(s) failed.")
