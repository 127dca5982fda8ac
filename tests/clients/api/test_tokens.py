"""API tokens: hashed at rest, expiring, revocable; operators get them from a command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from knox.models import AuthToken

from clients.principal import forget_all
from clients.services import create_client, create_operator
from clients.signin import issue_token, revoke_tokens
from tests.api import Api, body
from tests.factories import BotFactory

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_expires(settings):
    client = create_client(name="acme")
    token, expires_at = issue_token(client)
    row = AuthToken.objects.get()
    assert token not in row.digest and expires_at > timezone.now()
    assert Api(token).get("/bots").status_code == 200
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    forget_all()
    assert Api(token).get("/bots").status_code == 401


def test_revoked_token_stops_working(settings):
    client = create_client(name="acme")
    token, _ = issue_token(client)
    assert Api(token).get("/bots").status_code == 200
    revoke_tokens(client.user)
    assert Api(token).get("/bots").status_code == 401


def test_issue_token_command_for_operator_and_client():
    user, _ = create_operator("ops")
    out = StringIO()
    call_command("issue_token", "--user", "ops", stdout=out, stderr=StringIO())
    token = out.getvalue().strip()
    other = BotFactory()
    assert other.pk in {b["id"] for b in body(Api(token).get("/bots"))["bots"]}  # a superuser operator sees all
    client = create_client(name="acme")
    out = StringIO()
    call_command("issue_token", "--client", client.account_identifier, "--hours", "1", stdout=out, stderr=StringIO())
    assert body(Api(out.getvalue().strip()).get("/bots"))["bots"] == []
    with pytest.raises(CommandError):
        call_command("issue_token", "--user", "nobody", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("issue_token", "--client", "99999999999999999999999", stdout=StringIO(), stderr=StringIO())


def test_create_client_command_registers_an_admin_wallet():
    out = StringIO()
    call_command("create_client", "--name", "Boss", "--role", "admin", "--wallet", "0x" + "cd" * 20, stdout=out)
    assert "(admin)" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("create_client", "--name", "Dup", "--wallet", "0x" + "cd" * 20, stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_client", "--name", "Bad", "--wallet", "nope", stdout=StringIO())


def test_wallet_header_only_with_the_compatibility_switch(settings):
    create_client(name="acme", wallets=[("evm", "0x" + "ef" * 20)])
    api = Api(HTTP_X_WALLET_ADDRESS="0x" + "ef" * 20)
    settings.API_ALLOW_WALLET_HEADER = False
    assert api.get("/bots").status_code == 401
    settings.API_ALLOW_WALLET_HEADER = True
    assert api.get("/bots").status_code == 200
    assert Api(HTTP_X_WALLET_ADDRESS="0x" + "12" * 20).get("/bots").status_code == 401


def test_admin_role_operator_acts_on_all():
    user, _ = create_operator("boss", role="admin")
    token, _ = issue_token(user)
    assert Api(token).get("/clients").status_code == 200


def test_admin_action_issues_a_working_token(client):
    from django.contrib.messages import get_messages

    user, password = create_operator("root")
    client.force_login(user)
    acme = create_client(name="acme")
    response = client.post("/admin/clients/client/", {"action": "issue_api_token", "_selected_action": [acme.pk]},
                           follow=True)
    text = " ".join(str(m) for m in get_messages(response.wsgi_request)) or response.content.decode()
    token = next(word for word in text.split() if len(word) == 64)
    assert Api(token).get("/bots").status_code == 200
