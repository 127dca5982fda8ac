from argparse import ArgumentTypeError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from exchanges.services import rotate_keys
from pipelabs.management.commands._progress import interruptible


MAX_BATCH_SIZE = 100_000
BAD_BATCH_SIZE = "--batch-size must be a whole number from 1 to {high:,}, not {value!r}."


def batch_size_arg(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ArgumentTypeError(BAD_BATCH_SIZE.format(high=MAX_BATCH_SIZE, value=value))
    return size


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored API credential and wallet private key under the first key of "
        "ENCRYPTION_KEYS. Put the new key first (keep the old ones after it), run this, then "
        "remove the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check every secret decrypts; write nothing.")
        parser.add_argument("--batch-size", type=batch_size_arg, default=200,
                            help=f"Rows per transaction (default 200, at most {MAX_BATCH_SIZE:,}).")

    def handle(self, *args, dry_run=False, batch_size=200, **options):

        keys = len(settings.ENCRYPTION_KEYS)
        if keys < 2:
            self.stdout.write(self.style.WARNING(
                f"ENCRYPTION_KEYS holds {keys} key(s): secrets are re-encrypted under the same key. "
                "To rotate, put the new key first and keep the old one after it."
            ))

        done = {"credentials": 0, "wallets": 0}

        def progress(label, count):
            done[label] = count
            self.stdout.write(f"  {label}: {count:,} {'checked' if dry_run else 'done'}")

        def stopped():
            if dry_run:
                return f"{done['credentials']:,} credential(s) and {done['wallets']:,} wallet key(s) checked; nothing written."
            # Each row is one conditional UPDATE: it holds its old or its new token, never half of one.
            return (f"{done['credentials']:,} credential(s) and {done['wallets']:,} wallet key(s) re-encrypted at the "
                    "last progress line (a row is rewritten whole or not at all); the rest still use their old key, "
                    "so keep it in ENCRYPTION_KEYS and run rotate_keys again.")

        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        try:
            with interruptible(stopped):
                counts = rotate_keys(batch_size=batch_size, dry_run=dry_run, actor="manage.py rotate_keys",
                                     progress=progress)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{counts['credentials']} credentials and {counts['wallets']} wallet keys {verb}."))
        if counts["failed"]:
            raise CommandError(
                f"{counts['failed']} rows could not be decrypted with any configured key and were left as they are: "
                + ", ".join(counts["failed_ids"])
            )
