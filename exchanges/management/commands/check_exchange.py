from django.core.management.base import BaseCommand, CommandError

from exchanges.errors import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.registry import connector_for
from exchanges.services import connector_failed
from pipelabs.display import amount

SHOWN_MARKETS = 10


class Command(BaseCommand):
    help = "Test an exchange account: load its markets and fetch its balance, printing the exchange's answer."

    def add_arguments(self, parser):
        parser.add_argument("account_id", help="ExchangeAccount id.")

    def handle(self, *args, account_id, **options):
        if not (account_id.isascii() and account_id.isdigit()) or not 0 < int(account_id) < 2**63:
            raise CommandError(f"No exchange account {account_id}.")
        try:
            account = ExchangeAccount.objects.get(pk=account_id)
        except ExchangeAccount.DoesNotExist:
            raise CommandError(f"No exchange account {account_id}.") from None
        self.stdout.write(f"Account {account.pk}: {account} of {account.client}")
        try:
            connector = connector_for(account)
            try:
                markets = connector.load_markets()
                names = ", ".join(sorted(markets)[:SHOWN_MARKETS])
                more = " …" if len(markets) > SHOWN_MARKETS else ""
                self.stdout.write(f"Markets: {len(markets)} ({names}{more})")
                balances = connector.fetch_balance()
            finally:
                connector.close()
        except ExchangeError as exc:
            raise CommandError(f"{type(exc).__name__} ({exc.code}): {exc}") from None
        except Exception as exc:  # noqa: BLE001  a connector bug: its kind, never its text (it may hold a secret)
            raise CommandError(str(connector_failed(account, exc))) from None
        held = [b for b in balances if b.total]
        self.stdout.write(f"Balance: {len(held)} assets held")
        for balance in held:
            self.stdout.write(f"  {balance.asset}: available {amount(balance.available)}, locked {amount(balance.locked)}")
        self.stdout.write(self.style.SUCCESS("OK"))
