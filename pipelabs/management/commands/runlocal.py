import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from django_q.tasks import async_task

# Seconds a child gets to stop after SIGTERM (the cluster finishes its running tasks) before
# its whole process group is killed.
STOP_GRACE_S = 15
READY_WITHIN_S = 30
PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    pass


def _stop(signum, frame):
    raise _Stop(signum)


def _die_with(parent_pid: int):
    """For the child, before exec: its own session, so a signal to runlocal's process group
    (a service manager, a test harness, a terminal's Ctrl-C) reaches runlocal alone, which then
    stops the children in order; and SIGTERM if runlocal dies, even by SIGKILL (Linux)."""

    def prepare():
        os.setsid()
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):  # not Linux: runlocal's own shutdown still applies
            pass
        if os.getppid() != parent_pid:  # runlocal died before the line above took effect
            os._exit(1)

    return prepare


def parse_addr(addr: str) -> tuple[str, int]:
    match = naiveip_re.match(addr)
    port = int(match["port"]) if match else 0
    if not match or not 1 <= port <= 65535:
        raise CommandError(f"--addr must be HOST:PORT or PORT (e.g. 127.0.0.1:8000), not {addr!r}.")
    host = match["addr"] or "127.0.0.1"
    return host.strip("[]"), port


def check_free(host: str, port: int) -> None:
    """Bind the address once, so a bad host or a port in use is said before anything starts."""
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver does
            probe.bind(sockaddr)
    except OSError as exc:
        reason = "the port is in use" if getattr(exc, "errno", None) == errno.EADDRINUSE else exc.strerror or str(exc)
        raise CommandError(f"cannot listen on {host}:{port}: {reason}.") from None


class Command(BaseCommand):
    help = "Run the web server and a django-q2 worker cluster together, for local use. Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="HOST:PORT (or PORT) for the web server.")

    def handle(self, *args, addr, **options):
        host, port = parse_addr(addr)
        check_free(host, port)
        # Stop on Ctrl-C and on SIGTERM alike, even where a parent shell ignored SIGINT.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _stop)
        manage = [sys.executable, os.path.join(os.getcwd(), "manage.py")]
        prepare = _die_with(os.getpid())
        processes: dict[str, subprocess.Popen] = {}
        failure = None
        try:
            processes["web"] = subprocess.Popen([*manage, "runserver", "--noreload", addr], preexec_fn=prepare)
            processes["worker"] = subprocess.Popen([*manage, "qcluster"], preexec_fn=prepare)
            self._wait_until_listening(host, port, processes)
            # The scheduler's first pass comes ~30 s after start; one beat now makes /health green at once.
            async_task("pipelabs.tasks.beat")
            self.stdout.write(f"web on http://{host}:{port}/admin/ and a worker cluster are running; Ctrl-C stops both.")
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            dead = [name for name, process in processes.items() if process.poll() is not None]
            failure = f"{', '.join(dead)} exited; the rest was stopped."
        except _Stop:
            pass
        except CommandError as exc:
            failure = str(exc)
        finally:
            self._shut_down(processes)
        if failure:
            raise CommandError(failure)

    def _wait_until_listening(self, host, port, processes):
        deadline = time.monotonic() + READY_WITHIN_S
        while time.monotonic() < deadline:
            dead = [name for name, process in processes.items() if process.poll() is not None]
            if dead:
                raise CommandError(f"{', '.join(dead)} exited while starting (see above).")
            try:
                socket.create_connection((host, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"the web server did not listen on {host}:{port} within {READY_WITHIN_S}s.")

    def _shut_down(self, processes):
        """SIGTERM each child, wait, then kill what is left of its process group; a second
        signal meanwhile skips the wait."""
        hurry = []
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: hurry.append(True))
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and not hurry and any(p.poll() is None for p in processes.values()):
            time.sleep(0.1)
        for process in processes.values():
            try:  # the child leads its own group: this takes the cluster's workers with it
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
