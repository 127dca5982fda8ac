import json
import os
import tempfile

from django.core.management.base import BaseCommand, CommandError

from bots.transfer import export_setup
from clients.models import Client
from pipelabs.management.commands._progress import Progress, interruptible

CHUNK = 50  # clients read per export_setup call: progress lines without a query per client


class Command(BaseCommand):
    help = ("Write clients, their wallets, accounts (options, never keys) and bots as JSON, to stdout or "
            "--output FILE; import it elsewhere with import_setup. Progress goes to stderr; Ctrl-C writes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args, output=None, **options):
        with interruptible(lambda: "nothing written" + (f" to {output}" if output else "") + "."):
            data, notes = self.collect()
            text = json.dumps(data, indent=2, sort_keys=True, default=str)
            if output:
                self.write_whole(output, text + "\n")
                self.stdout.write(f"{len(data['clients'])} client(s) written to {output}")
            else:
                self.stdout.write(text)
        for note in notes:
            self.stderr.write(note)

    def collect(self):
        ids = list(Client.objects.order_by("name", "id").values_list("pk", flat=True))
        progress = Progress(self.stderr, "client(s) read", total=len(ids))
        data, notes = None, []
        for start in range(0, len(ids), CHUNK) or [0]:
            part, part_notes = export_setup(Client.objects.filter(pk__in=ids[start:start + CHUNK]))
            if data is None:
                data = part
            else:
                data["clients"] += part["clients"]
            notes += part_notes
            if ids:
                progress.step(len(part["clients"]))
        return data, notes

    def write_whole(self, output: str, text: str) -> None:
        """Into a temporary file beside ``output``, then renamed over it: an interrupted or failed
        write never leaves a half-written export where an import could read it."""
        directory = os.path.dirname(os.path.abspath(output))
        try:
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=".export-", suffix=".json.part")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, output)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
