"""What an account's ``options`` may hold, per venue: one message per bad key, unknown keys refused.

Checked when an account is saved (exchanges.services) and again when its connector is built
(exchanges.registry), so a row written before these rules, or past the service, fails as that
account's own error instead of crashing whatever builds it. Plain Python: the schemas are small and
the messages must name each key the way an operator wrote it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from exchanges.endpoints import check_endpoint_url

NATIVE = ("paper", "bitmart", "coinstore", "jupiter")
UNKNOWN_EXCHANGE = "{exchange!r} is not a known venue: paper, bitmart, coinstore, jupiter or a ccxt exchange id."
NOT_OBJECT = "options must be a JSON object, e.g. {{}} or {{\"api_url\": \"https://…\"}}."
UNKNOWN_KEY = "{key}: unknown option for {exchange} (allowed: {allowed})."
NOT_A_NUMBER = "{key}: must be a number (a decimal string such as \"0.001\")."
OUT_OF_RANGE = "{key}: must be between {low} and {high}."
TOO_PRECISE = "{key}: at most {places} decimal places."
NOT_AN_INTEGER = "{key}: must be a whole number between {low} and {high}."
NOT_AN_OBJECT = "{key}: must be a JSON object."
BAD_SYMBOL = "{key}: {symbol!r} is not BASE/QUOTE (each part 1 to 20 characters)."
BAD_ASSET = "{key}: {asset!r} is not an asset name (1 to 20 characters)."
BAD_MINT = "{key}: {mint!r} is not a Solana mint address."
NOT_A_STRING = "{key}: must be a string."

MAX_ASSET = 20
# Mirrors the paper tables' DecimalFields (exchanges/models.py): money 38/18, rates 12/8.
MONEY = {"high": Decimal(10) ** 20, "places": 18}
RATE = {"high": Decimal(10) ** 4, "places": 8}
MAX_SEED = 2**63 - 1
PAPER_MARKET_KEYS = {
    "price": MONEY, "price_step": MONEY, "amount_step": MONEY, "min_amount": MONEY, "min_notional": MONEY,
    "depth_quote": MONEY, "volatility_bps": RATE, "spread_bps": RATE, "maker_fee": RATE, "taker_fee": RATE,
}
POSITIVE_MARKET_KEYS = ("price", "price_step", "amount_step")
JUPITER_INTEGERS = {  # key: (low, high)
    "slippage_bps": (0, 10_000),
    "priority_fee_lamports": (0, 1_000_000_000),  # 1 SOL per compute-unit budget is already absurd
    "confirm_timeout_s": (1, 300),
}


def exchange_error(exchange: object) -> str | None:
    """Why ``exchange`` is not a venue we can build a connector for, or None."""
    if isinstance(exchange, str) and exchange in NATIVE:
        return None
    if isinstance(exchange, str) and exchange:
        import ccxt  # only for a non-native id; importing ccxt costs a second

        if exchange in ccxt.exchanges:
            return None
    return UNKNOWN_EXCHANGE.format(exchange=exchange)


def option_errors(exchange: str, options: object) -> list[str]:
    """Every problem with ``options`` for ``exchange``, one message per key; empty when valid."""
    if options is None:
        return []
    if not isinstance(options, dict):
        return [NOT_OBJECT]
    if exchange == "paper":
        return _keys(options, exchange, {"paper": _paper})
    if exchange == "jupiter":
        checks = {"rpc_url": _url, "api_url": _url, "tokens": _tokens}
        checks.update({key: _integer(*bounds) for key, bounds in JUPITER_INTEGERS.items()})
        return _keys(options, exchange, checks)
    return _keys(options, exchange, {"api_url": _url})  # coinstore, bitmart and any ccxt venue


def _keys(options: dict, exchange: str, checks: dict) -> list[str]:
    errors = []
    for key, value in options.items():
        check = checks.get(key)
        if check is None:
            errors.append(UNKNOWN_KEY.format(key=key, exchange=exchange, allowed=", ".join(checks)))
        else:
            errors.extend(check(key, value))
    return errors


def _url(key: str, value) -> list[str]:
    try:
        check_endpoint_url(value, key)
    except ValueError as exc:
        return [str(exc)]
    return []


def _integer(low: int, high: int):
    def check(key: str, value) -> list[str]:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return [] if ok else [NOT_AN_INTEGER.format(key=key, low=low, high=high)]

    return check


def _number(key: str, value, *, high: Decimal, places: int, positive: bool = False) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return [NOT_A_NUMBER.format(key=key)]
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return [NOT_A_NUMBER.format(key=key)]
    if not number.is_finite():
        return [NOT_A_NUMBER.format(key=key)]
    low = "more than 0" if positive else "0"
    if number < 0 or (positive and number == 0) or number >= high:
        return [OUT_OF_RANGE.format(key=key, low=low, high=f"{high:,.0f} (exclusive)")]
    if number != number.quantize(Decimal(1).scaleb(-places)):
        return [TOO_PRECISE.format(key=key, places=places)]
    return []


def _asset_ok(asset: object) -> bool:
    return isinstance(asset, str) and 0 < len(asset.strip()) <= MAX_ASSET and asset == asset.strip()


def _paper(key: str, value) -> list[str]:
    if not isinstance(value, dict):
        return [NOT_AN_OBJECT.format(key=key)]
    return _keys(value, "paper", {
        "markets": lambda k, v: _paper_markets(f"{key}.{k}", v),
        "balances": lambda k, v: _paper_balances(f"{key}.{k}", v),
        "fees": lambda k, v: _paper_fees(f"{key}.{k}", v),
    })


def _paper_markets(key: str, markets) -> list[str]:
    if not isinstance(markets, dict):
        return [NOT_AN_OBJECT.format(key=key)]
    errors = []
    for symbol, spec in markets.items():
        where = f"{key}.{symbol}"
        parts = symbol.split("/")
        if len(parts) != 2 or not all(_asset_ok(part) for part in parts):
            errors.append(BAD_SYMBOL.format(key=where, symbol=symbol))
            continue
        if spec is None:
            continue
        if not isinstance(spec, dict):
            errors.append(NOT_AN_OBJECT.format(key=where))
            continue
        for name, value in spec.items():
            if name in PAPER_MARKET_KEYS:
                errors.extend(_number(f"{where}.{name}", value, **PAPER_MARKET_KEYS[name],
                                      positive=name in POSITIVE_MARKET_KEYS))
            elif name == "step_ms":
                errors.extend(_integer(1, 86_400_000)(f"{where}.{name}", value))
            elif name == "seed":
                errors.extend(_integer(0, MAX_SEED)(f"{where}.{name}", value))
            else:
                allowed = ", ".join([*PAPER_MARKET_KEYS, "step_ms", "seed"])
                errors.append(UNKNOWN_KEY.format(key=f"{where}.{name}", exchange="a paper market", allowed=allowed))
    return errors


def _paper_balances(key: str, balances) -> list[str]:
    if not isinstance(balances, dict):
        return [NOT_AN_OBJECT.format(key=key)]
    errors = []
    for asset, amount in balances.items():
        if not _asset_ok(asset):
            errors.append(BAD_ASSET.format(key=key, asset=asset))
        else:
            errors.extend(_number(f"{key}.{asset}", amount, **MONEY))
    return errors


def _paper_fees(key: str, fees) -> list[str]:
    if not isinstance(fees, dict):
        return [NOT_AN_OBJECT.format(key=key)]
    rate = lambda k, v: _number(f"{key}.{k}", v, **RATE)  # noqa: E731
    return _keys(fees, "paper fees", {"maker": rate, "taker": rate})


def _tokens(key: str, tokens) -> list[str]:
    if not isinstance(tokens, dict):
        return [NOT_AN_OBJECT.format(key=key)]
    from solders.pubkey import Pubkey  # the jupiter connector's own dependency

    errors = []
    for symbol, spec in tokens.items():
        where = f"{key}.{symbol}"
        if not _asset_ok(symbol):
            errors.append(BAD_ASSET.format(key=key, asset=symbol))
            continue
        if not isinstance(spec, dict):
            errors.append(NOT_AN_OBJECT.format(key=where))
            continue
        mint = spec.get("mint")
        try:
            if not isinstance(mint, str):
                raise ValueError
            Pubkey.from_string(mint)
        except ValueError:
            errors.append(BAD_MINT.format(key=f"{where}.mint", mint=mint))
        if "decimals" in spec and spec["decimals"] is not None:
            errors.extend(_integer(0, 18)(f"{where}.decimals", spec["decimals"]))
        for name in spec.keys() - {"mint", "decimals"}:
            errors.append(UNKNOWN_KEY.format(key=f"{where}.{name}", exchange="a jupiter token", allowed="mint, decimals"))
    return errors
