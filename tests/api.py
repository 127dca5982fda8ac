"""Helpers for API tests: a caller with a real token, JSON in and out through the real wire format."""

import json

from django.test import Client as HttpClient

from clients.services import create_client
from clients.signin import issue_token

ORIGIN = "https://app.pipelabs.xyz"


class Api:
    """Django's test client speaking JSON with a bearer token; answers parse numbers as Decimals."""

    def __init__(self, token: str | None = None, **headers):
        self.http = HttpClient()
        self.headers = dict(headers)
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, *, raw: str | None = None, **extra):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        kwargs = {**self.headers, **extra}
        if method == "get":
            return self.http.get(path, body or {}, **kwargs)
        return getattr(self.http, method)(path, data=data, content_type="application/json", **kwargs)

    def get(self, path, params=None, **extra):
        return self.call("get", path, params, **extra)

    def post(self, path, body=None, **extra):
        return self.call("post", path, body, **extra)

    def put(self, path, body=None, **extra):
        return self.call("put", path, body, **extra)

    def patch(self, path, body=None, **extra):
        return self.call("patch", path, body, **extra)

    def delete(self, path, **extra):
        return self.call("delete", path, None, **extra)


def body(response):
    import simplejson

    return simplejson.loads(response.content, use_decimal=True)


def client_with_token(name="acme", role="client", wallets=(), mode="self"):
    """A client and its API caller; self-managed unless ``mode`` says "managed" (the model's default),
    since most tests act on the client's bots as the client."""
    client = create_client(name=name, role=role, wallets=list(wallets), management_mode=mode)
    token, _ = issue_token(client)
    return client, Api(token)
