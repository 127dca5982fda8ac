"""Reading the environment the way hosting platforms actually fill it.

Railway and similar dashboards let a variable be saved as ``" DATABASE_URL "``; the earlier
system broke on that, so names and values are stripped before settings read them.
"""

import math
import os

import environ
from django.core.exceptions import ImproperlyConfigured

PRODUCTION = "production"
DEVELOPMENT = "development"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)
_TRUE = {"true", "on", "ok", "y", "yes", "1"}
_FALSE = {"false", "off", "n", "no", "0", ""}


class Env(environ.Env):
    """django-environ, but a bad value is an error naming its variable, never a bare traceback
    or a silent False (``DEBUG=maybe``)."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(var)
        if cast is bool and raw is not None and raw.strip().lower() not in _TRUE | _FALSE:
            raise ImproperlyConfigured(f"{var} must be true or false.")
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:
            raise
        except (ValueError, TypeError) as exc:  # the value is not echoed: it may be a secret
            kind = getattr(cast, "__name__", None) or type(exc).__name__
            raise ImproperlyConfigured(f"{var} has an invalid value (expected {kind}).") from None


_process = {"web": False}


def mark_web_process() -> None:
    """Called by pipelabs.wsgi: database sessions opened from now on get the web's time limits."""
    _process["web"] = True


def is_web_process() -> bool:
    return _process["web"]


def environment_name(environ_map=os.environ) -> str:
    """``PIPELABS_ENV``, development when unset; anything else but the two names refuses to start.

    A typo (``prod``) must not quietly run production traffic with development's DEBUG and key.
    """
    value = environ_map.get("PIPELABS_ENV", DEVELOPMENT).strip().lower()
    if value not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"PIPELABS_ENV must be development or production, not {value!r}.")
    return value


def normalize_environ(environ_map=os.environ) -> None:
    """Strip stray spaces around variable names and values, in place.

    A name that already exists in its clean form wins over a padded duplicate.
    """
    for raw_name in list(environ_map):
        name = raw_name.strip()
        value = environ_map[raw_name]
        if not name:  # a dashboard entry with no name: nothing can read it
            del environ_map[raw_name]
        elif name != raw_name:
            del environ_map[raw_name]
            environ_map.setdefault(name, value.strip())
        elif value != value.strip():
            environ_map[name] = value.strip()


def database_config(url: str, conn_max_age: int, connect_timeout_s: float = 10, *,
                    server_side_cursors: bool = True) -> dict:
    """Django DATABASES entry for a URL; accepts ``postgres://`` and ``postgresql://``.

    PostgreSQL goes through ``pipelabs.postgresql``: Django's backend with a wall-clock connect
    deadline and per-process statement and lock timeouts. ``server_side_cursors=False`` for a
    transaction-mode pooler (pgbouncer), where a named cursor cannot outlive its transaction.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = conn_max_age
        # The seed's pool_pre_ping: a persistent connection is checked before reuse.
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})
        # libpq's own limit (whole seconds, at least 2) ends a connection attempt abandoned at
        # the backend's finer deadline.
        config["OPTIONS"].setdefault("connect_timeout", max(2, math.ceil(connect_timeout_s)) if connect_timeout_s > 0 else 0)
        config["ENGINE"] = "pipelabs.postgresql"
        if not server_side_cursors:
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


def csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
