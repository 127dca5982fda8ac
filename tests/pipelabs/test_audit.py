"""The audit trail lives in a neutral place: every app writes it, a venue knows nothing of bots."""

import ast
from pathlib import Path

from django.db import connection

from pipelabs.audit import MASK, record_event
from pipelabs.models import AuditEvent
from tests.factories import BotFactory

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_exchanges_import_nothing_from_bots_or_ledger():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.split(".")[0] in ("bots", "ledger"))
        for path in (ROOT / "exchanges").rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_audit_table_keeps_its_name_and_rows(db):
    bot = BotFactory()
    record_event(actor="op", action="bot.update", bot=bot, changes={"name": ["a", "b"]})
    with connection.cursor() as cursor:
        cursor.execute("SELECT actor, action FROM bots_auditevent")
        assert cursor.fetchall() == [("op", "bot.update")]
    assert AuditEvent.objects.get().client_id == bot.client_id


def test_secrets_are_masked_at_any_depth(db):
    event = record_event(actor="op", action="credentials_saved", changes={
        "api_key": "AKIA123", "nested": {"secret": "s3cr3t", "rpc": [{"private_key": "pk"}]}, "name": "kept",
        "passphrase": "",
    })
    event.refresh_from_db()
    assert event.changes == {"api_key": MASK, "nested": {"secret": MASK, "rpc": [{"private_key": MASK}]},
                             "name": "kept", "passphrase": ""}
    assert "s3cr3t" not in str(event.changes) and "AKIA123" not in str(event.changes)
