import json
import os
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


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc), however it was started."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its reaping is pending


def start_runlocal(env, tmp_path, port):
    log = open(tmp_path / "runlocal.log", "w")
    process = subprocess.Popen([sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
                               cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if json.load(response)["status"] == "healthy":
                    break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        raise AssertionError((tmp_path / "runlocal.log").read_text()[-2000:])
    time.sleep(1)  # the cluster's workers are all up
    return process


@pytest.mark.slow
@pytest.mark.parametrize("how", ["group-SIGINT", "group-SIGTERM", "parent-SIGINT", "parent-SIGKILL"])
def test_runlocal_leaves_no_process_behind_however_it_is_stopped(subprocess_env, tmp_path, how):
    """A service manager or test harness signals the whole process group; a terminal's Ctrl-C does
    too; `kill` signals the parent alone; SIGKILL gives the parent no chance to clean up."""
    process = start_runlocal(subprocess_env, tmp_path, free_port())
    tree = descendants(process.pid)
    assert len(tree) >= 3, tree  # web, qcluster and the cluster's own processes
    target, signum = how.split("-")
    if target == "group":
        os.killpg(process.pid, getattr(signal, signum))
    else:
        os.kill(process.pid, getattr(signal, signum))
    process.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(pid) for pid in tree):
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in tree if alive(pid)}
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, left
    if how != "parent-SIGKILL":
        assert process.returncode == 0, (tmp_path / "runlocal.log").read_text()[-2000:]


@pytest.mark.parametrize("addr,message", [
    ("notanaddress", "--addr must be HOST:PORT or PORT"),
    ("127.0.0.1:99999", "--addr must be HOST:PORT or PORT"),
    ("no-such-host.invalid:8000", "cannot listen on no-such-host.invalid:8000"),
])
def test_runlocal_refuses_a_bad_address_and_exits_non_zero(subprocess_env, addr, message):
    result = subprocess.run([sys.executable, "manage.py", "runlocal", "--addr", addr], cwd=ROOT, env=subprocess_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
    assert "running" not in result.stdout


def test_runlocal_refuses_a_port_in_use_and_exits_non_zero(subprocess_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"], cwd=ROOT,
                                env=subprocess_env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr
    assert "running" not in result.stdout
