"""Options per venue: one message per bad key, unknown keys and venues refused, at save and at build."""

import pytest
from django.core.exceptions import ValidationError

from pipelabs.models import AuditEvent
from exchanges import options as rules
from exchanges.errors import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.registry import connector_for
from exchanges.services import save_account
from tests.factories import ClientFactory, ExchangeAccountFactory

USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

VALID = [
    ("paper", {}),
    ("paper", {"paper": {"markets": {"SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1",
                                                    "min_amount": "1", "min_notional": "1", "volatility_bps": "8",
                                                    "spread_bps": "10", "depth_quote": "500", "step_ms": 2000,
                                                    "seed": 7, "maker_fee": "0.001", "taker_fee": "0.001"}},
                         "balances": {"USDT": "10000", "SHARP": 1000000}, "fees": {"maker": "0.001", "taker": 0}}}),
    ("bitmart", {"api_url": "https://api-cloud.bitmart.com"}),
    ("coinstore", {"api_url": "https://api.coinstore.com/api"}),
    ("binance", {}),
    ("kraken", {"api_url": "http://127.0.0.1:9000"}),  # plain http to an allow-listed host
    ("jupiter", {"rpc_url": "https://rpc.example.org/?api-key=x", "api_url": "https://lite-api.jup.ag/swap/v1",
                 "tokens": {"SHARP": {"mint": USDC_MINT, "decimals": 6}, "WIF": {"mint": USDC_MINT}},
                 "slippage_bps": 50, "priority_fee_lamports": 10000, "confirm_timeout_s": 30}),
]

INVALID = [
    ("bitmart", ["api_url"], [rules.NOT_OBJECT]),
    ("bitmart", {"api_url": 123}, ["api_url must be an http(s) URL with a host"]),
    ("bitmart", {"api_url": "http://api.bitmart.com"}, ["api_url must be an https:// URL"]),
    ("coinstore", {"api_url": "ftp://x"}, ["api_url must be an http(s) URL with a host"]),
    ("coinstore", {"rpc_url": "https://x"}, ["rpc_url: unknown option for coinstore (allowed: api_url)."]),
    ("paper", {"paper": "big"}, ["paper: must be a JSON object."]),
    ("paper", {"paper": {"markets": {"NOSLASH": {}}}}, ["paper.markets.NOSLASH: 'NOSLASH' is not BASE/QUOTE"]),
    ("paper", {"paper": {"markets": {"A/B": {"price": "-1", "price_step": "0", "seed": -1, "step_ms": 0,
                                             "spread_bps": "1e999", "colour": "red"}}}},
     ["paper.markets.A/B.price: must be between more than 0", "paper.markets.A/B.price_step: must be between more",
      "paper.markets.A/B.seed: must be a whole number", "paper.markets.A/B.step_ms: must be a whole number",
      "paper.markets.A/B.spread_bps: must be between 0", "paper.markets.A/B.colour: unknown option"]),
    ("paper", {"paper": {"balances": {"USDT": "NaN", "": "1", "BTC": "0.1234567890123456789"}}},
     ["paper.balances.USDT: must be a number", "paper.balances: '' is not an asset name",
      "paper.balances.BTC: at most 18 decimal places."]),
    ("paper", {"paper": {"fees": {"maker": True, "taker": "99999"}, "extra": 1}},
     ["paper.fees.maker: must be a number", "paper.fees.taker: must be between 0", "extra: unknown option for paper"]),
    ("jupiter", {"tokens": {"X": {"mint": "not-a-mint", "decimals": 40, "extra": 1}}, "slippage_bps": "50",
                 "confirm_timeout_s": 100000, "priority_fee_lamports": -1, "rpc_url": "http://rpc.example.org"},
     ["tokens.X.mint: 'not-a-mint' is not a Solana mint address.", "tokens.X.decimals: must be a whole number",
      "tokens.X.extra: unknown option", "slippage_bps: must be a whole number between 0 and 10000.",
      "confirm_timeout_s: must be a whole number", "priority_fee_lamports: must be a whole number",
      "rpc_url must be an https:// URL"]),
    ("jupiter", {"tokens": [1]}, ["tokens: must be a JSON object."]),
]


@pytest.mark.parametrize("exchange, options", VALID)
def test_valid_options_pass(exchange, options):
    assert rules.exchange_error(exchange) is None
    assert rules.option_errors(exchange, options) == []


@pytest.mark.parametrize("exchange, options, expected", INVALID)
def test_each_bad_key_gets_its_own_message(exchange, options, expected):
    errors = rules.option_errors(exchange, options)
    assert len(errors) == len(expected), errors
    for message, start in zip(sorted(errors), sorted(expected)):
        assert message.startswith(start), (message, start)


@pytest.mark.parametrize("exchange", ["", "BITMART", "notavenue", None, 7, "bitmart "])
def test_unknown_venues_are_refused(exchange):
    assert rules.exchange_error(exchange) == rules.UNKNOWN_EXCHANGE.format(exchange=exchange)


@pytest.mark.django_db
def test_save_account_refuses_bad_options_and_writes_nothing():
    client = ClientFactory()
    with pytest.raises(ValidationError) as refused:
        save_account(ExchangeAccount(client=client, exchange="bitmart", name="main",
                                     options={"api_url": 123, "typo": 1}))
    assert set(refused.value.message_dict) == {"options"} and len(refused.value.message_dict["options"]) == 2
    with pytest.raises(ValidationError) as refused:
        save_account(ExchangeAccount(client=client, exchange="nope", name="main"))
    assert set(refused.value.message_dict) == {"exchange"}
    assert not ExchangeAccount.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_save_account_updates_with_an_audit_row_naming_keys_not_values():
    account = save_account(ExchangeAccount(client=ClientFactory(), exchange="jupiter", name="dex"), actor="op")
    account.options = {"rpc_url": "https://rpc.example.org/?api-key=SECRETKEY"}
    save_account(account, actor="op")
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["account_created", "account_changed"]
    assert events[1].changes["options"]["new"] == ["rpc_url"] and "SECRETKEY" not in str(events[1].changes)


@pytest.mark.django_db
def test_a_stored_account_with_bad_options_fails_to_build_with_a_clear_error():
    account = ExchangeAccountFactory(exchange="coinstore")
    ExchangeAccount.objects.filter(pk=account.pk).update(options={"api_url": 123})
    account.refresh_from_db()
    with pytest.raises(ExchangeError) as failed:
        connector_for(account)
    assert failed.value.code == "invalid_options"
    assert "api_url must be an http(s) URL" in str(failed.value)
