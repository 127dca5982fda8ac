from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clients.models import Client
from clients.signin import issue_token


class Command(BaseCommand):
    help = "Print a new API token for an operator (--user) or a client (--client id or account identifier)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="Operator (staff) username.")
        who.add_argument("--client", help="Client id or account identifier.")
        parser.add_argument("--hours", type=float, default=None, help="Lifetime; default API_TOKEN_TTL_HOURS.")

    def handle(self, *args, user, client, hours, **options):
        from datetime import timedelta

        if hours is not None and not 0 < hours <= 24 * 366:
            raise CommandError("--hours must be more than 0 and at most a year.")
        if user:
            owner = get_user_model().objects.filter(username=user, is_active=True).first()
            if owner is None or not owner.is_staff:
                raise CommandError(f"No active staff operator {user!r}.")
        else:
            lookup = {"pk": int(client)} if client.isascii() and client.isdigit() and int(client) < 2**63 else {"account_identifier": client}
            owner = Client.objects.filter(**lookup, is_active=True).first()
            if owner is None:
                raise CommandError(f"No active client {client!r}.")
        token, expires_at = issue_token(owner, ttl=timedelta(hours=hours) if hours else None)
        self.stderr.write(f"Expires {expires_at:%Y-%m-%d %H:%M} UTC. Shown once; only its digest is stored.")
        self.stdout.write(token)
