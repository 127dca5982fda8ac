"""PIPELABS_ENV is never a silent fallback: a typo refuses to start, the Procfile's processes run
as production, and a WSGI server other than Django's runserver never serves development defaults."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipelabs.test_checks import PRODUCTION
from tests.pipelabs.test_runlocal import free_port

ROOT = Path(__file__).resolve().parents[2]


def base_env(tmp_path) -> dict:
    # The Procfile calls `python` and `gunicorn` by name: this interpreter's first.
    return {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PIPELABS_VAR_DIR": str(tmp_path / "var")}


def procfile_command(process: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"no {process} in the Procfile")


@pytest.mark.parametrize("value", ["prod", "staging", "dev", "production,"])
def test_unknown_environment_refuses_to_start_naming_the_variable(tmp_path, value):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=base_env(tmp_path) | {"PIPELABS_ENV": value},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PIPELABS_ENV must be development or production" in result.stderr


def test_production_spelled_in_capitals_is_production(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT,
                            env=base_env(tmp_path) | {"PIPELABS_ENV": "PRODUCTION"}, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr  # validated as production, not run as development


@pytest.mark.parametrize("process", ["web", "worker", "release"])
def test_procfile_runs_every_process_as_production(process):
    command = procfile_command(process)
    assert re.match(r"^export PIPELABS_ENV=production && ", command), command


def run_procfile_web(tmp_path, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    port = free_port()
    command = procfile_command("web")
    return subprocess.run(["bash", "-c", command], cwd=ROOT, env=base_env(tmp_path) | {"PORT": str(port), "WEB_CONCURRENCY": "1"} | env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("env", [{}, {"PIPELABS_ENV": "development"}])
def test_procfile_web_refuses_development_defaults(tmp_path, env):
    result = run_procfile_web(tmp_path, env)
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.slow
def test_gunicorn_without_pipelabs_env_refuses_development_defaults(tmp_path):
    """Started by hand, not through the Procfile: no environment must not mean DEBUG on a public port."""
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "gunicorn", "pipelabs.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                            cwd=ROOT, env=base_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PIPELABS_ENV is not set" in result.stderr


@pytest.mark.slow
def test_gunicorn_with_explicit_development_serves(tmp_path):
    """Saying PIPELABS_ENV=development is the opt-in for a local WSGI server."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "pipelabs.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                               cwd=ROOT, env=base_env(tmp_path) | {"PIPELABS_ENV": "development"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page", timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                time.sleep(0.3)
        assert status == 404
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_production_wsgi_with_complete_env_still_starts(tmp_path):
    result = subprocess.run([sys.executable, "-c", "import pipelabs.wsgi; print('ready')"], cwd=ROOT,
                            env=base_env(tmp_path) | PRODUCTION, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ready" in result.stdout


def test_procfile_environment_passes_check_deploy_silently(tmp_path):
    """The Procfile's own PIPELABS_ENV plus the platform's variables: `check --deploy` is clean."""
    env = {k: v for k, v in PRODUCTION.items() if k != "PIPELABS_ENV"}
    command = procfile_command("release").split("&&")[0] + "&& python manage.py check --deploy"
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=base_env(tmp_path) | env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr + result.stdout
