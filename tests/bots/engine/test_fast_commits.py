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
