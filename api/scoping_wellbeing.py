"""Who may read and record well-being signals, as querysets (docs/wellbeing.md, "Purpose limitation").

The models' `for_user` is the widest scope (staff of the municipality and the placement's
foster family). The API narrows it: foster carers report their stress so that they can be
offered support, never so that they can be judged, so these records reach only

* the municipality's **consultants** (case work), and
* the placement's own **foster family** (their own reports about their own placement).

Team leads and administrators take approval, oversight (tilsyn) and pay (vederlag) decisions
about foster families, so they get no individual signal, score or alert: team leads get the
aggregate (`/api/v1/wellbeing/overview/`). A person who is both consultant and team lead in a
municipality counts as a team lead there. Birth parents and providers get none of it.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from api.scoping import consultant_municipality_ids
from support.models import Goal, GoalMeasurement, Placement
from support.roles import scope_for


def case_municipality_ids(user) -> frozenset[int]:
    """Municipalities where the user does case work: consultant there, and not team lead there."""
    return consultant_municipality_ids(user) - scope_for(user).lead_municipality_ids


def lead_municipality_ids(user) -> frozenset[int]:
    return scope_for(user).lead_municipality_ids


def family_signals(model, user) -> QuerySet:
    """Signals about a placement (check-ins, SDQ, absence, incidents, child's view, goals):
    the municipality's consultants and the placement's foster family."""
    return model.objects.for_user(user).filter(
        Q(municipality_id__in=case_municipality_ids(user))
        | Q(placement__foster_household_id__in=scope_for(user).foster_household_ids)
    )


def consultants_only(model, user) -> QuerySet:
    """Scores, assessments and alerts: the municipality's consultants only."""
    return model.objects.for_user(user).filter(municipality_id__in=case_municipality_ids(user))


def goal_measurements(user) -> QuerySet[GoalMeasurement]:
    return GoalMeasurement.objects.filter(goal__in=family_signals(Goal, user).values("pk"))


def consultant_placements(user) -> QuerySet[Placement]:
    """Placements the user may record staff-only signals for (school absence, goals)."""
    return Placement.objects.for_user(user).filter(municipality_id__in=case_municipality_ids(user))


def reporting_placements(user) -> QuerySet[Placement]:
    """Placements the user may report about: a consultant's, or the foster family's own (active) ones."""
    return Placement.objects.for_user(user).filter(
        Q(municipality_id__in=case_municipality_ids(user))
        | Q(foster_household_id__in=scope_for(user).foster_household_ids)
    )


def may_record_signals(user) -> bool:
    """Consultants, and foster parents for their own placements."""
    return bool(case_municipality_ids(user) or scope_for(user).foster_household_ids)


def reads_free_text(user, obj, *, writer_id: int | None) -> bool:
    """Free text (a check-in's, an incident's note, the child's own words) is for its writer and
    the municipality's consultants, not for everyone else who may see the row."""
    return obj.municipality_id in case_municipality_ids(user) or (writer_id is not None and writer_id == user.pk)
