from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.principal import canonical_wallet
from clients.services import create_client


class Command(BaseCommand):
    help = "Register a client (or an admin) with its sign-in wallet, so it can sign in from the frontend."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", choices=["admin", "client"], default="client")
        parser.add_argument("--wallet", required=True, help="EVM (0x…) or Solana (base58) address.")
        parser.add_argument("--chain", choices=["solana", "evm"], help="Default: read from the address.")
        parser.add_argument("--email", default="")

    def handle(self, *args, name, role, wallet, chain, email, **options):
        found = canonical_wallet(wallet)
        chain = chain or (found[0] if found else "solana")
        try:
            client = create_client(name=name, role=role, wallets=[(chain, wallet)], email=email)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"Client {client.pk} ({client.role}) {client.name}: {client.account_identifier}, "
                          f"wallet {chain}:{client.wallets.get().address}")
