"""Who may write, on top of what the scoped querysets let them see.

Order matters for what a caller learns: the object is looked up in the caller's queryset first
(unseen -> 404, as if it did not exist), and only then is the write checked (seen but not theirs
to change -> 403). Creating needs the consultant role somewhere; where is checked by the
serializer's scoped fields (another municipality -> 400 naming the field).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.scoping import consultant_municipality_ids
from support.roles import scope_for


class ConsultantWrites(BasePermission):
    """Reads follow the queryset; writes are for consultants in the object's municipality.

    The view names an object's municipalities with `municipality_ids_of(obj)`.
    """

    message = _("Only the municipality's consultants can change this.")

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or view.detail:
            return True  # objects: decided after the lookup, so an unseen object answers 404
        return bool(consultant_municipality_ids(request.user))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(view.municipality_ids_of(obj) & consultant_municipality_ids(request.user))


class GlobalAdministratorOnly(BasePermission):
    """The audit log names people and what they opened: global administrators only for now
    (AuditEntry.for_user would also give municipal administrators their municipality's)."""

    message = "Only administrators can read the audit log."

    def has_permission(self, request, view) -> bool:
        return scope_for(request.user).is_global_admin
