import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand
from django_q.tasks import async_task


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the web server and a django-q2 worker cluster together, for local use. Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")

    def handle(self, *args, addr, **options):
        # Stop on Ctrl-C and on SIGTERM alike, even where a parent shell ignored SIGINT.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        manage = [sys.executable, os.path.join(os.getcwd(), "manage.py")]
        processes = {
            "web": subprocess.Popen([*manage, "runserver", "--noreload", addr]),
            "worker": subprocess.Popen([*manage, "qcluster"]),
        }
        # The scheduler's first pass comes ~30 s after start; one beat now makes /health green at once.
        async_task("pipelabs.tasks.beat")
        self.stdout.write(f"web on http://{addr}/admin/ and a worker cluster are running; Ctrl-C stops both.")
        try:
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            dead = [name for name, process in processes.items() if process.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} exited; stopping the rest.")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
