"""What the API reads about clients, scoped to the caller."""

from django.http import Http404

from clients.models import Client

CLIENT_NOT_FOUND = "Client not found"


def clients_for(principal):
    queryset = Client.objects.all()
    return queryset if principal.is_admin else queryset.filter(pk=principal.client_id)


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
