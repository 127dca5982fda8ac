"""A qcluster whose paper venue misbehaves on cue, for the engine's cluster tests (test code only).

Env: PL_TEST_HANG_FILE: while that file exists, the next create_order is sent to the venue, then
the worker writes its pid to <file>.pid, removes the file and hangs (to be SIGKILLed mid-tick,
the order placed and its answer lost). PL_TEST_SLOW_BOOK_S: every order book read takes this
long, so ticks are long enough to overlap if anything let two run at once.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")

import django  # noqa: E402

django.setup()

from exchanges.connectors.paper import PaperConnector  # noqa: E402

real_create, real_book = PaperConnector.create_order, PaperConnector.fetch_order_book
hang_file = os.environ.get("PL_TEST_HANG_FILE")
slow_book_s = float(os.environ.get("PL_TEST_SLOW_BOOK_S") or 0)


def create_order(self, request):
    info = real_create(self, request)
    if hang_file and os.path.exists(hang_file):
        try:
            os.remove(hang_file)
        except FileNotFoundError:  # another worker took it
            return info
        Path(hang_file + ".pid").write_text(str(os.getpid()))
        time.sleep(600)
    return info


def fetch_order_book(self, symbol, depth=20):
    if slow_book_s:
        time.sleep(slow_book_s)
    return real_book(self, symbol, depth)


PaperConnector.create_order = create_order
PaperConnector.fetch_order_book = fetch_order_book

from django.core.management import execute_from_command_line  # noqa: E402

execute_from_command_line(["manage.py", "qcluster"])
