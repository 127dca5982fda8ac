"""One settings module, driven by environment variables.

With no environment at all it runs for local use: SQLite in ``var/``, django-q2's ORM broker and
the database cache. ``DATABASE_URL`` selects PostgreSQL, ``REDIS_URL`` moves the cache and the
django-q2 broker to Redis. Production validation lives in ``pipelabs/checks.py``.
"""

import os
from datetime import timedelta
from pathlib import Path

from pipelabs.env import PRODUCTION, Env, csv, database_config, environment_name, normalize_environ

normalize_environ()
env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("PIPELABS_VAR_DIR", default=str(BASE_DIR / "var")))
VERSION = env.str("PIPELABS_VERSION", default="0.1.0")

ENVIRONMENT = environment_name()
# Unset means development, which only Django's own runserver may serve (pipelabs/wsgi.py).
ENVIRONMENT_IS_EXPLICIT = "PIPELABS_ENV" in os.environ
IS_PRODUCTION = ENVIRONMENT == PRODUCTION
DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)

# Local development gets a fixed, obviously unsafe key; production must set its own
# (pipelabs.E001 names the variable and refuses to start, instead of Django's bare traceback).
DEV_SECRET_KEY = "dev-insecure-pipelabs-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or DEV_SECRET_KEY

# Fernet keys, comma separated, newest first: the first encrypts, all decrypt (rotation).
ENCRYPTION_KEYS = csv(env.str("ENCRYPTION_KEYS", default=env.str("ENCRYPTION_KEY", default="")))

ALLOWED_HOSTS = csv(env.str("ALLOWED_HOSTS", default="" if IS_PRODUCTION else "*"))
# Hosts the platform's own health probes use (Railway's), accepted besides ALLOWED_HOSTS.
HEALTHCHECK_HOSTS = csv(env.str("HEALTHCHECK_HOSTS", default="healthcheck.railway.app"))
if ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, *HEALTHCHECK_HOSTS]
CSRF_TRUSTED_ORIGINS = csv(env.str("CSRF_TRUSTED_ORIGINS", default=""))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "pipelabs",
    "clients",
    "exchanges",
    "bots",
    "ledger",
]

MIDDLEWARE = [
    # First, so every answer (429s, 404s and 500s included) carries CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "pipelabs.middleware.RequestIdMiddleware",
    # Inside CORS and the request id, so the JSON errors it writes carry both.
    "pipelabs.middleware.JsonErrorsMiddleware",
    "pipelabs.middleware.RateLimitMiddleware",
    "pipelabs.middleware.AdminLoginLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from gunicorn; no separate file server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pipelabs.urls"
WSGI_APPLICATION = "pipelabs.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "pipelabs" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=60)
# Time limits (seconds; 0 is none). A database that hangs must not hold a web worker until
# gunicorn kills it: web requests get statement and lock timeouts; workers and commands
# (migrations, backfills) their own, off by default. /health and the rate limiter have shorter
# budgets of their own (pipelabs/budget.py).
DB_CONNECT_TIMEOUT_S = env.float("DB_CONNECT_TIMEOUT_S", default=10.0)
WEB_STATEMENT_TIMEOUT_S = env.float("WEB_STATEMENT_TIMEOUT_S", default=15.0)
WEB_LOCK_TIMEOUT_S = env.float("WEB_LOCK_TIMEOUT_S", default=5.0)
WORKER_STATEMENT_TIMEOUT_S = env.float("WORKER_STATEMENT_TIMEOUT_S", default=0.0)
WORKER_LOCK_TIMEOUT_S = env.float("WORKER_LOCK_TIMEOUT_S", default=0.0)
HEALTH_TIMEOUT_S = env.float("HEALTH_TIMEOUT_S", default=1.0)
RATELIMIT_DB_TIMEOUT_S = env.float("RATELIMIT_DB_TIMEOUT_S", default=0.3)
# Behind pgbouncer in transaction mode (docs/deploy.md): QuerySet.iterator() then reads in chunks.
DB_DISABLE_SERVER_SIDE_CURSORS = env.bool("DB_DISABLE_SERVER_SIDE_CURSORS", default=False)
if DATABASE_URL:
    DATABASES = {"default": database_config(DATABASE_URL, CONN_MAX_AGE, DB_CONNECT_TIMEOUT_S,
                                            server_side_cursors=not DB_DISABLE_SERVER_SIDE_CURSORS)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(VAR_DIR / "pipelabs.sqlite3")),
            # Web and worker share the file: wait for a lock instead of failing at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # A file (not memory) so worker processes started by tests see the same database;
            # per process so parallel test runs do not share one.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate-limit counters, shared by every process) -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "pipelabs.cache.RedisCache",  # one client per pool, one-trip incr
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "pipelabs_cache",
            # Culling at Django's default 300 entries would drop live rate-limit counters.
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# --- rate limiting (django-ratelimit) --------------------------------------------------------
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True  # a cache that answers nothing lets requests through (middleware.py)
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="300/m")
HEALTH_RATE_LIMIT = env.str("HEALTH_RATE_LIMIT", default="1000/m")
# Behind a proxy the peer address is the proxy's: read the client from this header instead,
# taking the entry PROXY_COUNT places from the right (the part the proxies vouch for).
# The header is believed only from peers in TRUSTED_PROXIES (CIDRs): a client reaching the app
# directly could otherwise name a new "client" in every request.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
PROXY_COUNT = env.int("PROXY_COUNT", default=1)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# One IPv6 subscriber holds a whole /64 (often more): count the prefix, not the address.
RATELIMIT_IPV6_PREFIX = env.int("RATELIMIT_IPV6_PREFIX", default=64)
# Failed admin sign-ins, per client IP and per username.
ADMIN_LOGIN_FAILURE_LIMIT = env.str("ADMIN_LOGIN_FAILURE_LIMIT", default="5/15m")

# --- CORS ------------------------------------------------------------------------------------
SEED_CORS_ORIGINS = [
    "https://app.pipelabs.xyz",
    "https://pipelabs.xyz",
    "http://localhost:3000",
    "http://localhost:5173",
]
CORS_ORIGINS_FROM_ENV = bool(env.str("CORS_ALLOWED_ORIGINS", default=""))
CORS_ALLOWED_ORIGINS = csv(env.str("CORS_ALLOWED_ORIGINS", default=",".join(SEED_CORS_ORIGINS)))
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "origin",
    "x-csrftoken",
    "x-request-id",
    "x-requested-with",
    "x-wallet-address",
    "x-client-id",
)
# The frontend sends its bearer token and reads JSON across origins.
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")

# --- security (production) -------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PRODUCTION
SECURE_HSTS_PRELOAD = IS_PRODUCTION
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
X_FRAME_OPTIONS = "DENY"

# --- REST framework --------------------------------------------------------------------------
# Deny by default: a view must say who may call it, never inherit DRF's allow-any.
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "pipelabs.api.exceptions.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clients.principal.BearerTokenAuthentication",
        "clients.principal.WalletHeaderAuthentication",
    ],
    # Signed in to read; writes as clients.selectors.write_refusal decides (roles, management mode).
    "DEFAULT_PERMISSION_CLASSES": ["clients.api.permissions.OwnWrites"],
    # Decimals as JSON numbers from their own digits (pipelabs/api/wire.py).
    "DEFAULT_RENDERER_CLASSES": ["pipelabs.api.wire.DecimalJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["pipelabs.api.wire.DecimalJSONParser"],
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": None,
    # ?format=csv selects an export (GET /bots/{id}/trades), not a renderer.
    "URL_FORMAT_OVERRIDE": None,
}
# API tokens: random, stored as SHA-512 digests, expiring (django-rest-knox).
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(hours=env.float("API_TOKEN_TTL_HOURS", default=12)),
    "AUTO_REFRESH": False,
}
# Seconds a process trusts a token it has checked before asking the database again: a revoked
# token may still pass for this long in another process (the revoking one forgets it at once).
API_TOKEN_CACHE_S = env.float("API_TOKEN_CACHE_S", default=10.0)
# GET /bots answers an unchanged list (same bots, none updated) from memory (this process's, or the
# shared cache's) for this long: its heartbeats and figures may trail by this much; a change to a
# listed bot's row is seen at once. 0: off.
API_LIST_CACHE_S = env.float("API_LIST_CACHE_S", default=2.0)
# GET /bots/{id} answers from this process's memory while the bot's row is unchanged, for this long
# (its health reads the heartbeat's age against the clock). 0: off.
API_DETAIL_CACHE_S = env.float("API_DETAIL_CACHE_S", default=1.0)
# POST /orders/place waits on the venue: its whole budget (markets, send, look-ups), under gunicorn's 30 s.
MANUAL_ORDER_TIMEOUT_S = env.float("MANUAL_ORDER_TIMEOUT_S", default=12.0)
# The earlier frontend identified itself with a bare X-Wallet-Address header, which anyone can
# write: accepted only when this compatibility switch is on, never in production (pipelabs.E0xx).
API_ALLOW_WALLET_HEADER = env.bool("API_ALLOW_WALLET_HEADER", default=False)
# Sign-in: how long an issued message may be signed, and the limits per IP and per wallet.
SIGN_IN_MESSAGE_TTL_S = env.int("SIGN_IN_MESSAGE_TTL_S", default=300)
SIGN_IN_RATE_LIMIT = env.str("SIGN_IN_RATE_LIMIT", default="20/m")
SIGN_IN_WALLET_RATE_LIMIT = env.str("SIGN_IN_WALLET_RATE_LIMIT", default="10/m")
# The domain and URI written into sign-in messages (EIP-4361 / Sign-In with Solana).
SIGN_IN_DOMAIN = env.str("SIGN_IN_DOMAIN", default="app.pipelabs.xyz")
SIGN_IN_URI = env.str("SIGN_IN_URI", default="https://app.pipelabs.xyz")
SPECTACULAR_SETTINGS = {
    "TITLE": "pipelabs API",
    "VERSION": VERSION,
    # Swagger UI and Redoc from the pinned drf-spectacular-sidecar, served as our static files:
    # the docs work offline and no unpinned CDN code runs in an operator's browser.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Our routes answer with and without a trailing slash; document them as the frontend calls them.
    "PREPROCESSING_HOOKS": ["pipelabs.api.base.paths_without_trailing_slash"],
    # Every error answer ({"detail", "code"}) documented on every operation, as the handler sends it.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "pipelabs.api.base.error_responses"],
    "ENUM_NAME_OVERRIDES": {"WalletChain": ["solana", "evm"], "ManagementMode": ["self", "managed"],
                            "OrderKind": ["limit", "market"]},
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- django-q2 -------------------------------------------------------------------------------
Q_CLUSTER = {
    # Clusters sharing a broker and name share a queue; tests running side by side use their own.
    "name": env.str("Q_CLUSTER_NAME", default="pipelabs"),
    "workers": env.int("Q_WORKERS", default=2),
    "recycle": 500,
    # A task may run `timeout` seconds; it is retried only after `retry`, so never twice at once.
    "timeout": env.int("Q_TIMEOUT_S", default=60),
    "retry": env.int("Q_RETRY_S", default=90),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# A worker heartbeat older than this means no cluster is running.
WORKER_STALE_AFTER_S = env.int("WORKER_STALE_AFTER_S", default=180)
BOT_STALE_AFTER_S = env.int("BOT_STALE_AFTER_S", default=120)

# --- ledger figures ------------------------------------------------------------------------
# Past these ages a figure is shown with is_stale: the background refreshes run every minute.
MARK_MAX_AGE_S = env.int("MARK_MAX_AGE_S", default=300)
USD_RATE_MAX_AGE_S = env.int("USD_RATE_MAX_AGE_S", default=900)
BALANCE_MAX_AGE_S = env.int("BALANCE_MAX_AGE_S", default=300)
# Balance snapshots and price history older than this are pruned (the latest of each is kept).
PRUNE_AFTER_DAYS = env.int("PRUNE_AFTER_DAYS", default=30)

# --- bot engine (bots/engine; README "Bot engine") ----------------------------------------------
# A bot whose heartbeat is older than this when it next ticks (the platform was down) comes back paused.
BOT_PAUSE_AFTER_DOWN_S = env.int("BOT_PAUSE_AFTER_DOWN_S", default=600)
# Ticks failed in a row before a bot goes to error with the venue's message; a venue that is down,
# slow or rate-limiting is waited out longer (failed ticks back off 5, 10, 20, 40 s, then BOT_BACKOFF_MAX_S).
BOT_MAX_FAILURES = env.int("BOT_MAX_FAILURES", default=3)
BOT_MAX_TRANSIENT_FAILURES = env.int("BOT_MAX_TRANSIENT_FAILURES", default=30)
BOT_BACKOFF_MAX_S = env.float("BOT_BACKOFF_MAX_S", default=60.0)
# One dispatcher's loop before it hands over to its successor; below Q_TIMEOUT_S.
BOT_DISPATCH_RUN_S = env.float("BOT_DISPATCH_RUN_S", default=55.0)
BOT_RECONCILE_EVERY_S = env.int("BOT_RECONCILE_EVERY_S", default=300)
BOT_MIN_INTERVAL_S = env.float("BOT_MIN_INTERVAL_S", default=1.0)
# A lease outlives the worker timeout by this much, so a tick the timeout kills is dead before the next.
BOT_LEASE_MARGIN_S = env.float("BOT_LEASE_MARGIN_S", default=10.0)
# The longest one venue call may take (the guard's order budget; Jupiter's confirmation wait, 30 s):
# a tick starts no venue call later than Q_TIMEOUT_S minus this minus 5 s.
BOT_LONGEST_VENUE_CALL_S = env.float("BOT_LONGEST_VENUE_CALL_S", default=30.0)
# Platform-wide safety limits a bot's own fields override, as JSON, e.g.
# {"max_order_usd": "500", "max_orders_per_minute": 30, "max_daily_loss_usd": "200"}.
BOT_SAFETY_DEFAULTS = env.json("BOT_SAFETY_DEFAULTS", default={})

# --- egress IP (operators whitelist it at exchanges) ------------------------------------------
EGRESS_IP_URL = env.str("EGRESS_IP_URL", default="https://api.ipify.org?format=json")
EGRESS_IP_TIMEOUT_S = env.float("EGRESS_IP_TIMEOUT_S", default=5.0)

# --- exchanges -------------------------------------------------------------------------------
# Per-venue request budgets over the defaults in exchanges/throttle.py, as JSON, e.g.
# {"jupiter": {"ip": "50/s"}, "bitmart": {"account": "4/s"}}.
EXCHANGE_RATE_LIMITS = env.json("EXCHANGE_RATE_LIMITS", default={})
COINSTORE_API_URL = env.str("COINSTORE_API_URL", default="https://api.coinstore.com/api")
SOLANA_RPC_URL = env.str("SOLANA_RPC_URL", default="https://api.mainnet-beta.solana.com")
JUPITER_API_URL = env.str("JUPITER_API_URL", default="https://lite-api.jup.ag/swap/v1")
# Hosts an account's api_url / rpc_url may reach over plain http (local nodes, test fakes);
# everything else must be https (exchanges/endpoints.py).
EXCHANGE_HTTP_HOSTS = env.list("EXCHANGE_HTTP_HOSTS", default=[])

# --- auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = DEBUG
DEFAULT_EXCEPTION_REPORTER_FILTER = "pipelabs.debug.SecretsHiddenFilter"  # also with DEBUG on
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root

# --- logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING_CONFIG = None
from pipelabs.logging import configure_logging  # noqa: E402  (needs the values above)

configure_logging(LOG_LEVEL, LOG_FORMAT)
