"""Who may open which area, from the user's memberships (support.roles.scope_for)."""

from __future__ import annotations

from django.http import Http404

from support.models import Municipality
from support.roles import Role, scope_for

# The family and provider portal comes with its own issue; home already sends people there.
PORTAL_URL = "/portal/"


def area_for(user) -> str | None:
    """The URL of the area a signed-in user starts in, or None when no membership gives one.

    Staff work first: a consultant who is also a foster parent elsewhere lands in the workspace
    and finds the rest in the navigation.
    """
    scope = scope_for(user)
    if scope.staff_municipality_ids:
        return "/workspace/"
    if scope.has_role(Role.ADMINISTRATOR):
        return "/admin/"
    if scope.household_ids or scope.provider_ids:
        return PORTAL_URL
    return None


def case_municipalities(user):
    """The municipalities where the user does case work (consultant, not team lead); 404 when none.

    The pages that show carers' well-being signals, scores and alerts use this, as the API does
    (api/scoping_wellbeing.py): team leads get aggregates on the capacity dashboard instead.
    """
    ids = scope_for(user).case_municipality_ids
    if not ids:
        raise Http404
    return Municipality.objects.filter(pk__in=ids).order_by("name")


def staff_municipalities(user):
    """The municipalities where the user is a consultant or team lead; 404 when there are none."""
    ids = scope_for(user).staff_municipality_ids
    if not ids:
        raise Http404
    return Municipality.objects.filter(pk__in=ids).order_by("name")
