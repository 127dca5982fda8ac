from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bots.models import Bot
from bots.services import create_bot
from clients.models import Client
from clients.services import clean_username, create_client, create_operator
from exchanges.models import ExchangeAccount
from exchanges.services import save_account

DEMO_CLIENT = "Demo client"
DEMO_WALLET = ("solana", "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin")
DEMO_BOTS = [
    ("Demo volume SHARP", Bot.Type.VOLUME, "SHARP/USDT",
     {"daily_volume_usd": "5000", "min_trade_usd": "10", "max_trade_usd": "50",
      "interval_min_seconds": 30, "interval_max_seconds": 120}),
    ("Demo spread SOL", Bot.Type.SPREAD, "SOL/USDC",
     {"spread_bps": 40, "order_size_usd": "25", "poll_interval_seconds": 10}),
]


class Command(BaseCommand):
    help = "Create an operator login (printed once) and a demo client with bots on the paper exchange."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator")

    def handle(self, *args, username, **options):
        try:
            username = clean_username(username)
        except ValidationError as exc:
            raise CommandError(f"--username {exc.message_dict['username'][0]}") from None
        if get_user_model().objects.filter(username=username).exists():
            self.stdout.write(f"operator {username!r} exists already (reset: manage.py changepassword {username})")
        else:
            _, password = create_operator(username)
            self.stdout.write(self.style.SUCCESS(f"operator login  user: {username}  password: {password}"))
        if Client.objects.filter(name=DEMO_CLIENT).exists():
            self.stdout.write("demo client exists already")
            return
        with transaction.atomic():
            client = create_client(name=DEMO_CLIENT, wallets=[DEMO_WALLET])
            account = save_account(ExchangeAccount(client=client, exchange="paper", name="demo"), actor="setup_demo")
            for name, bot_type, symbol, config in DEMO_BOTS:
                create_bot(client=client, account=account, name=name, bot_type=bot_type, symbol=symbol,
                           config=config, actor="setup_demo")
        self.stdout.write(f"demo client with {len(DEMO_BOTS)} paper bots created")
