"""What the long maintenance commands share: progress lines, and a clean stop on Ctrl-C.

Each command does its work in whole items (a batch, an account, a bot, one transaction); an item
interrupted half-way is rolled back by its own transaction, so stopping leaves no half-written
row. ``interruptible`` turns the KeyboardInterrupt into a readable CommandError saying what was
done, with the exit status a shell gives a program stopped by SIGINT.
"""
from contextlib import contextmanager

from django.core.management.base import CommandError

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C
INTERRUPT = "Interrupted (Ctrl-C): {done}"


class Progress:
    """'  12/40 accounts' lines: each ``step`` writes how many of ``total`` are done so far."""

    def __init__(self, stream, noun: str, total: int | None = None):
        self.stream, self.noun, self.total, self.done = stream, noun, total, 0

    def step(self, count: int = 1, detail: str = "") -> None:
        self.done += count
        self.stream.write(f"  {self.line()}{': ' + detail if detail else ''}")

    def count(self) -> str:
        return f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"

    def line(self) -> str:
        return f"{self.count()} {self.noun}"


@contextmanager
def interruptible(done):
    """Ctrl-C inside becomes CommandError(exit status 130) whose message ends with ``done()``."""
    try:
        yield
    except KeyboardInterrupt:
        raise CommandError(INTERRUPT.format(done=done()), returncode=INTERRUPTED) from None
