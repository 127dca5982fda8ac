"""Production configuration checks (``manage.py check`` / ``check --deploy`` and process start).

In production a missing or unsafe variable is an Error naming the variable, and the web process
refuses to start (see ``refuse_invalid_production_config``); management commands, qcluster
included, refuse through Django's own system-check run.
"""

import ipaddress
from urllib.parse import urlparse

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 32
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"}


def _is_local(value: str) -> bool:
    host = urlparse(value).hostname if "://" in value else value.split(":")[0]
    return (host or "").strip("[]").lower() in LOCAL_HOSTS or (host or "").endswith(".localhost")


def _missing(var: str, why: str, id_: str) -> checks.Error:
    return checks.Error(f"{var} is not set. {why}", hint=f"Set the {var} environment variable.", id=id_)


@checks.register("pipelabs")
def check_encryption_keys(app_configs=None, **kwargs):
    errors = []
    for position, key in enumerate(settings.ENCRYPTION_KEYS, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"ENCRYPTION_KEYS entry {position} is not a valid Fernet key.",
                    hint="Generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
                    id="pipelabs.E003",
                )
            )
    return errors


def _valid_rate(rate: str) -> bool:
    from django_ratelimit.core import _split_rate

    try:
        count, seconds = _split_rate(rate)
    except Exception:
        return False
    return count > 0 and seconds > 0


@checks.register("pipelabs")
def check_limits_and_queue(app_configs=None, **kwargs):
    """Values that would silently disable a protection rather than fail."""
    errors = []
    for var in ("API_RATE_LIMIT", "HEALTH_RATE_LIMIT", "ADMIN_LOGIN_FAILURE_LIMIT"):
        if not _valid_rate(getattr(settings, var)):
            errors.append(checks.Error(
                f"{var} is not a rate like 300/m.", hint=f"Set {var} to COUNT/PERIOD, e.g. 300/m or 50/5s.",
                id="pipelabs.E009",
            ))
    if settings.PROXY_COUNT < 1:
        errors.append(checks.Error(
            "PROXY_COUNT must be 1 or more: 0 would trust the client-controlled end of the header.",
            hint="Set PROXY_COUNT to the number of proxies in front of the app.", id="pipelabs.E010",
        ))
    for position, cidr in enumerate(settings.TRUSTED_PROXIES, start=1):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(checks.Error(
                f"TRUSTED_PROXIES entry {position} is not an IP network.",
                hint="List the proxies' addresses or CIDRs, comma separated, e.g. 10.0.0.0/8,fd00::/8.", id="pipelabs.E012",
            ))
    for var in ("HEALTH_TIMEOUT_S", "RATELIMIT_DB_TIMEOUT_S", "MARK_MAX_AGE_S", "USD_RATE_MAX_AGE_S",
                "BALANCE_MAX_AGE_S", "PRUNE_AFTER_DAYS"):
        if not getattr(settings, var) > 0:
            unit = "days, e.g. 30" if var.endswith("_DAYS") else "seconds, e.g. 1"
            errors.append(checks.Error(
                f"{var} must be above 0.", hint=f"Set {var} to a number of {unit}.", id="pipelabs.E014",
            ))
    for var in ("DB_CONNECT_TIMEOUT_S", "WEB_STATEMENT_TIMEOUT_S", "WEB_LOCK_TIMEOUT_S",
                "WORKER_STATEMENT_TIMEOUT_S", "WORKER_LOCK_TIMEOUT_S"):
        if getattr(settings, var) < 0:
            errors.append(checks.Error(
                f"{var} must not be negative.", hint=f"Set {var} to seconds, or 0 for no limit.", id="pipelabs.E014",
            ))
    if not 1 <= settings.RATELIMIT_IPV6_PREFIX <= 128:
        errors.append(checks.Error(
            "RATELIMIT_IPV6_PREFIX must be between 1 and 128.", hint="The default, 64, is one subscriber's network.",
            id="pipelabs.E013",
        ))
    if settings.Q_CLUSTER["timeout"] >= settings.Q_CLUSTER["retry"]:
        errors.append(checks.Error(
            "Q_TIMEOUT_S must be below Q_RETRY_S, or a slow task is retried while it still runs.",
            hint="Lower Q_TIMEOUT_S or raise Q_RETRY_S.", id="pipelabs.E011",
        ))
    return errors


@checks.register("pipelabs")
def check_production_config(app_configs=None, **kwargs):
    if not settings.IS_PRODUCTION:
        return []
    errors: list[checks.CheckMessage] = []
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(_missing("SECRET_KEY", "Sessions and CSRF tokens would be forgeable.", "pipelabs.E001"))
    elif len(settings.SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(settings.SECRET_KEY)) < 8:
        errors.append(checks.Error(
            f"SECRET_KEY is too weak (fewer than {MIN_SECRET_KEY_LENGTH} characters or too few distinct ones).",
            hint="Generate one with Python's secrets.token_urlsafe(50).", id="pipelabs.E001",
        ))
    if not settings.ENCRYPTION_KEYS:
        errors.append(_missing("ENCRYPTION_KEYS", "Exchange credentials cannot be stored safely.", "pipelabs.E002"))
    if not settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
        errors.append(
            checks.Error(
                "ALLOWED_HOSTS is not set (or is '*').",
                hint="Set ALLOWED_HOSTS to the public host names, comma separated.",
                id="pipelabs.E004",
            )
        )
    if not settings.CORS_ORIGINS_FROM_ENV:
        errors.append(_missing("CORS_ALLOWED_ORIGINS", "The frontend's origins must be listed.", "pipelabs.E005"))
    if not settings.DATABASE_URL:
        errors.append(_missing("DATABASE_URL", "Production runs on PostgreSQL, not the local SQLite file.", "pipelabs.E007"))
    if settings.DEBUG:
        errors.append(checks.Error("DEBUG is on in production.", hint="Unset DEBUG.", id="pipelabs.E008"))
    if settings.API_ALLOW_WALLET_HEADER:
        errors.append(checks.Error(
            "API_ALLOW_WALLET_HEADER is on in production: anyone could act as any wallet by naming it.",
            hint="Unset API_ALLOW_WALLET_HEADER; the frontend signs in and sends a bearer token.",
            id="pipelabs.E020",
        ))
    for var, values in (
        ("ALLOWED_HOSTS", settings.ALLOWED_HOSTS),
        ("CORS_ALLOWED_ORIGINS", settings.CORS_ALLOWED_ORIGINS if settings.CORS_ORIGINS_FROM_ENV else []),
        ("CSRF_TRUSTED_ORIGINS", settings.CSRF_TRUSTED_ORIGINS),
    ):
        local = [value for value in values if _is_local(value)]
        if local:
            errors.append(
                checks.Error(
                    f"{var} names a localhost address in production: {', '.join(local)}.",
                    hint=f"Remove local addresses from {var}.",
                    id="pipelabs.E006",
                )
            )
    if not settings.CLIENT_IP_HEADER:
        errors.append(checks.Warning(
            "CLIENT_IP_HEADER is not set: behind a proxy every client shares the proxy's rate limit.",
            hint="Set CLIENT_IP_HEADER=X-Forwarded-For (and PROXY_COUNT) when a proxy fronts the app.",
            id="pipelabs.W002",
        ))
    elif not settings.TRUSTED_PROXIES:
        errors.append(checks.Warning(
            "CLIENT_IP_HEADER is set but TRUSTED_PROXIES is empty: the header is ignored and every client "
            "shares the proxy's rate limit.",
            hint="Set TRUSTED_PROXIES to the proxies' addresses or CIDRs.", id="pipelabs.W003",
        ))
    # The seed only warned here: a database or Redis on the same host can be deliberate.
    for var, url in (
        ("DATABASE_URL", settings.DATABASE_URL),
        ("REDIS_URL", settings.REDIS_URL),
        ("COINSTORE_API_URL", settings.COINSTORE_API_URL),
        ("SOLANA_RPC_URL", settings.SOLANA_RPC_URL),
        ("JUPITER_API_URL", settings.JUPITER_API_URL),
        ("EGRESS_IP_URL", settings.EGRESS_IP_URL),
    ):
        if url and _is_local(url):
            errors.append(
                checks.Warning(f"{var} points at localhost in production.", hint=f"Check {var}.", id="pipelabs.W001")
            )
    return errors


def refuse_invalid_production_config() -> None:
    """Raise ImproperlyConfigured listing every error, if production config fails its checks."""
    if not settings.IS_PRODUCTION:
        return
    problems = [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.is_serious() and not message.is_silenced()
    ]
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with an invalid production configuration:\n"
            + "\n".join(f"- {message.id}: {message.msg}" for message in problems)
        )
