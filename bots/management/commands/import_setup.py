import json

from django.core.management.base import BaseCommand, CommandError

from bots.transfer import TransferError, import_setup
from pipelabs.management.commands._progress import Progress, interruptible


class Command(BaseCommand):
    help = ("Add the clients, wallets, accounts and bots of an export_setup file that this installation "
            "lacks (matched by name), in one transaction: any bad entry stops it with nothing written. "
            "Keys are never in the file: enter them afterwards. Bots arrive stopped.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")

    def handle(self, *args, file, dry_run=False, **options):
        clients = Progress(self.stdout, "client(s)")

        def done():
            checked = f" ({clients.line()} had been checked)" if clients.total else ""
            # import_setup is one transaction: the interrupt rolled all of it back.
            return f"nothing imported, the whole import was rolled back{checked}."

        with interruptible(done):
            try:
                with open(file, encoding="utf-8") as handle:
                    data = json.load(handle, parse_float=str, parse_constant=lambda name: name)
            except OSError as exc:
                raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
            except (ValueError, RecursionError) as exc:
                raise CommandError(f"{file} is not JSON: {str(exc)[:200]}") from None

            def progress(done, total):
                clients.total = total
                clients.step()

            try:
                added = import_setup(data, actor="import_setup", dry_run=dry_run, progress=progress)
            except TransferError as exc:
                raise CommandError(f"Nothing imported. {exc}") from None
        summary = ", ".join(f"{count} {kind}" for kind, count in added.items())
        verb = "would add" if dry_run else "added"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {summary}"))
