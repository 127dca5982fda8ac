"""Property-based fuzzing of the whole API from our own OpenAPI schema (schemathesis), as a client
and as an admin: no 5xx, every status code documented, every answer matches its schema.

CI runs a bounded, deterministic number of examples per operation; FUZZ_EXAMPLES=500 is the long run."""

import io
import os

import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from django.core.handlers.wsgi import WSGIHandler
from tests.api import client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


@pytest.fixture
def app(settings):
    # The fuzzer's probes (each example's invalid-auth retries too) come from one address: the
    # limiter's documented 429 would soon answer everything instead of the operations under test.
    settings.API_RATE_LIMIT = settings.SIGN_IN_RATE_LIMIT = settings.SIGN_IN_WALLET_RATE_LIMIT = "1000000/m"
    # Django's test client does the same: a request must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def fuzz(app, token, mode=GenerationMode.POSITIVE):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            # Not positive_data_acceptance: some rules cannot be said in JSON Schema (a wallet
            # address's checksum, "pair or base_asset and quote_asset"), so a schema-valid body may
            # rightly get a documented 400. Every other check runs: no 5xx, statuses, shapes.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:  # negative mode: nothing in this operation can be made schema-invalid
            continue
        except (Exception, FailureGroup) as error:  # collect them all: one report for the whole API
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)


def world(role):
    client, api = client_with_token(f"fuzz-{role}", role=role, wallets=[("evm", "0x" + "42" * 20)])
    BotFactory(client=client, account=ExchangeAccountFactory(client=client, name="main"))
    return api.headers["HTTP_AUTHORIZATION"].split()[1]


def test_fuzz_as_a_client(app):
    fuzz(app, world("client"))


# Schema-invalid input only as an admin (every route is open to it, so it reaches the most code;
# as a client too would double the CI time for the same validation).
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_as_an_admin(app, mode):
    fuzz(app, world("admin"), mode)


def test_schema_documents_every_error_answer_and_the_list_bounds(client):
    """Regressions the fuzzing found: errors (400/403/404...) were undocumented, and /bots took
    page_size as any string while the view accepts 1..500 only."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path != "/api/schema/":
                assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)
    params = {p["name"]: p["schema"] for p in schema["paths"]["/bots"]["get"]["parameters"]}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "code"]


@pytest.mark.parametrize("method,path", [
    ("put", "/clients/{digit}/wallet"), ("get", "/clients/{digit}"), ("get", "/clients/{digit}/key-status"),
    ("delete", "/clients/{client}/wallet/{digit}"), ("get", "/bots?page_size={digit}"), ("get", "/bots?page={digit}"),
])
def test_a_unicode_digit_is_a_4xx_not_a_500(method, path):
    """Found by the negative fuzzing: "²".isdigit() is True but int("²") raises, so an id or a page
    of superscript digits was a 500."""
    client, api = client_with_token("fuzz-digits", role="admin")
    response = api.call(method, path.format(digit="\u00b2", client=client.pk), {} if method == "put" else None)
    assert 400 <= response.status_code < 500, (path, response.status_code)


def test_commands_refuse_a_unicode_digit_id():
    from django.core.management import CommandError, call_command

    for args in (("check_exchange", "\u00b2"), ("issue_token", "--client", "\u00b2")):
        with pytest.raises(CommandError):
            call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
