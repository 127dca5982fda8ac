"""Transport rules the frontend depends on: exact numbers, root paths with or without a slash and no
redirect, {} for an empty body, JSON errors with CORS, deny by default."""

from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import get_resolver

from pipelabs.api.wire import DecimalJSONParser, dumps, plain_json
from tests.api import ORIGIN, Api, body

pytestmark = pytest.mark.django_db


def test_decimals_are_written_as_numbers_from_their_own_digits():
    data = {"a": Decimal("0.1"), "b": Decimal("123456789012345678.123456789012345678"), "c": Decimal("-0.000000000000000001")}
    assert dumps(data) == b'{"a":0.1,"b":123456789012345678.123456789012345678,"c":-1E-18}'
    import json

    assert json.loads(dumps(data), parse_float=Decimal) == data  # valid JSON numbers, every digit kept


def test_numbers_and_strings_parse_exactly_and_empty_body_is_an_object():
    parse = DecimalJSONParser().parse
    parsed = parse(BytesIO(b'{"x": 0.1, "y": 123456789012345678.123456789012345678, "z": "0.3"}'))
    assert parsed["x"] == Decimal("0.1") and parsed["y"] == Decimal("123456789012345678.123456789012345678")
    assert parse(BytesIO(b"")) == {} and parse(BytesIO(b"  ")) == {}
    for bad in (b"[1]", b"{", b'{"x": NaN}', b"\xff"):
        with pytest.raises(Exception) as caught:
            parse(BytesIO(bad))
        assert caught.value.status_code == 400


def test_plain_json_keeps_values_exact():
    assert plain_json({"a": Decimal("0.1"), "b": [Decimal("2")], "c": Decimal("0.10000000000000000001")}) == \
        {"a": 0.1, "b": [2], "c": "0.10000000000000000001"}


def test_every_api_route_answers_with_and_without_a_slash():
    api = Api()
    for path in ("/auth/message/0x0000000000000000000000000000000000000001",
                 "/auth/message/0x0000000000000000000000000000000000000001/"):
        response = api.get(path, HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == ORIGIN
    for path in ("/auth/verify", "/auth/verify/"):
        response = api.post(path, raw="")  # empty JSON body is {}: field errors, not a parse error
        assert response.status_code == 400 and "wallet_address" in body(response)["errors"]


def test_preflight_allows_the_frontends_headers_and_credentials():
    response = Api().call("options", "/auth/verify", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-wallet-address, x-client-id")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    allowed = response["Access-Control-Allow-Headers"]
    for header in ("authorization", "content-type", "x-wallet-address", "x-client-id"):
        assert header in allowed
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert method in response["Access-Control-Allow-Methods"]


def test_api_views_deny_by_default(settings):
    from rest_framework.permissions import AllowAny
    from rest_framework.views import APIView

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern

    open_views = []
    for pattern in walk(get_resolver().url_patterns):
        view = getattr(getattr(pattern, "callback", None), "view_class", None)
        if view and issubclass(view, APIView) and view.__module__.startswith(("clients", "bots", "ledger", "exchanges")):
            if any(p is AllowAny for p in view.permission_classes):
                open_views.append(view.__name__)
    assert sorted(open_views) == ["SignInMessageView", "VerifyView"]


def test_bearer_garbage_is_401_json_with_cors():
    response = Api("garbage").get("/auth/message/0x0000000000000000000000000000000000000001", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200  # sign-in ignores tokens


def test_wallet_header_switch_is_refused_in_production(settings):
    from pipelabs.checks import check_production_config

    settings.IS_PRODUCTION = True
    settings.API_ALLOW_WALLET_HEADER = False
    assert "pipelabs.E020" not in [e.id for e in check_production_config()]
    settings.API_ALLOW_WALLET_HEADER = True
    assert "pipelabs.E020" in [e.id for e in check_production_config()]
