import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PIPELABS_ENV": "production",
    "SECRET_KEY": "k3y-" + "x9Qz" * 16,
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "api.pipelabs.xyz",
    "CORS_ALLOWED_ORIGINS": "https://app.pipelabs.xyz,https://pipelabs.xyz",
    "DATABASE_URL": "postgres://pipelabs:pw@db.internal:5432/pipelabs",
    "CLIENT_IP_HEADER": "X-Forwarded-For",
    "TRUSTED_PROXIES": "100.64.0.0/10",
}


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "pipelabs.settings", "PIPELABS_VAR_DIR": str(ROOT / "var")}
    return subprocess.run([sys.executable, *args], env=base | env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_complete_production_env_passes_check_deploy_silently():
    result = run(["manage.py", "check", "--deploy"], PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ENCRYPTION_KEYS", "ALLOWED_HOSTS", "CORS_ALLOWED_ORIGINS", "DATABASE_URL"])
def test_missing_production_variable_is_named_and_fails(variable):
    env = {k: v for k, v in PRODUCTION.items() if k != variable}
    result = run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    assert f"{variable} is not set" in result.stderr


def test_localhost_cors_origin_in_production_is_an_error():
    result = run(["manage.py", "check"], PRODUCTION | {"CORS_ALLOWED_ORIGINS": "https://app.pipelabs.xyz,http://localhost:3000"})
    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGINS names a localhost address" in result.stderr


def test_localhost_database_in_production_is_a_warning_only():
    result = run(["manage.py", "check"], PRODUCTION | {"DATABASE_URL": "postgres://u@localhost:5432/app"})
    assert result.returncode == 0
    assert "DATABASE_URL points at localhost in production" in result.stderr


def test_invalid_encryption_key_is_an_error_in_any_environment():
    result = run(["manage.py", "check"], {"ENCRYPTION_KEYS": "not-a-key"})
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS entry 1 is not a valid Fernet key" in result.stderr


def test_web_process_refuses_to_start_with_missing_production_variable():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run(["-c", "import pipelabs.wsgi"], env)
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_web_process_starts_with_complete_production_env():
    result = run(["-c", "import pipelabs.wsgi; print('ready')"], PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "ready" in result.stdout


def test_worker_refuses_to_start_with_missing_production_variable():
    env = {k: v for k, v in PRODUCTION.items() if k != "ENCRYPTION_KEYS"}
    result = run(["manage.py", "qcluster"], env)
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.parametrize("key", ["", "changeme", "a" * 40])
def test_empty_or_weak_secret_key_refuses_production(key):
    result = run(["manage.py", "check"], PRODUCTION | {"SECRET_KEY": key})
    assert result.returncode != 0
    assert "pipelabs.E001" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("env,message", [
    ({"API_RATE_LIMIT": "2 /m"}, "API_RATE_LIMIT is not a rate"),
    ({"HEALTH_RATE_LIMIT": "lots"}, "HEALTH_RATE_LIMIT is not a rate"),
    ({"PROXY_COUNT": "0"}, "PROXY_COUNT must be 1 or more"),
    ({"ADMIN_LOGIN_FAILURE_LIMIT": "5"}, "ADMIN_LOGIN_FAILURE_LIMIT is not a rate"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8,not-a-network"}, "TRUSTED_PROXIES entry 2 is not an IP network"),
    ({"RATELIMIT_IPV6_PREFIX": "129"}, "RATELIMIT_IPV6_PREFIX must be between 1 and 128"),
    ({"HEALTH_TIMEOUT_S": "0"}, "HEALTH_TIMEOUT_S must be above 0"),
    ({"WEB_LOCK_TIMEOUT_S": "-1"}, "WEB_LOCK_TIMEOUT_S must not be negative"),
    ({"Q_TIMEOUT_S": "100", "Q_RETRY_S": "90"}, "Q_TIMEOUT_S must be below Q_RETRY_S"),
])
def test_settings_that_would_disable_a_protection_are_errors_anywhere(env, message):
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_without_a_client_ip_header_is_warned():
    result = run(["manage.py", "check"], {k: v for k, v in PRODUCTION.items() if k != "CLIENT_IP_HEADER"})
    assert result.returncode == 0
    assert "CLIENT_IP_HEADER is not set" in result.stderr


def test_client_ip_header_without_trusted_proxies_is_warned():
    result = run(["manage.py", "check"], {k: v for k, v in PRODUCTION.items() if k != "TRUSTED_PROXIES"})
    assert result.returncode == 0
    assert "CLIENT_IP_HEADER is set but TRUSTED_PROXIES is empty" in result.stderr
