"""GET /bots and /bots/{id} answered from rendered bytes: fresh after every write, never another
caller's, a remembered token skipping DRF, and a cache that fails costing only speed."""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.api import views
from bots.models import Bot
from clients.principal import forget_all
from pipelabs.api.memo import ListCache
from tests.api import ORIGIN, Api, body, client_with_token
from tests.factories import BotFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_answers():
    views.list_cache.clear()
    views.detail_cache.clear()
    yield


@pytest.fixture
def acme():
    client, api = client_with_token("acme")
    return client, api, ExchangeAccountFactory(client=client, name="main")


def test_detail_is_answered_from_memory_until_an_api_write_or_its_ttl(acme, settings):
    settings.API_DETAIL_CACHE_S = 60
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    first = api.get(f"/bots/{bot.pk}", HTTP_ORIGIN=ORIGIN)
    with CaptureQueriesContext(connection) as hit:
        again = api.get(f"/bots/{bot.pk}", HTTP_ORIGIN=ORIGIN)
    assert again.content == first.content and len(hit) == 0
    for header in ("Content-Type", "Allow", "Access-Control-Allow-Origin", "X-Request-ID"):
        assert again[header] and (header == "X-Request-ID" or again[header] == first[header]), header
    # The engine writes without touching updated_at: within the TTL it is not re-read...
    Bot.objects.filter(pk=bot.pk).update(heartbeat_at=timezone.now(), health_message="Trade skipped")
    assert body(api.get(f"/bots/{bot.pk}"))["health_message"] == ""
    # ...until any write through the API (here to another client's object, refused even): the row is
    # read again, and any field of it that changed is a new answer.
    client_with_token("other")[1].post(f"/bots/{bot.pk}/start")
    with CaptureQueriesContext(connection) as checked:
        assert body(api.get(f"/bots/{bot.pk}"))["health_message"] == "Trade skipped"
    assert len(checked) >= 1
    assert api.patch(f"/bots/{bot.pk}", {"name": "renamed"}).status_code == 200
    settings.API_DETAIL_CACHE_S = 0.05  # past its TTL, a write from elsewhere is seen without one
    assert body(api.get(f"/bots/{bot.pk}"))["name"] == "renamed"
    account.name = "desk"
    account.save()
    time.sleep(0.06)
    assert body(api.get(f"/bots/{bot.pk}"))["account"] == "desk"


def test_a_remembered_answer_is_never_another_clients(acme, settings):
    settings.API_DETAIL_CACHE_S = settings.API_LIST_CACHE_S = 60
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    _, stranger = client_with_token("stranger")
    admin = client_with_token("ops", role="admin")[1]
    assert api.get(f"/bots/{bot.pk}").status_code == 200
    assert api.get("/bots", {"include_balances": "true"}).status_code == 200
    for _ in range(2):  # the second time through the remembered-token path
        missing = stranger.get(f"/bots/{bot.pk}")
        assert missing.status_code == 404 and body(missing)["code"] == "not_found"
        assert body(stranger.get("/bots", {"include_balances": "true"}))["bots"] == []
    assert body(admin.get(f"/bots/{bot.pk}"))["id"] == bot.pk
    assert [b["id"] for b in body(admin.get("/bots", {"include_balances": "true"}))["bots"]] == [bot.pk]


def test_list_write_is_seen_by_the_next_read_and_bad_input_still_answers_400(acme, settings):
    settings.API_LIST_CACHE_S = 60
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    assert body(api.get("/bots"))["bots"][0]["status"] == "stopped"
    assert api.post(f"/bots/{bot.pk}/start").status_code == 200
    settings.API_LIST_CACHE_S = 0.05  # a write from elsewhere: seen once the TTL has passed
    assert body(api.get("/bots"))["bots"][0]["status"] == "running"
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.ERROR, updated_at=timezone.now())
    time.sleep(0.06)
    ListCache.background = False
    try:
        assert body(api.get("/bots"))["bots"][0]["status"] == "error"
    finally:
        ListCache.background = True
    for params in ({"page": "0"}, {"page_size": "x"}, {"page": "²"}):
        answer = api.get("/bots", params)
        assert answer.status_code == 400 and "page" in body(answer)["detail"]


def test_unknown_expired_or_revoked_tokens_are_refused_not_remembered(acme):
    client, api, account = acme
    bot = BotFactory(client=client, account=account)
    assert api.get(f"/bots/{bot.pk}").status_code == 200
    assert Api("x" * 64).get(f"/bots/{bot.pk}").status_code == 401
    assert Api().get(f"/bots/{bot.pk}").status_code == 401
    assert api.get(f"/bots/{bot.pk}", HTTP_AUTHORIZATION=api.headers["HTTP_AUTHORIZATION"] + " x").status_code == 401
    forget_all()
    client.user.auth_token_set.all().delete()
    assert api.get(f"/bots/{bot.pk}").status_code == 401
    assert api.get("/bots").status_code == 401


def test_a_dead_cache_costs_speed_not_answers(acme, settings):
    settings.CACHES = {"default": {"BACKEND": "pipelabs.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    settings.API_LIST_CACHE_S = 60
    client, api, account = acme
    BotFactory(client=client, account=account)
    for _ in range(2):
        answer = api.get("/bots", {"include_balances": "true"})
        assert answer.status_code == 200 and len(body(answer)["bots"]) == 1


def test_an_expired_answer_is_served_while_one_thread_builds_the_next(settings):
    settings.API_LIST_CACHE_S = 0.05
    memory = ListCache("API_LIST_CACHE_S")
    started, release, builds = threading.Event(), threading.Event(), []

    def build(stamp=1, answer=b"new"):
        def run():
            builds.append(threading.current_thread().name)
            started.set()
            release.wait(5)
            return stamp, answer
        return run

    memory.put("k", 1, b"old")
    time.sleep(0.06)
    assert memory.answer("k", 1, build()) == b"old"  # expired, rows unchanged: served, rebuilt aside
    assert started.wait(5)
    assert memory.answer("k", 1, build()) == b"old"  # one rebuild at a time
    release.set()
    for _ in range(100):
        if memory.get("k", 1) == b"new":
            break
        time.sleep(0.01)
    assert memory.get("k", 1) == b"new" and builds == ["answer-refresh"]
    # A changed stamp (a write) is never answered from the old entry: built in the request.
    assert memory.answer("k", 2, lambda: (2, b"after write")) == b"after write"
    # Far past its TTL (rebuilds failing) the request builds it itself.
    memory.put("j", 1, b"ancient")
    time.sleep(0.3)
    assert memory.answer("j", 1, lambda: (1, b"rebuilt")) == b"rebuilt"


def test_redis_backend_counts_in_one_trip_with_djangos_meaning(redis_url, settings):
    from django.core.cache import caches

    settings.CACHES = {"default": {"BACKEND": "pipelabs.cache.RedisCache", "LOCATION": redis_url}}
    cache = caches["default"]
    cache.delete("hits")
    with pytest.raises(ValueError):
        cache.incr("hits")  # a missing key is not created without an expiry
    assert cache.get("hits") is None
    assert cache.add("hits", 1, 30) and not cache.add("hits", 1, 30)
    assert cache.incr("hits") == 2 and cache.incr("hits", 5) == 7
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)
    cache.delete("hits")


def test_a_hung_cache_is_waited_on_once_then_left_alone(settings):
    import socket

    from pipelabs.api import memo

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts, never answers
    settings.CACHES = {"default": {"BACKEND": "pipelabs.cache.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{server.getsockname()[1]}/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3}}}
    try:
        started = time.monotonic()
        assert memo.writes_version() is None
        first = time.monotonic() - started
        started = time.monotonic()
        assert memo.writes_version() is None and memo.ListCache("API_LIST_CACHE_S", shared=True).get("k", 1) is None
        assert 0.25 < first < 2 and time.monotonic() - started < 0.05
    finally:
        server.close()
