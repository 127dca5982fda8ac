"""export_setup / import_setup: a setup moves between installations without a secret, and a bad
file is refused with nothing written."""
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from bots.models import Bot
from clients.models import Client, Wallet
from exchanges.models import ExchangeAccount
from exchanges.services import save_credentials
from tests.factories import BotFactory, ExchangeAccountFactory, WalletFactory

pytestmark = pytest.mark.django_db
KEY, SECRET = "ak-export-7f3e9a1b2c", "sk-export-0d8c7b6a5f"


@pytest.fixture
def setup(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = ExchangeAccountFactory(exchange="bitmart", name="main",
                                     options={"api_url": "https://api-cloud.bitmart.com"})
    save_credentials(account, api_key=KEY, secret=SECRET, memo="memo-export-1")
    WalletFactory(client=account.client)
    jupiter = ExchangeAccountFactory(client=account.client, exchange="jupiter", name="sol",
                                     options={"rpc_url": "https://rpc.example.com/?api-key=rpc-secret-991"})
    BotFactory(client=account.client, account=account, name="mm", bot_type="spread", config={"spread_bps": "40"})
    return account, jupiter


def test_export_then_import_into_an_empty_installation(setup, tmp_path, capsys):
    out = tmp_path / "setup.json"
    call_command("export_setup", "--output", str(out))
    text = out.read_text()
    for secret in (KEY, SECRET, "memo-export-1", "rpc-secret-991"):
        assert secret not in text
    assert "rpc_url left out" in capsys.readouterr().err
    Bot.objects.all().delete()
    ExchangeAccount.objects.all().delete()
    Wallet.objects.all().delete()
    Client.objects.all().delete()
    call_command("import_setup", str(out))
    bot = Bot.objects.get()
    assert (bot.name, bot.symbol, bot.config, bot.status, bot.account.exchange) == (
        "mm", "SHARP/USDT", {"spread_bps": "40"}, "created", "bitmart")
    assert ExchangeAccount.objects.get(exchange="bitmart").options == {"api_url": "https://api-cloud.bitmart.com"}
    assert Wallet.objects.count() == 1
    # again: nothing added twice
    call_command("import_setup", str(out))
    assert (Client.objects.count(), ExchangeAccount.objects.count(), Bot.objects.count()) == (1, 2, 1)


@pytest.mark.parametrize("payload, message", [
    ("{", "is not JSON"),
    ("[]", "Not a pipelabs export"),
    ('{"version": 1, "clients": [{"name": ""}]}', r"clients\[0\]: name missing"),
    ('{"version": 1, "clients": [{"name": "A", "accounts": [{"exchange": "nope", "name": "x"}]}]}', "not a known venue"),
    ('{"version": 1, "clients": [{"name": "A", "bots": [{"name": "b", "bot_type": "spread", "symbol": "X/Y", '
     '"account": {"exchange": "paper", "name": "missing"}}]}]}', "neither in the file"),
    ('{"version": 1, "clients": [{"name": "A", "wallets": [{"chain": "evm", "address": "0xnope"}]}]}', "client 'A'"),
])
def test_a_bad_file_is_refused_with_nothing_written(tmp_path, payload, message):
    path = tmp_path / "bad.json"
    path.write_text(payload)
    with pytest.raises(CommandError, match=message):
        call_command("import_setup", str(path))
    assert not Client.objects.exists()


def test_dry_run_writes_nothing(setup, tmp_path):
    out = tmp_path / "setup.json"
    call_command("export_setup", "--output", str(out))
    data = json.loads(out.read_text())
    data["clients"][0]["name"] = "Copy"
    out.write_text(json.dumps(data))
    call_command("import_setup", str(out), "--dry-run")
    assert not Client.objects.filter(name="Copy").exists()


def test_missing_file_is_a_clear_error():
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_setup", "/nonexistent/setup.json")
