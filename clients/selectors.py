"""What the API reads about clients, scoped to the caller."""

from django.http import Http404

from clients.models import Client
from clients.principal import ADMIN, SUPPORT, TRADER

CLIENT_NOT_FOUND = "Client not found"
MANAGED_BY_AGENCY = ("This client is managed by the agency (management_mode \"managed\"): its bots and keys are "
                     "operated by the agency and read-only here. Switch to \"self\" to operate them yourself.")
SUPPORT_READS_ONLY = "A support operator reads everything and changes nothing."
TRADER_LIMITS = "A trader may start, stop and edit bots; this needs an admin."
ADMIN_ONLY = "Only an admin may do this."
NO_RIGHTS = "This login has no role: ask an admin for one."


def clients_for(principal):
    queryset = Client.objects.all()
    return queryset if principal.sees_all_clients else queryset.filter(pk=principal.client_id)


def write_refusal(principal, *, trader_may: bool = False, clients_may: bool = True,
                  managed_clients_may: bool = False) -> str | None:
    """Why the caller may not make this change through the API, or None when it may.

    Admins change anything; a trader only what the endpoint grants traders (start, stop, edit a bot);
    support nothing. A client changes its own bots and keys (the selectors scope them) only while
    self-managed: a managed client's are the agency's to operate (``managed_clients_may`` for the
    one exception, choosing the mode itself).
    """
    if principal.role == ADMIN or principal.is_admin:
        return None
    if principal.role == TRADER:
        return None if trader_may else TRADER_LIMITS
    if principal.role == SUPPORT:
        return SUPPORT_READS_ONLY
    if principal.client_id is None:
        return NO_RIGHTS
    if not clients_may:
        return ADMIN_ONLY
    if managed_clients_may:
        return None
    mode = Client.objects.filter(pk=principal.client_id).values_list("management_mode", flat=True).first()
    return MANAGED_BY_AGENCY if mode == Client.ManagementMode.MANAGED else None


def access_client(principal, client_id) -> Client:
    """The caller's own client (any client for an admin) by id or account identifier; else 404."""
    lookup = str(client_id or "").strip()
    # isdigit() alone accepts "²", which int() refuses (a 500 the fuzzing found).
    if lookup.isascii() and lookup.isdigit() and 0 < int(lookup) < 2**63:
        found = clients_for(principal).filter(pk=int(lookup)).first()
    else:
        found = clients_for(principal).filter(account_identifier=lookup).first() if lookup else None
    if found is None:
        raise Http404(CLIENT_NOT_FOUND)
    return found


def acting_client(principal, *, client_id=None, account_identifier=None, header=None) -> Client:
    """Whose objects a request acts on: an admin names a client (body or X-Client-ID); a client is itself."""
    named = client_id or account_identifier or header
    if named:
        return access_client(principal, named)
    if principal.client_id is None:
        raise Http404(CLIENT_NOT_FOUND)
    return Client.objects.get(pk=principal.client_id)
