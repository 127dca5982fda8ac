"""Jupiter's swap API over HTTP: ``GET /quote`` and ``POST /swap``, failures as domain errors.

Every request first calls the connector's ``before_request`` hook (the guard's throttle) and is
bounded in total by ``timeout_s``: the body is streamed and each socket read may take only the
time left (connecting and the headers remain bounded per socket read). Redirects are not followed:
they could lead where the account's ``api_url`` was not allowed to point.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import requests

# The one streamed, deadline-bound body reader (requests-based, venue-neutral).
from exchanges.connectors.http import read_within
from exchanges.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InvalidOrder,
    RateLimited,
)

from .tokens import EXCHANGE


class JupiterApi:
    before_request: Callable[[], None] | None = None  # set through Connector.before_request

    def __init__(self, base_url: str, timeout_s: float):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def quote(self, *, input_mint: str, output_mint: str, amount: int, slippage_bps: int, swap_mode: str) -> dict:
        """A route for ``amount`` smallest units (of the input for ExactIn, of the output for ExactOut)."""
        params = {
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(amount),
            "slippageBps": str(slippage_bps),
            "swapMode": swap_mode,
        }
        quote = self._request("GET", "/quote", params=params)
        for name in ("inAmount", "outAmount"):
            if not (str(quote.get(name, "")).isascii() and str(quote.get(name, "")).isdigit()):
                raise ExchangeUnavailable(f"Jupiter quote lacks an integer {name}", exchange=EXCHANGE)
        if quote.get("inputMint") != input_mint or quote.get("outputMint") != output_mint:
            raise ExchangeUnavailable("Jupiter quoted a different pair than asked", exchange=EXCHANGE)
        return quote

    def swap(self, quote: dict, *, user_public_key: str, priority_fee_lamports: int) -> dict:
        """The unsigned swap transaction for ``quote`` (``swapTransaction``)."""
        body = {
            "quoteResponse": quote,
            "userPublicKey": user_public_key,
            "wrapAndUnwrapSol": True,
            "prioritizationFeeLamports": priority_fee_lamports,
        }
        swap = self._request("POST", "/swap", json=body)
        if not isinstance(swap.get("swapTransaction"), str):
            raise ExchangeUnavailable("Jupiter swap answer lacks swapTransaction", exchange=EXCHANGE)
        return swap

    def _request(self, method: str, path: str, **kwargs) -> dict:
        if self.before_request is not None:
            self.before_request()
        started = time.monotonic()
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=self.timeout_s, stream=True, allow_redirects=False, **kwargs
            )
            content = read_within(response, started + self.timeout_s)
        except requests.Timeout:
            raise ExchangeTimeout(f"Jupiter did not answer {path} within {self.timeout_s}s", exchange=EXCHANGE) from None
        except requests.RequestException as exc:
            raise ExchangeUnavailable(f"Jupiter unreachable for {path} ({type(exc).__name__})", exchange=EXCHANGE) from None
        status = response.status_code
        try:
            payload = json.loads(content)
        except ValueError:
            payload = None
        if status == 429:
            raise RateLimited(f"Jupiter rate-limited {path}", exchange=EXCHANGE, exchange_code=status)
        if 300 <= status < 400:  # never followed: it could lead to a host the account did not allow
            raise ExchangeUnavailable(f"Jupiter answered {path} with a redirect (HTTP {status})", exchange=EXCHANGE,
                                      exchange_code=status)
        if status >= 500:
            raise ExchangeUnavailable(f"Jupiter answered {path} with HTTP {status}", exchange=EXCHANGE, exchange_code=status)
        if status >= 400:
            raise jupiter_error(path, status, payload)
        if not isinstance(payload, dict):
            raise ExchangeUnavailable(f"Jupiter answered {path} with something not JSON", exchange=EXCHANGE)
        return payload


def jupiter_error(path: str, status: int, payload) -> ExchangeError:
    """A 4xx answer: no route, bad amount, slippage; Jupiter's own words go to the operator."""
    payload = payload if isinstance(payload, dict) else {}
    message = payload.get("error") or payload.get("message") or f"HTTP {status}"
    code = payload.get("errorCode") or status
    if status in (401, 403):
        return AuthenticationFailed(f"Jupiter refused {path}: {message}", exchange=EXCHANGE, exchange_code=code)
    return InvalidOrder(f"Jupiter refused {path}: {message}", exchange=EXCHANGE, exchange_code=code)
