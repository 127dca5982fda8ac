"""Long maintenance commands show progress and stop cleanly on Ctrl-C: the item under way is rolled
back whole, what was done is said, and the exit status is 130 (SIGINT's)."""
import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models.signals import post_delete
from django.utils import timezone

from bots.models import Bot
from clients.models import Client
from ledger.models import BalanceSnapshot
from pipelabs.management.commands._progress import INTERRUPTED
from tests.factories import BotFactory, ClientFactory, ExchangeAccountFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


class InterruptAt(io.StringIO):
    """Command output that presses Ctrl-C when a given progress line is written."""

    def __init__(self, text):
        super().__init__()
        self.text = text

    def write(self, value):
        super().write(value)
        if self.text in value:
            raise KeyboardInterrupt
        return len(value)


def old_snapshots(n):
    account = ExchangeAccountFactory()
    old = timezone.now() - timedelta(days=60)
    for i in range(n + 1):  # the last is the newest: prune always keeps it
        BalanceSnapshot.objects.create(account=account, asset="USDT", available=i, locked=0, total=i,
                                       taken_at=old + timedelta(minutes=i), confirmed_at=old + timedelta(minutes=i))


def export_file(path, names):
    data = {"version": 1, "clients": [
        {"name": name, "accounts": [{"exchange": "paper", "name": "main"}],
         "bots": [{"name": f"{name}-bot", "bot_type": "volume", "symbol": "SHARP/USDT",
                   "account": {"exchange": "paper", "name": "main"}}]} for name in names]}
    path.write_text(json.dumps(data))
    return path


def test_prune_shows_progress_batch_by_batch(monkeypatch):
    monkeypatch.setattr("ledger.services.snapshots.BATCH", 2)
    old_snapshots(6)
    out = io.StringIO()
    call_command("prune", "--days", "30", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["  2 balance snapshots deleted so far", "  4 balance snapshots deleted so far",
                         "  6 balance snapshots deleted so far"]
    assert BalanceSnapshot.objects.count() == 1


def test_prune_interrupted_mid_batch_rolls_that_batch_back_and_says_what_was_done(monkeypatch):
    monkeypatch.setattr("ledger.services.snapshots.BATCH", 2)
    old_snapshots(6)
    deleted = []

    def ctrl_c_on_the_third_row(sender, instance, **kwargs):
        deleted.append(instance.pk)
        if len(deleted) == 3:  # the second batch has deleted one of its two rows
            raise KeyboardInterrupt

    post_delete.connect(ctrl_c_on_the_third_row, sender=BalanceSnapshot)
    try:
        with pytest.raises(CommandError) as stopped:
            call_command("prune", "--days", "30", stdout=io.StringIO())
    finally:
        post_delete.disconnect(ctrl_c_on_the_third_row, sender=BalanceSnapshot)
    assert stopped.value.returncode == INTERRUPTED
    assert str(stopped.value).startswith("Interrupted (Ctrl-C): 2 balance snapshot(s) and 0 price(s) deleted")
    assert "run prune again" in str(stopped.value)
    assert BalanceSnapshot.objects.count() == 7 - 2  # the third row's delete went back with its batch
    assert BalanceSnapshot.objects.filter(pk=deleted[2]).exists()
    call_command("prune", "--days", "30", stdout=io.StringIO())  # and a second run finishes the job
    assert BalanceSnapshot.objects.count() == 1


def test_import_setup_shows_progress_per_client(tmp_path):
    out = io.StringIO()
    call_command("import_setup", str(export_file(tmp_path / "setup.json", ["a", "b", "c"])), stdout=out)
    assert out.getvalue().splitlines()[:3] == ["  1/3 client(s)", "  2/3 client(s)", "  3/3 client(s)"]
    assert Client.objects.count() == 3 and Bot.objects.count() == 3


def test_import_setup_interrupted_writes_nothing(tmp_path):
    with pytest.raises(CommandError) as stopped:
        call_command("import_setup", str(export_file(tmp_path / "setup.json", ["a", "b", "c"])),
                     stdout=InterruptAt("2/3 client(s)"))
    assert stopped.value.returncode == INTERRUPTED
    assert str(stopped.value) == ("Interrupted (Ctrl-C): nothing imported, the whole import was rolled back "
                                  "(2/3 client(s) had been checked).")
    assert not Client.objects.exists() and not Bot.objects.exists()


def test_import_setup_stopped_by_a_real_sigint_exits_130_with_the_message(tmp_path):
    """The signal itself, not a simulated one: the command waits reading a pipe when SIGINT lands."""
    fifo = tmp_path / "setup.json"
    os.mkfifo(fifo)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pipelabs.settings"}
    child = subprocess.Popen([sys.executable, "manage.py", "import_setup", str(fifo)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = None
    try:
        deadline = time.monotonic() + 30
        while writer is None:  # a FIFO opens for writing, without blocking, once its reader is there
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENXIO and child.poll() is None and time.monotonic() < deadline, \
                    child.stderr.read() if child.poll() is not None else "the command never opened its file"
                time.sleep(0.05)
        os.write(writer, b'{"version": 1, "clients": [')  # half a file: the reader waits for the rest
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if writer is not None:
            os.close(writer)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == INTERRUPTED
    assert "Interrupted (Ctrl-C): nothing imported" in err and "Traceback" not in err


def test_export_setup_shows_progress_on_stderr_and_an_interrupt_leaves_the_old_file(tmp_path, monkeypatch):
    for name in ("a", "b", "c"):
        ClientFactory(name=name)
    target = tmp_path / "setup.json"
    err = io.StringIO()
    monkeypatch.setattr("bots.management.commands.export_setup.CHUNK", 2)
    call_command("export_setup", "--output", str(target), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == ["  2/3 client(s) read", "  3/3 client(s) read"]
    assert [c["name"] for c in json.loads(target.read_text())["clients"]] == ["a", "b", "c"]

    target.write_text("the previous export\n")
    with pytest.raises(CommandError) as stopped:
        call_command("export_setup", "--output", str(target), stdout=io.StringIO(),
                     stderr=InterruptAt("2/3 client(s) read"))
    assert stopped.value.returncode == INTERRUPTED
    assert str(stopped.value) == f"Interrupted (Ctrl-C): nothing written to {target}."
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["setup.json"]  # no temporary file left behind


def test_rebuild_pnl_counts_bots_and_an_interrupt_names_how_far_it_got():
    bots = [BotFactory(), BotFactory(), BotFactory()]
    out = io.StringIO()
    call_command("rebuild_pnl", "--all", stdout=out)
    assert [line.split("]")[0] for line in out.getvalue().splitlines()] == ["[1/3", "[2/3", "[3/3"]
    with pytest.raises(CommandError) as stopped:
        call_command("rebuild_pnl", "--all", stdout=InterruptAt(f"bot {bots[1].pk}:"))
    assert stopped.value.returncode == INTERRUPTED
    assert "2/3 bot(s) rebuilt" in str(stopped.value)
