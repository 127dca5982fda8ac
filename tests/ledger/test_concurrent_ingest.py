"""Two workers ingesting the same fills at once store each trade once (real threads, real PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections

from ledger import fifo
from ledger.models import BotTrade, PnlState
from ledger.services import ingest_trades, rebuild_pnl
from tests.factories import BotFactory
from tests.ledger.conftest import fill

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises whole-database writes, so two writers never really race; "
    "run with DATABASE_URL=postgres://…",
)


def _race(bot, batches):
    barrier = threading.Barrier(len(batches))
    counts, errors = [0] * len(batches), []

    def work(i):
        try:
            barrier.wait(timeout=10)
            counts[i] = ingest_trades(bot, batches[i])
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return counts


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ingesters_of_the_same_fills_store_each_once():
    bot = BotFactory()
    fills = [fill(f"t{i}", "buy" if i % 3 else "sell", i % 7 + 1, 1 + i % 5, minutes=i) for i in range(400)]
    counts = _race(bot, [fills, list(reversed(fills))])
    assert sorted(counts) == [0, 400]
    assert BotTrade.objects.filter(bot=bot).count() == 400
    state = PnlState.objects.get(bot=bot)
    assert state.trade_count == 400
    assert rebuild_pnl(bot).differences == {}


@pytest.mark.django_db(transaction=True)
def test_overlapping_concurrent_batches_store_the_union_once_with_consistent_pnl():
    bot = BotFactory()
    fills = [fill(f"t{i}", "buy" if i % 2 else "sell", 1 + i % 4, 10 + i % 3, minutes=i) for i in range(300)]
    counts = _race(bot, [fills[:200], fills[100:], fills[50:250]])
    assert sum(counts) == 300
    assert BotTrade.objects.filter(bot=bot).count() == 300
    engine = PnlState.objects.get(bot=bot).engine
    assert rebuild_pnl(bot).differences == {}
    assert fifo.FifoState.from_json(engine).trade_count == 300
