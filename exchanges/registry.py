"""The one place that turns an ExchangeAccount into a working, guarded connector.

Credentials are decrypted here and nowhere else; connector modules are imported only when an
account needs them, so one venue's missing dependency does not break the others.
"""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from exchanges import crypto
from exchanges.connectors.base import Connector, Credentials
from exchanges.errors import AuthenticationFailed, ExchangeError
from exchanges.guard import DEFAULT_TIMEOUTS_S, GuardedConnector
from exchanges.models import ExchangeAccount, ExchangeCredential
from exchanges.options import exchange_error, option_errors

NO_CREDENTIALS = "No API credentials are stored for this account; add them before using it."
NO_WALLET = "This DEX account has no wallet."
UNREADABLE = "The stored credentials cannot be decrypted with the configured ENCRYPTION_KEYS."
INVALID_OPTIONS = "The account's options are not valid: {errors}"
DEFAULT_SLIPPAGE_BPS = 50
DEFAULT_PRIORITY_FEE_LAMPORTS = 10_000
DEFAULT_CONFIRM_TIMEOUT_S = 30


def checked_options(account: ExchangeAccount) -> dict:
    """The account's options if valid for its venue; ExchangeError(code="invalid_options") otherwise.

    Accounts are validated on save, but a row written before that (or past the service) must fail
    as this account's error, not as an AttributeError deep in a connector.
    """
    errors = [e for e in [exchange_error(account.exchange)] if e] + option_errors(account.exchange, account.options)
    if errors:
        raise ExchangeError(INVALID_OPTIONS.format(errors=" ".join(errors)), exchange=str(account.exchange),
                            code="invalid_options")
    return account.options or {}


@sensitive_variables()
def credentials_for(account: ExchangeAccount, stored: ExchangeCredential | None = None) -> Credentials:
    """The account's decrypted API credentials; AuthenticationFailed when there are none.

    ``stored`` is the credential row when the caller loaded many at once; otherwise it is read
    fresh (an instance's cached relation may hold a rotated or replaced key).
    """
    if stored is None:
        try:
            stored = ExchangeCredential.objects.get(account=account)
        except ExchangeCredential.DoesNotExist:
            raise AuthenticationFailed(NO_CREDENTIALS, exchange=account.exchange) from None
    try:
        return Credentials(
            api_key=crypto.decrypt(stored.api_key_encrypted),
            secret=crypto.decrypt(stored.secret_encrypted),
            memo=crypto.decrypt(stored.memo_encrypted),
            passphrase=crypto.decrypt(stored.passphrase_encrypted),
        )
    except crypto.DecryptionError:
        raise AuthenticationFailed(UNREADABLE, exchange=account.exchange) from None


@sensitive_variables()
def wallet_credentials_for(account: ExchangeAccount) -> Credentials:
    wallet = account.wallet
    if wallet is None:
        raise AuthenticationFailed(NO_WALLET, exchange=account.exchange)
    if not wallet.private_key_encrypted:
        return Credentials()  # balances are public: read-only until a key is stored
    try:
        return Credentials(private_key=crypto.decrypt(wallet.private_key_encrypted))
    except crypto.DecryptionError:
        raise AuthenticationFailed(UNREADABLE, exchange=account.exchange) from None


@sensitive_variables()
def raw_connector_for(account: ExchangeAccount, *, timeout_s: float | None = None,
                      credential: ExchangeCredential | None = None) -> Connector:
    """The venue's connector without the guard (the guard wraps this)."""
    options = checked_options(account)
    exchange = account.exchange
    if exchange == "paper":
        from exchanges.connectors.paper import PaperConnector

        return PaperConnector(account, timeout_s=timeout_s)
    if exchange == "coinstore":
        credentials = credentials_for(account, credential)
        from exchanges.connectors.coinstore import CoinstoreConnector

        return CoinstoreConnector(
            credentials,
            base_url=options.get("api_url") or settings.COINSTORE_API_URL,
            timeout_s=timeout_s,
        )
    if exchange == "jupiter":
        credentials = wallet_credentials_for(account)
        from exchanges.connectors.jupiter import JupiterConnector
        from exchanges.pending_swaps import DbSwapStore

        # The connector refuses URLs that exchanges.endpoints does not allow, before any request.
        return JupiterConnector(
            credentials,
            wallet_address=account.wallet.address,
            rpc_url=options.get("rpc_url") or settings.SOLANA_RPC_URL,
            jupiter_url=options.get("api_url") or settings.JUPITER_API_URL,
            tokens=options.get("tokens", {}),
            slippage_bps=int(options.get("slippage_bps", DEFAULT_SLIPPAGE_BPS)),
            priority_fee_lamports=int(options.get("priority_fee_lamports", DEFAULT_PRIORITY_FEE_LAMPORTS)),
            timeout_s=timeout_s,
            # A swap is only done when confirmed: a bot tick waits this long at most.
            confirm_timeout_s=int(options.get("confirm_timeout_s", DEFAULT_CONFIRM_TIMEOUT_S)),
            # Sent swaps are remembered in the database, so the next task's connector answers for them.
            swaps=DbSwapStore(account.pk),
        )
    credentials = credentials_for(account, credential)
    from exchanges.connectors.ccxt import CcxtConnector

    return CcxtConnector(exchange, credentials, api_url=options.get("api_url"), timeout_s=timeout_s)


def connector_for(account: ExchangeAccount, *, timeout_s: float | None = None,
                  credential: ExchangeCredential | None = None) -> Connector:
    """A guarded connector for the account. ``timeout_s`` caps every call's own timeout."""
    inner_timeout = timeout_s if timeout_s is not None else max(DEFAULT_TIMEOUTS_S.values())
    inner = raw_connector_for(account, timeout_s=inner_timeout, credential=credential)
    return GuardedConnector(inner, account_id=account.pk, timeout_s=timeout_s)
