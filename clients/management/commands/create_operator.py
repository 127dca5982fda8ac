from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.services import create_operator
from pipelabs.roles import ROLES


class Command(BaseCommand):
    help = ("Create a staff login for the admin with a role: support (view only), trader (bots: create, "
            "edit, start/stop) or admin (everything, credentials included). The password is printed once.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--group", required=True, choices=ROLES, help="the operator's role")

    def handle(self, *args, username, group, **options):
        try:
            _, password = create_operator(username, role=group)
        except ValidationError as exc:
            raise CommandError(" ".join(" ".join(m) for m in exc.message_dict.values())) from None
        self.stdout.write(self.style.SUCCESS(f"operator {username.strip()!r} ({group})  password: {password}"))
