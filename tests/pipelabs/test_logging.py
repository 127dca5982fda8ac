import io
import json
import logging

import pytest

from pipelabs.logging import ContextFilter, PipelabsJsonFormatter, ScrubFilter, register_secret, request_id_var


@pytest.fixture
def json_lines():
    """The production handler setup (formatter + filters) writing into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PipelabsJsonFormatter("%(message)s"))
    handler.addFilter(ContextFilter())
    handler.addFilter(ScrubFilter())
    logger = logging.getLogger("bots.test")
    logger.addHandler(handler)
    yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_each_line_is_one_json_object_with_context(json_lines):
    logger, lines = json_lines
    token = request_id_var.set("req-123")
    try:
        logger.info("trade recorded %s", "t-1", extra={"bot_id": 7, "trade_id": "t-1", "amount": "1.5"})
    finally:
        request_id_var.reset(token)
    (line,) = lines()
    assert line["message"] == "trade recorded t-1"
    assert line["level"] == "INFO"
    assert line["logger"] == "bots.test"
    assert line["time"].endswith("Z")
    assert (line["bot_id"], line["trade_id"], line["amount"], line["request_id"]) == (7, "t-1", "1.5", "req-123")


def test_errors_carry_the_full_stack_trace(json_lines):
    logger, lines = json_lines
    try:
        raise ValueError("bad tick")
    except ValueError:
        logger.exception("tick failed", extra={"bot_id": 3})
    (line,) = lines()
    assert line["level"] == "ERROR"
    assert "Traceback (most recent call last)" in line["exc_info"]
    assert "ValueError: bad tick" in line["exc_info"]


def test_registered_secrets_and_secret_pairs_are_masked(json_lines):
    logger, lines = json_lines
    register_secret("sk-live-0123456789abcdef")
    try:
        raise RuntimeError("exchange said no for sk-live-0123456789abcdef")
    except RuntimeError:
        logger.exception("call failed: secret=%s api_key='AKIA12345678' Authorization: Bearer tok_999999999",
                         "sk-live-0123456789abcdef", extra={"api_key": "AKIA12345678"})
    text = json.dumps(lines())
    assert "sk-live-0123456789abcdef" not in text
    assert "AKIA12345678" not in text
    assert "tok_999999999" not in text
    assert "***" in text


def test_app_info_is_kept_and_library_info_is_dropped():
    for app in ("pipelabs", "clients.x", "bots.engine", "exchanges.guard", "ledger.services", "django-q"):
        assert logging.getLogger(app).isEnabledFor(logging.INFO), app
    for library in ("urllib3.connectionpool", "ccxt.base.exchange", "httpx"):
        assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        assert logging.getLogger(library).isEnabledFor(logging.WARNING), library


def test_configured_handler_writes_json_and_scrubs():
    handler = logging.getLogger("bots").handlers[0]
    assert isinstance(handler.formatter, PipelabsJsonFormatter)
    assert {type(f) for f in handler.filters} == {ContextFilter, ScrubFilter}


def test_a_full_secret_registry_drops_only_its_oldest_entries(monkeypatch):
    from pipelabs import logging as pipelabs_logging
    from pipelabs.logging import scrub

    monkeypatch.setattr(pipelabs_logging, "_MAX_KNOWN", 3)
    monkeypatch.setattr(pipelabs_logging, "_known_secrets", {})
    for n in range(4):
        register_secret(f"secret-value-{n}")
    assert "secret-value-0" in scrub("secret-value-0")  # the oldest went
    assert all(f"secret-value-{n}" not in scrub(f"x secret-value-{n} y") for n in (1, 2, 3))


@pytest.mark.parametrize("text,secret", [
    ('{"secret": "correct horse battery"}', "correct horse battery"),
    ('{"passphrase": "p@ss,word;1"}', "p@ss,word;1"),
    ('{"Authorization": "Bearer eyJhbGciOi.x.y"}', "eyJhbGciOi.x.y"),
    ("retrying with Bearer abc.def-123", "abc.def-123"),
    ("secretKey=abcd1234", "abcd1234"),
    ("X-BM-KEY: key123456", "key123456"),
    ("GET /spot/v1/wallet?api_key=AKIA999&x=1", "AKIA999"),
    ("access_key=zzz-top", "zzz-top"),
])
def test_secret_shaped_values_are_masked(text, secret):
    from pipelabs.logging import scrub

    assert secret not in scrub(text)
    assert "***" in scrub(text)
