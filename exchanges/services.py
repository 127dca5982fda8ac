"""What changes exchange state: credentials (save, test, rotate) and fetching many balances."""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from clients.models import Wallet
from exchanges import crypto
from exchanges.connectors.base import AssetBalance, Connector
from exchanges.errors import ExchangeError, ExchangeTimeout
from exchanges.models import ExchangeAccount, ExchangeCredential
from exchanges.options import exchange_error, option_errors
from exchanges.registry import connector_for
from pipelabs.audit import record_event
from pipelabs.logging import register_secret, scrub

logger = logging.getLogger(__name__)

CREDENTIALS_REQUIRED = "Both the API key and the secret are required."
TEST_OK = "OK: the exchange accepted the key ({count} assets)."
TEST_QUEUED = "Test queued; the exchange's answer appears here when a worker has asked it."
# Each call of the test is capped at this; the guard's retries keep the whole test within its budget.
TEST_TIMEOUT_S = 15.0
BALANCE_DEADLINE = "No balance within {deadline_s} s."
# The exception's type only: its message may quote whatever the broken code held (a secret, say).
CONNECTOR_FAILED = "The account's connector could not be built or called ({kind}); see the log."
DEFAULT_CONCURRENCY = 4
CREDENTIAL_FIELDS = ("api_key_encrypted", "secret_encrypted", "memo_encrypted", "passphrase_encrypted")


# --- accounts ---------------------------------------------------------------------------------
def account_errors(*, exchange: object, options: object) -> dict[str, list[str]]:
    """Why an account with this venue and these options cannot be saved, per field; empty when it can."""
    if message := exchange_error(exchange):
        return {"exchange": [message]}
    if problems := option_errors(exchange, options):
        return {"options": problems}
    return {}


def save_account(account: ExchangeAccount, *, actor: str = "system") -> ExchangeAccount:
    """Create or update the account once its venue and options are valid, audited; ValidationError otherwise.

    The audit names the changed option keys, not their values (an RPC URL may carry an API key).
    """
    if errors := account_errors(exchange=account.exchange, options=account.options):
        raise ValidationError(errors)
    account.options = account.options or {}
    created = account.pk is None
    old = None if created else ExchangeAccount.objects.filter(pk=account.pk).values("exchange", "name", "options").first()
    with transaction.atomic():
        account.save()
        changes = {"exchange": account.exchange, "name": account.name, "options": sorted(account.options)}
        if old:
            changes = {
                "exchange": {"old": old["exchange"], "new": account.exchange},
                "name": {"old": old["name"], "new": account.name},
                "options": {"old": sorted(old["options"] or {}) if isinstance(old["options"], dict) else "invalid",
                            "new": sorted(account.options), "changed": old["options"] != account.options},
            }
        record_event(actor=actor, action="account_created" if created else "account_changed",
                     client_id=account.client_id, target=str(account), changes=changes)
    return account


# --- credentials ------------------------------------------------------------------------------
@sensitive_variables()
def save_credentials(
    account: ExchangeAccount,
    *,
    api_key: str,
    secret: str,
    memo: str = "",
    passphrase: str = "",
    actor: str = "system",
    test: bool = False,
) -> ExchangeCredential:
    """Store the account's credentials encrypted (replacing any), audited; test them after commit.

    Values are stripped (dashboards love a trailing space); an empty key or secret is a
    ValidationError.
    """
    api_key, secret, memo, passphrase = (value.strip() for value in (api_key, secret, memo or "", passphrase or ""))
    if not api_key or not secret:
        raise ValidationError(CREDENTIALS_REQUIRED)
    for value in (api_key, secret, memo, passphrase):
        register_secret(value)
    with transaction.atomic():
        old = ExchangeCredential.objects.filter(account=account).first()
        credential, created = ExchangeCredential.objects.update_or_create(
            account=account,
            defaults={
                "api_key_encrypted": crypto.encrypt(api_key),
                "secret_encrypted": crypto.encrypt(secret),
                "memo_encrypted": crypto.encrypt(memo),
                "passphrase_encrypted": crypto.encrypt(passphrase),
                "key_hint": crypto.hint(api_key),
            },
        )
        record_event(
            actor=actor,
            action="credentials_saved" if created else "credentials_replaced",
            client_id=account.client_id,
            target=str(account),
            changes={"key_hint": {"old": old.key_hint if old else None, "new": credential.key_hint}},
        )
    if test:
        queue_connection_test(account)
    else:  # the last test was of the old key
        ExchangeAccount.objects.filter(pk=account.pk).update(test_queued_at=None, tested_at=None, test_ok=None,
                                                             test_message="")
    return credential


ACCOUNT_IN_USE = "This account has bots ({names}); delete them first."


def delete_credentials(account: ExchangeAccount, *, actor: str) -> bool:
    """Forget the account's API key, audited (its last four only); False when it had none.

    The last connection test was of that key, so it is cleared with it.
    """
    with transaction.atomic():
        credential = ExchangeCredential.objects.select_for_update().filter(account=account).first()
        if credential is None:
            return False
        credential.delete()
        ExchangeAccount.objects.filter(pk=account.pk).update(test_queued_at=None, tested_at=None, test_ok=None,
                                                             test_message="")
        record_event(actor=actor, action="credentials_deleted", client_id=account.client_id, target=str(account),
                     changes={"key_hint": {"old": credential.key_hint, "new": None}})
    return True


def delete_account(account: ExchangeAccount, *, actor: str) -> int:
    """Delete an account no bot uses, its key with it, audited; ValidationError while bots use it."""
    with transaction.atomic():
        current = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        names = list(current.bots.values_list("name", flat=True)[:5])
        if names:
            raise ValidationError(ACCOUNT_IN_USE.format(names=", ".join(names)), code="account_in_use")
        credential = ExchangeCredential.objects.filter(account=current).first()
        record_event(actor=actor, action="account_deleted", client_id=current.client_id, target=str(current),
                     changes={"exchange": current.exchange, "name": current.name,
                              "key_hint": credential.key_hint if credential else None})
        pk = current.pk
        current.delete()
    return pk


def failure_message(exc: ExchangeError) -> str:
    """What the operator reads: our kind of failure in words, then the venue's own answer, scrubbed."""
    kind = (type(exc).__doc__ or "").strip().splitlines()[0] if type(exc) is not ExchangeError else ""
    answer = scrub(str(exc))
    return f"{kind} ({answer})" if kind else answer


def queue_connection_test(account: ExchangeAccount) -> datetime:
    """Mark a test as queued and hand it to a worker once the caller's transaction commits.

    Never calls the venue itself, so a web request answers at once even when the venue hangs.
    """
    from django_q.tasks import async_task

    queued_at = timezone.now()
    ExchangeAccount.objects.filter(pk=account.pk).update(test_queued_at=queued_at, tested_at=None, test_ok=None,
                                                         test_message=TEST_QUEUED)
    transaction.on_commit(lambda: async_task("exchanges.tasks.test_connection_task", account.pk, queued_at,
                                             task_name=f"test-connection-{account.pk}-{queued_at.timestamp()}"))
    return queued_at


def test_credentials(account: ExchangeAccount, *, queued_at: datetime | None = None) -> tuple[bool, str]:
    """Ask the exchange for the account's balance; records and returns (ok, the exchange's answer).

    With ``queued_at`` the answer is recorded only if no newer test was queued meanwhile. Runs in
    a worker (exchanges.tasks); a web request queues it instead (queue_connection_test).
    """
    try:
        connector = connector_for(account, timeout_s=TEST_TIMEOUT_S)
        try:
            balances = connector.fetch_balance()
        finally:
            connector.close()
        ok, message = True, TEST_OK.format(count=len(balances))
    except ExchangeError as exc:
        ok, message = False, failure_message(exc)
    except Exception as exc:  # noqa: BLE001  a connector bug is this test's answer, not a crash
        ok, message = False, scrub(str(connector_failed(account, exc)))
    rows = ExchangeAccount.objects.filter(pk=account.pk)
    if queued_at is not None:
        rows = rows.filter(test_queued_at=queued_at)
    rows.update(tested_at=timezone.now(), test_ok=ok, test_message=message)
    return ok, message


def rotate_keys(
    *,
    batch_size: int = 200,
    dry_run: bool = False,
    actor: str = "system",
    progress: Callable[[str, int], None] | None = None,
) -> dict:
    """Re-encrypt every credential field and wallet private key under the first ENCRYPTION_KEYS key.

    Rows are read in batches and each is rewritten only if unchanged since it was read. A row that no configured key
    can decrypt is left as it is and counted in ``failed`` (its id in ``failed_ids``).
    Returns counts: ``credentials``, ``wallets``, ``failed``, ``failed_ids``.
    """
    counts = {"credentials": 0, "wallets": 0, "failed": 0, "failed_ids": []}
    jobs = (
        ("credentials", ExchangeCredential, CREDENTIAL_FIELDS, ExchangeCredential.objects.all()),
        ("wallets", Wallet, ("private_key_encrypted",), Wallet.objects.exclude(private_key_encrypted="")),
    )
    for label, model, fields, queryset in jobs:
        last_pk = 0
        while True:
            batch = list(queryset.filter(pk__gt=last_pk).order_by("pk").only("pk", *fields)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1].pk
            rotated = 0
            for row in batch:
                old = {name: getattr(row, name) for name in fields}
                try:
                    new = {name: crypto.rotate(value) for name, value in old.items()}
                except crypto.DecryptionError:
                    counts["failed"] += 1
                    counts["failed_ids"].append(f"{label}:{row.pk}")
                    continue
                if not dry_run:
                    # Conditional on the values read: a key saved meanwhile (already under the new
                    # key) is left alone instead of being overwritten by the old one.
                    model.objects.filter(pk=row.pk, **old).update(**new)
                rotated += 1
            counts[label] += rotated
            if progress:
                progress(label, counts[label])
    if not dry_run:
            record_event(
            actor=actor, action="keys_rotated", target="encryption keys",
            changes={k: counts[k] for k in ("credentials", "wallets", "failed")},
        )
    return counts


# --- balances of many accounts ---------------------------------------------------------------
def fetch_balances(
    accounts: Iterable[ExchangeAccount],
    *,
    per_exchange_concurrency: dict | None = None,
    deadline_s: float = 30.0,
    connector_factory: Callable[[ExchangeAccount], Connector] | None = None,
    on_result: Callable[[int, list[AssetBalance] | ExchangeError], None] | None = None,
) -> dict[int, list[AssetBalance] | ExchangeError]:
    """Every account's balances, fetched concurrently; each value is the list or the error.

    ``on_result(account_id, value)`` is called in the calling thread as each answer arrives,
    so a caller can store the quick venues' balances while a slow one is still pending.

    At most ``per_exchange_concurrency[exchange]`` (default 4, ``"default"`` key for the rest)
    calls run at once per exchange, so one venue's slowness never takes the others' threads.
    Accounts without an answer by ``deadline_s`` get ExchangeTimeout; the call returns then,
    leaving any hung call to finish (bounded by its own timeout) in the background.
    """
    accounts = list(accounts)
    caps = per_exchange_concurrency or {}
    if connector_factory is None:
        # One query for every account's credentials instead of one per account.
        stored = {row.account_id: row for row in ExchangeCredential.objects.filter(account__in=accounts)}

        def connector_factory(account):
            return connector_for(account, credential=stored.get(account.pk))

    results: dict[int, list[AssetBalance] | ExchangeError] = {}

    def record(account_id: int, value) -> None:
        results[account_id] = value
        if on_result is not None:
            on_result(account_id, value)

    queues: dict[str, deque] = defaultdict(deque)
    for account in accounts:
        queues[account.exchange].append(account)

    def cap(exchange: str) -> int:
        return max(1, int(caps.get(exchange, caps.get("default", DEFAULT_CONCURRENCY))))

    workers = sum(min(cap(exchange), len(queue)) for exchange, queue in queues.items())
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="balances")
    # Only this thread submits and collects, so no lock: a slot freed by one answer goes to
    # the next queued account of the same exchange.
    running: dict[Future, tuple[str, ExchangeAccount]] = {}

    def submit_next(exchange: str) -> None:
        # Connectors are built here, just before their call: building touches the database
        # (credentials), which stays in this thread, and builds overlap the calls in flight
        # instead of all 1,000 being built before the first request leaves.
        while queues[exchange]:
            account = queues[exchange].popleft()
            try:
                connector = connector_factory(account)
            except ExchangeError as exc:
                record(account.pk, exc)
                continue
            except Exception as exc:  # noqa: BLE001  one account's bug is its own failure, not the batch's
                record(account.pk, connector_failed(account, exc))
                continue
            running[pool.submit(_fetch_one, connector)] = (exchange, account)
            return

    for exchange, queue in list(queues.items()):
        for _ in range(min(cap(exchange), len(queue))):
            submit_next(exchange)
    end = time.monotonic() + deadline_s
    try:
        while True:
            pending = list(running)
            if not pending:
                break
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            done, _ = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                exchange, account = running.pop(future)
                submit_next(exchange)
                try:
                    value = future.result()
                except ExchangeError as exc:
                    value = exc
                except Exception as exc:  # noqa: BLE001  a connector bug must not lose the other accounts
                    value = connector_failed(account, exc)
                record(account.pk, value)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for account in accounts:
        if account.pk not in results:
            record(account.pk, ExchangeTimeout(BALANCE_DEADLINE.format(deadline_s=deadline_s), exchange=account.exchange))
            logger.warning(
                "balance fetch missed the deadline",
                extra={"exchange": account.exchange, "account_id": account.pk, "error_code": ExchangeTimeout.code},
            )
    return results


def connector_failed(account: ExchangeAccount, exc: Exception) -> ExchangeError:
    """An unexpected exception from one account's connector as that account's error (traceback to the log)."""
    logger.error("connector failed", exc_info=exc,
                 extra={"exchange": account.exchange, "account_id": account.pk, "error_code": "connector_failed"})
    return ExchangeError(CONNECTOR_FAILED.format(kind=type(exc).__name__), exchange=str(account.exchange),
                         code="connector_failed")


def _fetch_one(connector: Connector) -> list[AssetBalance]:
    try:
        return connector.fetch_balance()
    finally:
        connector.close()
        connections.close_all()  # this worker thread's own connections only
