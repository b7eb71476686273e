"""Query-string filters for the list endpoints (django-filter).

References to other rows filter by id (IdFilter on `<name>_id`), never through a lookup in
another table: a lookup would answer "no such choice" for rows outside the caller's scope and so
tell that they exist. Filters narrow the caller's scoped queryset; they never widen it. Fields
that some viewers see as null (a need's priority, a placement's note) have no filter or ordering,
so they cannot be probed by sorting or filtering either.
"""

from __future__ import annotations

import django_filters as filters
from django import forms

from support.models import (
    AuditEntry,
    Child,
    Household,
    Membership,
    Placement,
    Provider,
    ProviderAbsence,
    SupportNeed,
    Team,
    WeeklyAvailability,
)


class IdFilter(filters.NumberFilter):
    """A row id: a whole number in the id column's range (NumberFilter alone would accept 1.5 and round
    it, and SQLite raises on integers beyond 64 bits instead of finding nothing)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class TeamFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")

    class Meta:
        model = Team
        fields = ["municipality"]


class MembershipFilter(filters.FilterSet):
    user = IdFilter(field_name="user_id")
    municipality = IdFilter(field_name="municipality_id")
    team = IdFilter(field_name="team_id")
    household = IdFilter(field_name="household_id")
    provider = IdFilter(field_name="provider_id")

    class Meta:
        model = Membership
        fields = ["role", "user", "municipality", "team", "household", "provider"]


class HouseholdFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name, any case.")

    class Meta:
        model = Household
        fields = ["municipality", "kind", "foster_type", "postcode", "name"]


class ChildFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")
    born_after = filters.DateFilter(field_name="birth_date", lookup_expr="gte")
    born_before = filters.DateFilter(field_name="birth_date", lookup_expr="lte")

    class Meta:
        model = Child
        fields = ["municipality", "born_after", "born_before"]


class PlacementFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")
    child = IdFilter(field_name="child_id")
    foster_household = IdFilter(field_name="foster_household_id")
    consultant = IdFilter(field_name="consultant_id")

    class Meta:
        model = Placement
        fields = ["municipality", "child", "foster_household", "consultant", "status"]


class ProviderFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipalities__id", distinct=True)
    service = filters.CharFilter(field_name="services__code", distinct=True, help_text="A service code.")
    competence = filters.CharFilter(field_name="competences__code", distinct=True, help_text="A competence code.")

    class Meta:
        model = Provider
        fields = ["kind", "is_active", "offers_remote", "municipality", "service", "competence"]


class WeeklyAvailabilityFilter(filters.FilterSet):
    household = IdFilter(field_name="household_id")
    provider = IdFilter(field_name="provider_id")

    class Meta:
        model = WeeklyAvailability
        fields = ["household", "provider", "day"]


class ProviderAbsenceFilter(filters.FilterSet):
    provider = IdFilter(field_name="provider_id")
    ends_after = filters.IsoDateTimeFilter(field_name="ends_at", lookup_expr="gte")
    starts_before = filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = ProviderAbsence
        fields = ["provider", "reason", "ends_after", "starts_before"]


class SupportNeedFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")
    recipient_household = IdFilter(field_name="recipient_household_id")
    current_provider = IdFilter(field_name="current_provider_id")
    service = filters.CharFilter(field_name="service__code", help_text="A service code.")

    class Meta:
        model = SupportNeed
        fields = ["municipality", "status", "recipient", "recipient_household", "current_provider", "service"]


class AuditEntryFilter(filters.FilterSet):
    actor = IdFilter(field_name="actor_id")
    municipality = IdFilter(field_name="municipality_id")
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["action", "object_type", "object_id", "actor", "municipality", "at_after", "at_before"]
