"""Who may call what (README, "Who may do what"): reads for every signed-in caller, scoped by the
selectors to what it may see; writes as clients.selectors.write_refusal decides."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from clients.selectors import ADMIN_ONLY, write_refusal


def _signed_in(request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class OwnWrites(BasePermission):
    """A client's endpoints: a self-managed client or an admin changes; a trader the methods the view
    lists in ``trader_methods``; ``managed_clients_may`` on a view lets a managed client change it."""

    def has_permission(self, request, view):
        if not _signed_in(request):
            return False
        if request.method in SAFE_METHODS:
            return True
        refusal = write_refusal(request.user, trader_may=request.method in getattr(view, "trader_methods", ()),
                                managed_clients_may=getattr(view, "managed_clients_may", False))
        if refusal:
            raise PermissionDenied(refusal)
        return True


class AdminWrites(BasePermission):
    """The agency's endpoints: operators (support, trader, admin) read them; only an admin changes."""

    message = ADMIN_ONLY

    def has_permission(self, request, view):
        if not _signed_in(request):
            return False
        if request.method in SAFE_METHODS:
            return request.user.sees_all_clients
        refusal = write_refusal(request.user, clients_may=False)
        if refusal:
            raise PermissionDenied(refusal)
        return True
