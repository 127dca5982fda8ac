"""Structured logging: one JSON object per line, with request and bot context, secrets scrubbed.

Two layers keep secrets out: values decrypted by ``exchanges.crypto`` are registered here and
replaced wherever they appear, and anything shaped like ``secret=...`` is masked by pattern.
"""

import contextvars
import logging
import logging.config
import re
import threading
import time

from pythonjsonlogger.json import JsonFormatter

MASK = "***"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET_NAMES = (
    r"(?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|private[_-]?key|passphrase|password"
    r"|token|memo|authorization|x-(?:cs|bm)-(?:sign|apikey|key)|signature)"
)
_SECRET_PAIR = re.compile(
    rf"""(?ix)
    (["']?{_SECRET_NAMES}["']?\s*[:=]\s*)    # name and separator
    (?: "[^"]*" | '[^']*'                      # a quoted value, spaces and commas included
      | (?:bearer\s+)?[^\s"',;&}}\]]+ )     # or a bare one
    """
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")

# Insertion-ordered, so the oldest is dropped first when full (never all at once).
_known_secrets: dict[str, None] = {}
_known_lock = threading.Lock()
_MAX_KNOWN = 10_000
# Short strings would mask ordinary words; real keys are longer than this.
_MIN_SECRET_LEN = 6


def register_secret(value: str | None) -> None:
    """Mask this exact value in every later log line of this process."""
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _known_lock:
        _known_secrets.pop(value, None)  # re-registering makes it the newest
        _known_secrets[value] = None
        while len(_known_secrets) > _MAX_KNOWN:
            del _known_secrets[next(iter(_known_secrets))]


def scrub(text: str) -> str:
    """Mask registered secrets and secret-looking ``name=value`` pairs in text."""
    if _known_secrets:
        with _known_lock:
            known = sorted(_known_secrets, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _BEARER.sub(f"Bearer {MASK}", text)


_SECRET_FIELD = re.compile(rf"(?i)^{_SECRET_NAMES}$|_(?:key|secret|token)$")


class ScrubFilter(logging.Filter):
    """Renders the message once, scrubs it and its traceback, and masks secret-named extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        for name, value in list(vars(record).items()):
            if _SECRET_FIELD.search(name) and name not in _RECORD_FIELDS:
                setattr(record, name, MASK)
            elif isinstance(value, str) and name not in _RECORD_FIELDS:
                setattr(record, name, scrub(value))
        return True


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class PipelabsJsonFormatter(JsonFormatter):
    converter = time.gmtime

    def formatException(self, ei):
        return scrub(super().formatException(ei))

    def formatStack(self, stack_info):
        return scrub(super().formatStack(stack_info))

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        if log_record.get("request_id") is None:
            log_record.pop("request_id", None)
        for key in ("levelname", "name", "asctime"):
            log_record.pop(key, None)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """INFO for our apps, WARNING for libraries; JSON lines to stderr unless ``fmt`` is "text"."""
    formatter = (
        {"()": PipelabsJsonFormatter, "fmt": "%(message)s"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    app_logger = {"level": level, "handlers": ["console"], "propagate": False}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "context": {"()": ContextFilter},
                "scrub": {"()": ScrubFilter},
            },
            "formatters": {"main": formatter},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "main",
                    "filters": ["context", "scrub"],
                }
            },
            "root": {"level": "WARNING", "handlers": ["console"]},
            "loggers": {
                name: app_logger
                for name in ("pipelabs", "clients", "bots", "exchanges", "ledger", "django-q")
            }
            | {
                "django.request": {"level": "WARNING", "handlers": ["console"], "propagate": False},
            },
        }
    )
