import json

from django.core.management.base import BaseCommand, CommandError

from bots.transfer import export_setup


class Command(BaseCommand):
    help = ("Write clients, their wallets, accounts (options, never keys) and bots as JSON, to stdout or "
            "--output FILE; import it elsewhere with import_setup.")

    def add_arguments(self, parser):
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args, output=None, **options):
        data, notes = export_setup()
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
            self.stdout.write(f"{len(data['clients'])} client(s) written to {output}")
        else:
            self.stdout.write(text)
        for note in notes:
            self.stderr.write(note)
