import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_runlocal_serves_a_healthy_platform_and_stops_cleanly(subprocess_env, tmp_path):
    port = free_port()
    log = open(tmp_path / "runlocal.log", "w")
    process = subprocess.Popen([sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
                               cwd=ROOT, env=subprocess_env, stdout=log, stderr=log, start_new_session=True)
    body = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    body = json.load(response)
                if body["status"] == "healthy":
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert body and body["status"] == "healthy", (tmp_path / "runlocal.log").read_text()[-2000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        log.close()
    # web and worker went with it: nothing answers on the port any more
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
