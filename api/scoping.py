"""What a request may write against, as querysets.

Reads need nothing here: every view's queryset is `Model.objects.for_user(request.user)`. Writes
are narrower than reads: only consultants change case records, and only in the municipalities
where they are consultants (team leads read; families and providers read what concerns them).
These querysets start from `for_user` too and narrow it; serializers resolve submitted ids in
them, so an id from another municipality is "not found" (400 on that field).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from support.models import Child, Household, Membership, Municipality, Placement
from support.roles import Role


def consultant_municipality_ids(user) -> frozenset[int]:
    """Municipalities where the user is a consultant (one query, remembered on the user object)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_plejenet_consultant_in", None)
    if cached is None:
        cached = frozenset(
            Membership.objects.filter(user=user, role=Role.CONSULTANT).values_list("municipality_id", flat=True)
        )
        user._plejenet_consultant_in = cached
    return cached


def writable_municipalities(user) -> QuerySet[Municipality]:
    return Municipality.objects.for_user(user).filter(id__in=consultant_municipality_ids(user))


def writable_households(user) -> QuerySet[Household]:
    return Household.objects.for_user(user).filter(municipality_id__in=consultant_municipality_ids(user))


def writable_children(user) -> QuerySet[Child]:
    return Child.objects.for_user(user).filter(municipality_id__in=consultant_municipality_ids(user))


def writable_placements(user) -> QuerySet[Placement]:
    return Placement.objects.for_user(user).filter(municipality_id__in=consultant_municipality_ids(user))


def assignable_consultants(user) -> QuerySet:
    """People who can be named a placement's consultant: consultants where the caller is one."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__role=Role.CONSULTANT,
            memberships__municipality_id__in=consultant_municipality_ids(user),
        )
        .distinct()
    )
