"""Roles and the scope a user's memberships give them.

Roles are never flags on User: they come from Membership rows, so one person can be a
consultant in one municipality and a foster parent elsewhere, and losing a membership
removes the access it gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CONSULTANT = "consultant", _("Foster-care consultant")
    TEAM_LEAD = "team_lead", _("Team lead")
    FOSTER_PARENT = "foster_parent", _("Foster parent")
    BIRTH_PARENT = "birth_parent", _("Birth parent")
    PROVIDER = "provider", _("Provider")
    ADMINISTRATOR = "administrator", _("Administrator")


STAFF_ROLES = frozenset({Role.CONSULTANT, Role.TEAM_LEAD})


@dataclass(frozen=True)
class Scope:
    """What one user may see, derived from their memberships."""

    roles: frozenset[str] = frozenset()
    staff_municipality_ids: frozenset[int] = frozenset()  # consultant or team lead there
    lead_municipality_ids: frozenset[int] = frozenset()
    team_ids: frozenset[int] = frozenset()
    foster_household_ids: frozenset[int] = frozenset()
    birth_household_ids: frozenset[int] = frozenset()
    provider_ids: frozenset[int] = frozenset()
    admin_municipality_ids: frozenset[int] = frozenset()
    is_global_admin: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def case_municipality_ids(self) -> frozenset[int]:
        """Where the user does case work: consultant there and not team lead there.

        Carers' well-being signals, scores and alerts reach only these (purpose limitation,
        docs/wellbeing.md): team leads take approval, oversight and pay decisions.
        """
        return self.staff_municipality_ids - self.lead_municipality_ids

    @property
    def household_ids(self) -> frozenset[int]:
        return self.foster_household_ids | self.birth_household_ids

    def has_role(self, role: str) -> bool:
        return role in self.roles


EMPTY_SCOPE = Scope()


def scope_for(user) -> Scope:
    """The user's scope, computed once per user object (one query)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, "_plejenet_scope", None)
    if cached is not None:
        return cached

    from support.models import Membership

    roles: set[str] = set()
    staff, leads, teams, foster, birth, providers, admins = set(), set(), set(), set(), set(), set(), set()
    global_admin = False
    rows = Membership.objects.filter(user=user).values_list(
        "role", "municipality_id", "team_id", "household_id", "provider_id"
    )
    for role, municipality_id, team_id, household_id, provider_id in rows:
        roles.add(role)
        if role in STAFF_ROLES:
            staff.add(municipality_id)
            if team_id:
                teams.add(team_id)
            if role == Role.TEAM_LEAD:
                leads.add(municipality_id)
        elif role == Role.FOSTER_PARENT:
            foster.add(household_id)
        elif role == Role.BIRTH_PARENT:
            birth.add(household_id)
        elif role == Role.PROVIDER:
            providers.add(provider_id)
        elif role == Role.ADMINISTRATOR:
            if municipality_id is None:
                global_admin = True
            else:
                admins.add(municipality_id)
    scope = Scope(
        roles=frozenset(roles),
        staff_municipality_ids=frozenset(staff),
        lead_municipality_ids=frozenset(leads),
        team_ids=frozenset(teams),
        foster_household_ids=frozenset(foster),
        birth_household_ids=frozenset(birth),
        provider_ids=frozenset(providers),
        admin_municipality_ids=frozenset(admins),
        is_global_admin=global_admin,
    )
    user._plejenet_scope = scope
    return scope
