"""django-q2 entry points for the exchange layer: thin, safe to run twice."""

from exchanges import services
from exchanges.models import ExchangeAccount


def test_connection_task(account_id: int, queued_at) -> bool | None:
    """Run the account's queued connection test; None when the account is gone.

    A refused key is a result recorded on the account, not a task failure; twice is harmless (the
    second answer replaces the first, and an older test never overwrites a newer one's).
    """
    account = ExchangeAccount.objects.select_related("wallet").filter(pk=account_id).first()
    if account is None:
        return None
    ok, _ = services.test_credentials(account, queued_at=queued_at)
    return ok
