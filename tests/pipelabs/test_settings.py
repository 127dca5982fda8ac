import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelabs.env import database_config, normalize_environ

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    " 'conn_max_age': s.DATABASES['default'].get('CONN_MAX_AGE'),"
    " 'health_checks': s.DATABASES['default'].get('CONN_HEALTH_CHECKS'),"
    " 'options': s.DATABASES['default'].get('OPTIONS'), 'cache': s.CACHES['default']['BACKEND'],"
    " 'broker': 'redis' if 'redis' in s.Q_CLUSTER else 'orm' if 'orm' in s.Q_CLUSTER else None,"
    " 'cors': s.CORS_ALLOWED_ORIGINS, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS}))"
)


def settings_in_child(env: dict) -> dict:
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "pipelabs.settings", "PIPELABS_VAR_DIR": str(ROOT / "var")}
    result = subprocess.run([sys.executable, "-c", PROBE], env=base | env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_padded_variable_names_and_values_are_stripped():
    environ = {" DATABASE_URL ": " postgres://u@h/db ", "LOG_LEVEL": "INFO ", "A": "1", " A": "2"}
    normalize_environ(environ)
    assert environ == {"DATABASE_URL": "postgres://u@h/db", "LOG_LEVEL": "INFO", "A": "1"}


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_accepts_both_postgres_schemes(scheme):
    config = database_config(f"{scheme}://user:pw@db.example:6543/pipelabs", conn_max_age=60)
    assert config["ENGINE"] == "pipelabs.postgresql"  # Django's, with time limits
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.example", 6543, "pipelabs", "user")
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["OPTIONS"]["connect_timeout"] == 10


def test_server_side_cursors_can_be_turned_off_for_a_transaction_pooler():
    url = "postgres://user:pw@pgbouncer.internal:6432/pipelabs"
    assert "DISABLE_SERVER_SIDE_CURSORS" not in database_config(url, conn_max_age=0)
    assert database_config(url, conn_max_age=0, server_side_cursors=False)["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_no_environment_runs_locally_on_sqlite_and_orm_broker():
    values = settings_in_child({})
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("pipelabs.sqlite3")
    assert values["broker"] == "orm"
    assert values["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert values["debug"] is True
    assert values["cors"] == [
        "https://app.pipelabs.xyz",
        "https://pipelabs.xyz",
        "http://localhost:3000",
        "http://localhost:5173",
    ]


def test_padded_database_url_selects_postgres_with_pre_ping():
    values = settings_in_child({" DATABASE_URL ": " postgres://u:p@db.example:5432/app "})
    assert values["engine"] == "pipelabs.postgresql"
    assert values["health_checks"] is True
    assert values["conn_max_age"] == 60
    assert values["options"]["connect_timeout"] == 10


def test_redis_url_moves_cache_and_broker_to_redis():
    values = settings_in_child({"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert values["broker"] == "redis"
    assert values["cache"] == "pipelabs.cache.RedisCache"  # Django's, one client per pool (pipelabs/cache.py)


def test_cors_origins_and_hosts_come_from_env():
    values = settings_in_child({"CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example", "ALLOWED_HOSTS": "api.example"})
    assert values["cors"] == ["https://a.example", "https://b.example"]
    assert values["hosts"] == ["api.example", "healthcheck.railway.app"]  # the platform's health probe


def test_nameless_variable_is_dropped():
    environ = {"  ": "x", "A": "1"}
    normalize_environ(environ)
    assert environ == {"A": "1"}


@pytest.mark.parametrize("variable,value,message", [
    ("DB_CONN_MAX_AGE", "", "DB_CONN_MAX_AGE has an invalid value"),
    ("SECURE_HSTS_SECONDS", "one year", "SECURE_HSTS_SECONDS has an invalid value"),
    ("EXCHANGE_RATE_LIMITS", "{not json", "EXCHANGE_RATE_LIMITS has an invalid value"),
    ("DEBUG", "maybe", "DEBUG must be true or false"),
])
def test_bad_values_are_named_errors(variable, value, message):
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "pipelabs.settings", "PIPELABS_VAR_DIR": str(ROOT / "var")}
    result = subprocess.run([sys.executable, "-c", PROBE], env=base | {variable: value}, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
    assert value not in result.stderr.split(message)[-1] or not value  # the value itself is not echoed
