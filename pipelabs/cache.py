"""Django's Redis cache, cheaper per call: every request counts its rate limit here.

Django's backend builds a new ``redis.Redis`` object (and its table of ~160 response callbacks)
for every call, and its ``incr`` is two round trips (EXISTS, then INCRBY). This one keeps one
client per connection pool (``redis.Redis`` is thread-safe) and increments an existing key in
one round trip with a short Lua script, with the same meaning: a missing key is a ValueError.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis

# INCRBY only an existing key (INCRBY alone would create it without an expiry).
_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class _Client(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict = {}
        self._incr_script = None

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        if self._incr_script is None:
            self._incr_script = client.register_script(_INCR_EXISTING)
        value = self._incr_script(keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
