"""Coinstore's two-step HMAC signature, against hand-computed vectors and the fake's verifier."""

import json
import time

import pytest
import requests

from exchanges.connectors.base import Credentials
from exchanges.connectors.coinstore import CoinstoreConnector, expires_key, signature
from exchanges.errors import AuthenticationFailed
from tests.fakes.coinstore import FakeCoinstore, arrange_sharp_market

API_KEY = "CSKEY-test-0123456789abcdef"
SECRET = "CSSECRET-test-fedcba9876543210"

# Computed by hand with openssl:
#   K=$(printf %s 54309704 | openssl dgst -sha256 -hmac test-secret)
#   printf %s "$BODY" | openssl dgst -sha256 -hmac "$K"
VECTOR_EXPIRES = 1629291143107
VECTOR_BODY = b'{"symbol":"SHARPUSDT","side":"BUY","ordType":"LIMIT","ordPrice":"0.0123","ordQty":"100","timestamp":1629291143107}'
VECTOR_BODY_SIGN = "8bca7bd6d705aa3b438fc3eff30ce5fc922697ddb9935e97dcd3c6b5ee13ec51"
VECTOR_QUERY = b"symbol=SHARPUSDT&pageNum=1&pageSize=100"
VECTOR_QUERY_SIGN = "07900dbb32acf5fd371ffdc1ef2a76d58a93b4a7f919f6ec9ec19affa8972e34"


@pytest.fixture
def fake():
    with FakeCoinstore(API_KEY, SECRET) as venue:
        arrange_sharp_market(venue)
        yield venue


def test_expires_key_is_the_30_second_bucket_of_the_ms_timestamp():
    assert expires_key(VECTOR_EXPIRES) == "54309704"
    assert expires_key(1629291120000) == "54309704"  # first ms of the bucket
    assert expires_key(1629291149999) == "54309704"  # last ms of the bucket
    assert expires_key(1629291150000) == "54309705"


def test_signature_matches_hand_computed_vectors():
    assert signature("test-secret", VECTOR_EXPIRES, VECTOR_BODY) == VECTOR_BODY_SIGN
    assert signature("test-secret", VECTOR_EXPIRES, VECTOR_QUERY) == VECTOR_QUERY_SIGN


def test_signature_is_the_same_within_a_bucket_and_changes_across_buckets():
    first = signature("test-secret", 1629291120000, VECTOR_BODY)
    assert signature("test-secret", 1629291149999, VECTOR_BODY) == first
    assert signature("test-secret", 1629291150000, VECTOR_BODY) != first


def _signed_post(fake, path, signed_body: bytes, sent_body: bytes) -> dict:
    expires = time.time_ns() // 1_000_000
    headers = {
        "X-CS-APIKEY": API_KEY,
        "X-CS-SIGN": signature(SECRET, expires, signed_body),
        "X-CS-EXPIRES": str(expires),
        "Content-Type": "application/json",
    }
    return requests.post(fake.url + path, data=sent_body, headers=headers, timeout=5).json()


def test_fake_accepts_the_signed_body_and_refuses_a_different_one(fake):
    assert _signed_post(fake, "/spot/accountList", b"{}", b"{}")["code"] == 0
    refused = _signed_post(fake, "/spot/accountList", b"{}", b"{ }")
    assert refused["code"] == 401
    assert refused["message"] == "signature-failed"


def test_fake_refuses_a_signature_from_a_stale_bucket(fake):
    stale = time.time_ns() // 1_000_000 - 5 * 60_000
    headers = {"X-CS-APIKEY": API_KEY, "X-CS-SIGN": signature(SECRET, stale, b"{}"), "X-CS-EXPIRES": str(stale)}
    answer = requests.post(fake.url + "/spot/accountList", data=b"{}", headers=headers, timeout=5).json()
    assert answer["code"] == 401


def test_body_altered_after_signing_raises_authentication_failed(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url, timeout_s=5)
    fake.fault = "tamper"
    with pytest.raises(AuthenticationFailed) as caught:
        connector.fetch_balance()
    assert caught.value.exchange_code == "401"


def test_wrong_secret_raises_authentication_failed(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret="not-the-secret"), base_url=fake.url)
    with pytest.raises(AuthenticationFailed):
        connector.fetch_balance()


def test_post_sends_exactly_the_signed_compact_json_with_the_documented_headers(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url)
    connector.fetch_balance()
    (sent,) = fake.requests_to("/api/spot/accountList")
    assert sent.body == b"{}"
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["x-cs-apikey"] == API_KEY
    assert headers["exch-language"] == "en_US"
    assert headers["content-type"] == "application/json"
    assert headers["x-cs-sign"] == signature(SECRET, int(headers["x-cs-expires"]), sent.body)


def test_get_signs_the_raw_query_string(fake):
    connector = CoinstoreConnector(Credentials(api_key=API_KEY, secret=SECRET), base_url=fake.url)
    connector.fetch_my_trades("SHARP/USDT")
    (sent,) = fake.requests_to("/api/trade/match/accountMatches")
    assert sent.query == "symbol=SHARPUSDT&pageNum=1&pageSize=100"
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["x-cs-sign"] == signature(SECRET, int(headers["x-cs-expires"]), sent.query.encode())
    assert json.loads(sent.body or b"null") is None  # a GET carries no body
