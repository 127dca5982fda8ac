"""Writes that skip the WAL flush wait do so only as the outermost transaction, never loosening a caller's."""

import pytest
from django.db import connection, transaction

from exchanges.connectors.paper.engine import simulated_write


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_simulated_write_is_asynchronous_only_on_its_own():
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    with simulated_write():
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"  # SET LOCAL: gone with its transaction
    with transaction.atomic():  # a caller's transaction, with its own durable writes
        with simulated_write():
            assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_an_unflushed_update_changes_its_rows_and_leaves_the_session_durable():
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    from django.test.utils import CaptureQueriesContext

    from bots.models import EngineLease
    from exchanges.connectors.paper.engine import _unflushed

    EngineLease.objects.create(name="x")
    with CaptureQueriesContext(connection) as queries:
        assert _unflushed(EngineLease.objects.filter(name="x")).update(owner="me") == 1
    assert len(queries) == 1 and "set_config" in queries[0]["sql"]  # one round trip, no BEGIN/COMMIT
    assert EngineLease.objects.get(name="x").owner == "me"
    assert synchronous_commit() == "on"  # only that statement's transaction skipped the wait
    with transaction.atomic():  # inside a caller's transaction: a plain UPDATE
        with CaptureQueriesContext(connection) as queries:
            _unflushed(EngineLease.objects.filter(name="x")).update(owner="you")
        assert "set_config" not in queries[0]["sql"]
