"""Wallet sign-in with real keys: EIP-4361 + EIP-191 for EVM, Sign-In with Solana + ed25519."""

from datetime import timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from solders.keypair import Keypair

from clients import signin
from clients.models import SignInNonce
from clients.services import create_client
from tests.api import Api, body

pytestmark = pytest.mark.django_db


def evm_sign(key, message: str) -> str:
    return Account.sign_message(encode_defunct(text=message), key.key).signature.to_0x_hex()


def sol_sign(keypair: Keypair, message: str) -> str:
    return str(keypair.sign_message(message.encode()))


def ask(api, wallet):
    response = api.get(f"/auth/message/{wallet}")
    assert response.status_code == 200, response.content
    return body(response)


def verify(api, wallet, message, signature):
    return api.post("/auth/verify", {"wallet_address": wallet, "message": message, "signature": signature})


def test_evm_sign_in_gives_a_token_that_works():
    key = Account.create()
    client = create_client(name="Evm Co", wallets=[("evm", key.address)])
    api = Api()
    issued = ask(api, key.address)
    assert "wants you to sign in with your Ethereum account" in issued["message"]
    assert key.address in issued["message"]  # EIP-55 checksum form
    assert f"Nonce: {issued['nonce']}" in issued["message"]
    response = verify(api, key.address, issued["message"], evm_sign(key, issued["message"]))
    assert response.status_code == 200, response.content
    answer = body(response)
    assert answer["token_type"] == "bearer" and answer["expires_at"]
    assert answer["user"] == {"id": client.pk, "email": "", "wallet_address": key.address.lower(), "role": "client",
                              "name": "Evm Co", "account_identifier": client.account_identifier}
    authed = Api(answer["access_token"])
    assert authed.get("/bots").status_code == 200


def test_solana_sign_in_and_admin_role():
    keypair = Keypair()
    create_client(name="Ops", role="admin", wallets=[("solana", str(keypair.pubkey()))])
    api = Api()
    issued = ask(api, str(keypair.pubkey()))
    assert "wants you to sign in with your Solana account" in issued["message"]
    response = verify(api, str(keypair.pubkey()), issued["message"], sol_sign(keypair, issued["message"]))
    assert response.status_code == 200, response.content
    assert body(response)["user"]["role"] == "admin"


def test_wrong_signature_is_401():
    key, other = Account.create(), Account.create()
    create_client(name="A", wallets=[("evm", key.address)])
    api = Api()
    issued = ask(api, key.address)
    response = verify(api, key.address, issued["message"], evm_sign(other, issued["message"]))
    assert response.status_code == 401
    assert body(response)["detail"] == signin.BAD_SIGNATURE
    assert verify(api, key.address, issued["message"], "0xnothex").status_code == 401
    keypair, stranger = Keypair(), Keypair()
    create_client(name="B", wallets=[("solana", str(keypair.pubkey()))])
    issued = ask(api, str(keypair.pubkey()))
    assert verify(api, str(keypair.pubkey()), issued["message"], sol_sign(stranger, issued["message"])).status_code == 401


def test_reused_nonce_is_refused():
    key = Account.create()
    create_client(name="A", wallets=[("evm", key.address)])
    api = Api()
    issued = ask(api, key.address)
    signature = evm_sign(key, issued["message"])
    assert verify(api, key.address, issued["message"], signature).status_code == 200
    again = verify(api, key.address, issued["message"], signature)
    assert again.status_code == 401 and body(again)["detail"] == signin.USED


def test_expired_message_is_refused():
    key = Account.create()
    create_client(name="A", wallets=[("evm", key.address)])
    api = Api()
    issued = ask(api, key.address)
    SignInNonce.objects.filter(nonce=issued["nonce"]).update(expires_at=SignInNonce.objects.get().issued_at - timedelta(seconds=1))
    response = verify(api, key.address, issued["message"], evm_sign(key, issued["message"]))
    assert response.status_code == 401 and body(response)["detail"] == signin.EXPIRED


def test_message_we_did_not_issue_is_refused():
    key = Account.create()
    create_client(name="A", wallets=[("evm", key.address)])
    api = Api()
    issued = ask(api, key.address)
    forged = issued["message"].replace("Sign in to pipelabs.", "Sign in to pipelabs!")
    response = verify(api, key.address, forged, evm_sign(key, forged))
    assert response.status_code == 401 and body(response)["detail"] == signin.NOT_ISSUED
    made_up = issued["message"].replace(issued["nonce"], "a" * 32)
    assert verify(api, key.address, made_up, evm_sign(key, made_up)).status_code == 401
    # Another wallet's message, signed by that other wallet, does not sign this one in.
    other = Account.create()
    theirs = ask(api, other.address)
    assert verify(api, key.address, theirs["message"], evm_sign(other, theirs["message"])).status_code == 401


def test_unregistered_wallet_is_403_not_registered():
    key = Account.create()
    api = Api()
    issued = ask(api, key.address)
    response = verify(api, key.address, issued["message"], evm_sign(key, issued["message"]))
    assert response.status_code == 403
    assert "not registered" in body(response)["detail"]


def test_bad_input_is_400():
    api = Api()
    assert api.get("/auth/message/not-a-wallet").status_code == 400
    assert api.post("/auth/verify", {"wallet_address": "0x" + "1" * 40}).status_code == 400
    assert api.post("/auth/verify", raw="{not json").status_code == 400
    assert api.post("/auth/verify", {"wallet_address": 5, "message": [], "signature": {}}).status_code == 400
    response = api.post("/auth/verify", {"wallet_address": "x", "message": "m", "signature": "s", "extra": 1})
    assert response.status_code == 400 and "extra" in body(response)["errors"]


def test_sign_in_is_rate_limited_per_wallet(settings):
    settings.SIGN_IN_WALLET_RATE_LIMIT = "3/m"
    key = Account.create()
    api = Api()
    statuses = [api.get(f"/auth/message/{key.address}", REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_sign_in_is_rate_limited_per_ip(settings):
    settings.SIGN_IN_RATE_LIMIT = "2/m"
    api = Api()
    statuses = [api.get(f"/auth/message/{Account.create().address}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
