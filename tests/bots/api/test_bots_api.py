"""The bots endpoints as the frontend calls them: shapes, scoping, errors, exact money, query counts."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots import intake
from bots.models import Bot
from pipelabs.models import AuditEvent
from clients.services import create_client
from clients.signin import issue_token
from exchanges.models import ExchangeAccount, ExchangeCredential
from ledger.models import BalanceRefresh, BalanceSnapshot, BotTrade, HourlyRollup, PnlState, PriceSnapshot
from tests.api import ORIGIN, Api, body, client_with_token
from tests.factories import BotFactory, BotTradeFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-never-echoed-0123456789"
API_KEY = "key-abcdef-1234"


@pytest.fixture
def acme():
    client, api = client_with_token("acme")
    account = ExchangeAccountFactory(client=client, name="main", exchange="paper")
    return client, api, account


@pytest.fixture
def admin_api():
    return client_with_token("ops", role="admin")[1]


def with_snapshot(account, base="SHARP", quote="USDT", available=Decimal("1234.567890123456789"), locked=Decimal("0.1")):
    now = timezone.now()
    for asset in (base, quote):
        BalanceSnapshot.objects.create(account=account, asset=asset, available=available, locked=locked,
                                       total=available + locked, taken_at=now, confirmed_at=now)
    BalanceRefresh.objects.update_or_create(account=account, defaults={"last_success_at": now, "last_attempt_at": now})


def test_list_is_scoped_filtered_and_paginated(acme, admin_api):
    client, api, account = acme
    mine = [BotFactory(client=client, account=account, bot_type=t) for t in ("volume", "spread", "volume")]
    other = BotFactory()
    answer = body(api.get("/bots"))
    assert {b["id"] for b in answer["bots"]} == {b.pk for b in mine}
    assert answer["count"] == 3
    bot = answer["bots"][0]
    for field in ("id", "name", "client_id", "account", "connector", "exchange", "pair", "base_asset", "quote_asset",
                  "bot_type", "strategy", "status", "config", "health_status", "health_message", "last_trade_time",
                  "last_heartbeat", "created_at", "updated_at"):
        assert field in bot, field
    assert bot["pair"] == "SHARP/USDT" and bot["base_asset"] == "SHARP" and bot["status"] == "stopped"
    assert len(body(api.get("/bots", {"bot_type": "spread"}))["bots"]) == 1
    assert len(body(api.get("/bots", {"account": "main", "status": "stopped"}))["bots"]) == 3
    assert len(body(api.get("/bots", {"status": "running"}))["bots"]) == 0
    paged = body(api.get("/bots", {"page": 2, "page_size": 2}))
    assert len(paged["bots"]) == 1 and paged["count"] == 3
    assert api.get("/bots", {"page_size": 0}).status_code == 400
    assert api.get("/bots", {"page": "x"}).status_code == 400
    assert api.get("/bots", {"page_size": 10**30}).status_code == 400
    assert other.pk in {b["id"] for b in body(admin_api.get("/bots"))["bots"]}
    assert api.get("/bots/").status_code == 200


def test_list_with_balances_reads_snapshots_and_rollups_exactly(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    # SQLite keeps a decimal column to 15 significant digits; PostgreSQL keeps every one.
    digits = "1234.567890123456789" if connection.vendor == "postgresql" else "1234.56789012345"
    with_snapshot(account, available=Decimal(digits))
    # A whole hour inside the last 24 h (the current, partial hour is summed from trades).
    HourlyRollup.objects.create(bot=bot, bucket_start=timezone.now().replace(minute=0, second=0, microsecond=0)
                                - timedelta(hours=2),
                                trade_count=3, buy_count=2, sell_count=1, buy_quote=Decimal("10.5"),
                                sell_quote=Decimal("0.000000000000000001"))
    response = api.get("/bots", {"include_balances": "true"})
    # A JSON number, every digit (the column's trailing zeros may follow).
    assert re.search(rb'"available":\{"SHARP":' + re.escape(digits.encode()) + rb"0*,", response.content)
    item = body(response)["bots"][0]
    assert item["balance"]["available"] == {"SHARP": Decimal(digits), "USDT": Decimal(digits)}
    assert item["balance"]["locked"]["USDT"] == Decimal("0.1")
    assert item["balance"]["volume_24h"] == Decimal("10.500000000000000001")
    assert item["balance"]["trades_24h"] == {"buys": 2, "sells": 1}
    assert set(item["pnl"]) >= {"realized_usd", "unrealized_usd", "total_usd"}


def test_missing_balance_says_not_found(acme):
    client, api, account = acme
    BotFactory(client=client, account=account)
    item = body(api.get("/bots", {"include_balances": "1"}))["bots"][0]
    assert "not found" in item["balance"]["error"]
    assert item["balance"]["available"] == {"SHARP": 0, "USDT": 0}


def test_list_with_balances_costs_the_same_queries_for_1_and_100_bots(acme, settings):
    settings.API_LIST_CACHE_S = 0
    client, api, account = acme
    with_snapshot(account)
    BotFactory(client=client, account=account)
    api.get("/bots", {"include_balances": "true"})  # warm the token cache
    with CaptureQueriesContext(connection) as one:
        assert api.get("/bots", {"include_balances": "true"}).status_code == 200
    for n in range(99):
        bot = BotFactory(client=client, account=ExchangeAccountFactory(client=client) if n % 10 == 0 else account)
        PnlState.objects.create(bot=bot)
    with CaptureQueriesContext(connection) as hundred:
        response = api.get("/bots", {"include_balances": "true"})
    assert len(body(response)["bots"]) == 100
    assert len(hundred) == len(one), [q["sql"][:80] for q in hundred]
    assert len(hundred) <= 12


def test_create_bot_with_keys_stores_them_encrypted_and_never_echoes_them(acme):
    client, api, _ = acme
    response = api.post("/bots", {"name": "Sharp MM", "account": "bm", "connector": "bitmart", "pair": "SHARP/USDT",
                                  "bot_type": "spread", "config": {"spread_bps": 250, "order_size_usd": 12.5},
                                  "api_key": API_KEY, "api_secret": SECRET, "memo": "memo-1"})
    assert response.status_code == 201, response.content
    assert SECRET.encode() not in response.content and API_KEY.encode() not in response.content
    bot = Bot.objects.get(pk=body(response)["id"])
    assert bot.account.exchange == "bitmart" and bot.account.name == "bm"
    assert bot.config == {"spread_bps": 250, "order_size_usd": 12.5}
    credential = ExchangeCredential.objects.get(account=bot.account)
    assert SECRET not in credential.secret_encrypted and credential.key_hint == "1234"
    assert api.post("/bots/create", {"pair": "SHARP/USDT", "account": "main"}).status_code == 201


def test_legacy_pair_bot_is_accepted_with_defaults_and_says_so(admin_api, acme):
    client, _, _ = acme
    response = admin_api.post("/bots/create", {"name": "pair", "connector": "bitmart", "pair": "SHARP/USDT",
                                               "strategy": "both", "config": {}, "client_id": client.pk})
    assert response.status_code == 201, response.content
    answer = body(response)
    assert answer["bot_type"] == "spread" and answer["notice"] == intake.LEGACY_PAIR_NOTICE
    assert answer["client_id"] == client.pk


def test_bad_config_is_400_per_field_and_writes_nothing(acme):
    client, api, _ = acme
    before = (ExchangeAccount.objects.count(), Bot.objects.count(), AuditEvent.objects.count())
    response = api.post("/bots", {"account": "new", "connector": "bitmart", "pair": "SHARP/USDT", "bot_type": "spread",
                                  "config": {"spread_bps": -1, "levels": "many", "bogus": 1},
                                  "api_key": API_KEY, "api_secret": SECRET})
    assert response.status_code == 400
    errors = body(response)["errors"]["config"]
    assert any(e.startswith("spread_bps:") for e in errors) and any(e.startswith("bogus:") for e in errors)
    assert SECRET.encode() not in response.content
    assert (ExchangeAccount.objects.count(), Bot.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("payload", [
    {"pair": "SHARP/USDT", "account": "main", "unknown": 1},
    {"pair": ["SHARP/USDT"], "account": "main"},
    {"pair": "SHARP/USDT", "account": "main", "config": "x"},
    {"pair": "SHARP/USDT", "account": "main", "config": {"daily_volume_usd": 1e300}},
    {"pair": "SHARP/USDT", "account": "main", "name": "x" * 101},
    {"pair": "SHARPUSDT", "account": "main"},
    {"pair": "SHARP/USDT", "account": "nope"},
    {"pair": "SHARP/USDT", "account": "x", "connector": "no-such-venue"},
    {"pair": "SHARP/USDT", "account": "main", "strategy": "moon"},
    {"pair": "SHARP/USDT", "account": "main", "api_key": "only-the-key"},
    {"pair": "SHARP/USDT", "account": "main", "client_id": 10**30},
])
def test_bad_create_input_is_400(acme, payload):
    _, api, _ = acme
    response = api.post("/bots", payload)
    assert response.status_code == 400, response.content
    assert body(response)["detail"]


def test_bad_json_and_unauthenticated(acme):
    _, api, _ = acme
    assert api.post("/bots", raw="{oops").status_code == 400
    assert api.post("/bots", raw="[]").status_code == 400
    for anonymous in (Api(), Api("not-a-token")):
        response = anonymous.get("/bots", HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 401 and body(response)["detail"]
        assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_admin_creating_for_unknown_client_is_404(admin_api):
    response = admin_api.post("/bots", {"pair": "SHARP/USDT", "connector": "paper", "client_id": 999999})
    assert response.status_code == 404


def test_detail_update_delete(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    assert body(api.get(f"/bots/{bot.pk}"))["id"] == bot.pk
    response = api.patch(f"/bots/{bot.pk}", {"name": "renamed", "config": {"daily_volume_usd": "7000.5"}})
    assert response.status_code == 200, response.content
    assert body(response)["name"] == "renamed" and body(response)["config"] == {"daily_volume_usd": "7000.5"}
    response = api.put(f"/bots/{bot.pk}/", {"config": {"daily_volume_usd": 7000.25}, "status": "stopped"})
    assert response.status_code == 200 and body(response)["config"]["daily_volume_usd"] == Decimal("7000.25")
    assert api.put(f"/bots/{bot.pk}", {"config": {"daily_volume_usd": -5}}).status_code == 400
    assert api.put(f"/bots/{bot.pk}", {"status": "running"}).status_code == 400
    assert api.put(f"/bots/{bot.pk}", {"account": "elsewhere"}).status_code == 400
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RUNNING)
    assert api.delete(f"/bots/{bot.pk}").status_code == 409
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.STOPPED)
    response = api.delete(f"/bots/{bot.pk}")
    assert response.status_code == 200 and body(response) == {"status": "deleted", "id": bot.pk}
    assert api.get(f"/bots/{bot.pk}").status_code == 404


def test_another_clients_bot_is_404_everywhere(acme):
    _, api, _ = acme
    theirs = BotFactory()
    for method, suffix in (("get", ""), ("put", ""), ("patch", ""), ("delete", ""), ("get", "/balance-and-volume"),
                           ("get", "/stats"), ("get", "/trades"), ("post", "/add-exchange-credentials")):
        response = getattr(api, method)(f"/bots/{theirs.pk}{suffix}")
        assert response.status_code == 404, (method, suffix)
    assert api.get("/bots/abc").status_code == 404
    assert api.get(f"/bots/{10**30}").status_code == 404
    assert Bot.objects.filter(pk=theirs.pk).exists()


def test_balance_and_volume_stats_and_trades(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    with_snapshot(account)
    from ledger.services.ingest import ingest_trades  # noqa: F401  (trades come through ingest in production)

    for n, side in enumerate(("buy", "sell", "buy")):
        BotTradeFactory(bot=bot, side=side, amount=Decimal("2"), price=Decimal("0.5"),
                        traded_at=timezone.now() - timedelta(minutes=n))
    PriceSnapshot.objects.create(exchange=f"paper:{account.pk}", symbol="SHARP/USDT", price=Decimal("0.6"),
                                 source="mid", taken_at=timezone.now())
    answer = body(api.get(f"/bots/{bot.pk}/balance-and-volume"))
    assert set(answer["available"]) == {"SHARP", "USDT"} and set(answer["locked"]) == {"SHARP", "USDT"}
    assert {"value_usd", "total_volume_usd", "buy_count", "sell_count", "window"} <= set(answer["volume"])
    assert {"realized_usd", "unrealized_usd", "total_usd"} <= set(answer["pnl"])
    stats = body(api.get(f"/bots/{bot.pk}/stats"))
    assert len(stats["recent_trades"]) == 3
    assert set(stats["recent_trades"][0]) >= {"id", "created_at", "side", "amount", "price", "value_usd"}
    assert stats["recent_trades"][0]["value_usd"] == Decimal("1")
    trades = body(api.get(f"/bots/{bot.pk}/trades", {"page_size": 2}))
    assert trades["count"] == 3 and len(trades["trades"]) == 2
    response = api.get(f"/bots/{bot.pk}/trades", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,traded_at,side") and len(lines) == 4


def test_bot_without_snapshot_reports_200_with_error(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    response = api.get(f"/bots/{bot.pk}/balance-and-volume")
    assert response.status_code == 200 and "not found" in body(response)["error"]


def test_health_summary(acme):
    client, api, account = acme
    now = timezone.now()
    BotFactory(client=client, account=account, status=Bot.Status.RUNNING, heartbeat_at=now)
    BotFactory(client=client, account=account, status=Bot.Status.RUNNING, heartbeat_at=now - timedelta(hours=1))
    BotFactory(client=client, account=account, status=Bot.Status.ERROR)
    BotFactory(client=client, account=account)
    BotFactory(status=Bot.Status.ERROR)  # another client's
    summary = body(api.get("/bots/health/summary"))
    assert {k: summary[k] for k in ("total", "running", "stopped", "error", "stale", "healthy")} == \
        {"total": 4, "running": 2, "stopped": 1, "error": 1, "stale": 1, "healthy": 1}
    assert body(api.get("/bots"))["bots"][0]["health_status"] in ("stopped", "error", "stale", "healthy", "warning", "starting")


def test_add_exchange_credentials(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    response = api.post(f"/bots/{bot.pk}/add-exchange-credentials", {"api_key": API_KEY, "api_secret": SECRET})
    assert response.status_code == 200, response.content
    assert body(response)["api_key_preview"] == "1234" and body(response)["has_key"] is True
    assert SECRET.encode() not in response.content and API_KEY.encode() not in response.content
    assert api.post(f"/bots/{bot.pk}/add-exchange-credentials", {}).status_code == 400
    assert api.post(f"/bots/{bot.pk}/add-exchange-credentials", {"api_key": 5, "api_secret": []}).status_code == 400


def test_idempotency_key_replays_the_first_answer(acme):
    client, api, _ = acme
    payload = {"pair": "SHARP/USDT", "account": "main", "name": "once"}
    first = api.post("/bots", payload, HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/bots/", payload, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert body(first) == body(again) and again["Idempotent-Replayed"] == "true"
    assert Bot.objects.filter(name="once").count() == 1
    assert api.post("/bots", {**payload, "name": "other"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 409
    assert api.post("/bots", {**payload, "config": {"nope": 1}}, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 400
    assert api.post("/bots", {**payload, "name": "fixed"}, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    other_api = client_with_token("other")[1]
    ExchangeAccountFactory(client=Bot.objects.first().client.__class__.objects.get(name="other"), name="main")
    assert other_api.post("/bots", payload, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201  # keys are per caller
    assert api.post("/bots", payload, HTTP_IDEMPOTENCY_KEY="x" * 101).status_code == 400


def test_list_memory_serves_unchanged_lists_and_never_a_changed_one(acme, settings):
    settings.API_LIST_CACHE_S = 60
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    with_snapshot(account)
    first = api.get("/bots", {"include_balances": "true"})
    with CaptureQueriesContext(connection) as hit:
        again = api.get("/bots", {"include_balances": "true"})
    assert again.content == first.content and len(hit) == 0  # no API write since: not even the stamp
    assert body(api.get("/bots"))["bots"][0]["id"] == bot.pk  # other parameters, other entry
    api.patch(f"/bots/{bot.pk}", {"name": "renamed"})
    assert body(api.get("/bots", {"include_balances": "true"}))["bots"][0]["name"] == "renamed"
    # Written elsewhere (a command, the admin): seen within the TTL, or at once after any API write,
    # which makes every process read the stamp again.
    other = BotFactory(client=client, account=account)
    assert api.post(f"/bots/{bot.pk}/stop").status_code == 200
    assert other.pk in {b["id"] for b in body(api.get("/bots", {"include_balances": "true"}))["bots"]}
    Bot.objects.filter(pk=other.pk).delete()
    assert api.post(f"/bots/{bot.pk}/stop").status_code == 200
    assert other.pk not in {b["id"] for b in body(api.get("/bots", {"include_balances": "true"}))["bots"]}
    _, stranger = client_with_token("stranger")
    assert body(stranger.get("/bots", {"include_balances": "true"}))["bots"] == []  # never another caller's entry
