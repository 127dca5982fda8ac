"""Opening a paper account: its markets and starting balances, from defaults or the account's
``options['paper']``::

    {"markets": {"SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1",
                                "min_amount": "1", "min_notional": "1", "volatility_bps": "8",
                                "spread_bps": "10", "depth_quote": "500", "step_ms": 2000,
                                "seed": 7, "maker_fee": "0.001", "taker_fee": "0.001"}},
     "balances": {"USDT": "10000", "SHARP": "1000000"},
     "fees": {"maker": "0.001", "taker": "0.001"}}

Given markets replace the defaults; given balances replace the default balances.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from exchanges.errors import ExchangeError
from exchanges.models import ExchangeAccount, PaperBalance, PaperMarket

EXCHANGE_ID = "paper"
DEFAULT_FEE = "0.001"
BAD_OPTIONS = "The account's paper options are not valid: {detail}"

DEFAULT_MARKETS = {
    "SHARP/USDT": {"price": "0.0125", "price_step": "0.00001", "amount_step": "1", "min_amount": "1",
                   "min_notional": "1", "depth_quote": "300"},
    "SOL/USDC": {"price": "150", "price_step": "0.01", "amount_step": "0.001", "min_amount": "0.001",
                 "min_notional": "1", "depth_quote": "2000"},
    "BTC/USDT": {"price": "90000", "price_step": "0.1", "amount_step": "0.00001", "min_amount": "0.00001",
                 "min_notional": "5", "depth_quote": "5000"},
}
DEFAULT_BALANCES = {"USDT": "10000", "USDC": "10000", "SHARP": "1000000", "SOL": "50", "BTC": "0.1"}


def _decimal(value, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ExchangeError(BAD_OPTIONS.format(detail=f"{name} is not a number"), exchange=EXCHANGE_ID) from None
    if not number.is_finite() or number < 0:
        raise ExchangeError(BAD_OPTIONS.format(detail=f"{name} must be a non-negative number"), exchange=EXCHANGE_ID)
    return number


def default_seed(account_id: int, symbol: str) -> int:
    digest = hashlib.blake2b(f"{account_id}:{symbol}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")


def market_row(account: ExchangeAccount, symbol: str, spec: dict, fees: dict, now: datetime) -> PaperMarket:
    """An unsaved market built from one ``markets`` entry."""
    if symbol.count("/") != 1:
        raise ExchangeError(BAD_OPTIONS.format(detail=f"market {symbol!r} is not BASE/QUOTE"), exchange=EXCHANGE_ID)
    base, quote = symbol.split("/")
    price = _decimal(spec.get("price", "1"), f"{symbol} price")
    price_step = _decimal(spec.get("price_step", "0.0001"), f"{symbol} price_step")
    amount_step = _decimal(spec.get("amount_step", "0.0001"), f"{symbol} amount_step")
    if price <= 0 or price_step <= 0 or amount_step <= 0:
        raise ExchangeError(BAD_OPTIONS.format(detail=f"{symbol} price and steps must be positive"), exchange=EXCHANGE_ID)
    return PaperMarket(
        account=account,
        symbol=symbol,
        base=base,
        quote=quote,
        price_step=price_step,
        amount_step=amount_step,
        min_amount=_decimal(spec.get("min_amount", "0"), f"{symbol} min_amount"),
        min_notional=_decimal(spec.get("min_notional", "0"), f"{symbol} min_notional"),
        maker_fee_rate=_decimal(spec.get("maker_fee", fees.get("maker", DEFAULT_FEE)), "maker fee"),
        taker_fee_rate=_decimal(spec.get("taker_fee", fees.get("taker", DEFAULT_FEE)), "taker fee"),
        initial_price=price,
        volatility_bps=_decimal(spec.get("volatility_bps", "8"), f"{symbol} volatility_bps"),
        spread_bps=_decimal(spec.get("spread_bps", "10"), f"{symbol} spread_bps") or Decimal("10"),
        depth_quote=_decimal(spec.get("depth_quote", "500"), f"{symbol} depth_quote"),
        step_ms=max(1, int(spec.get("step_ms", 2000))),
        seed=int(spec.get("seed", default_seed(account.pk, symbol))),
        origin_at=now,
        ref_step=0,
        ref_price=price,
    )


def ensure_opened(account: ExchangeAccount, now: datetime) -> None:
    """Create the account's markets and balances once; safe when two processes race."""
    if PaperMarket.objects.filter(account=account).exists():
        return
    options = (account.options or {}).get("paper") or {}
    fees = options.get("fees") or {}
    markets = options.get("markets") or DEFAULT_MARKETS
    balances = options.get("balances") or DEFAULT_BALANCES
    rows = [market_row(account, symbol, spec or {}, fees, now) for symbol, spec in markets.items()]
    assets = {row.base for row in rows} | {row.quote for row in rows} | set(balances)
    try:
        with transaction.atomic():
            PaperMarket.objects.bulk_create(rows)
            PaperBalance.objects.bulk_create(
                PaperBalance(account=account, asset=asset, available=_decimal(balances.get(asset, "0"), asset))
                for asset in sorted(assets)
            )
    except IntegrityError:
        pass  # another process opened it first; its rows are as good as ours
