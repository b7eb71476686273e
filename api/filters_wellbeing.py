"""Query-string filters for the well-being endpoints (django-filter), in the style of api/filters.py:
rows are referenced by id only, and filters narrow the caller's scoped queryset, never widen it."""

from __future__ import annotations

import django_filters as filters

from api.filters import IdFilter
from support.models import (
    Alert,
    CheckIn,
    ChildView,
    Goal,
    GoalMeasurement,
    Incident,
    Level,
    Milestone,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqScore,
)


class _DatedSignalFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    on_after = filters.DateFilter(field_name="on", lookup_expr="gte", help_text="On or after this day.")
    on_before = filters.DateFilter(field_name="on", lookup_expr="lte", help_text="On or before this day.")


class CheckInFilter(_DatedSignalFilter):
    class Meta:
        model = CheckIn
        fields = ["placement", "on_after", "on_before", "help_now"]


class SdqScoreFilter(_DatedSignalFilter):
    class Meta:
        model = SdqScore
        fields = ["placement", "on_after", "on_before", "informant"]


class IncidentFilter(_DatedSignalFilter):
    class Meta:
        model = Incident
        fields = ["placement", "on_after", "on_before", "kind"]


class ChildViewFilter(_DatedSignalFilter):
    class Meta:
        model = ChildView
        fields = ["placement", "on_after", "on_before"]


class SchoolAbsenceFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    month_after = filters.DateFilter(field_name="month", lookup_expr="gte", help_text="Months from this day.")
    month_before = filters.DateFilter(field_name="month", lookup_expr="lte", help_text="Months up to this day.")

    class Meta:
        model = SchoolAbsence
        fields = ["placement", "month_after", "month_before"]


class GoalFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    review_after = filters.DateFilter(field_name="review_on", lookup_expr="gte")
    review_before = filters.DateFilter(field_name="review_on", lookup_expr="lte")

    class Meta:
        model = Goal
        fields = ["placement", "status", "indicator", "review_after", "review_before"]


class GoalMeasurementFilter(filters.FilterSet):
    goal = IdFilter(field_name="goal_id")
    on_after = filters.DateFilter(field_name="on", lookup_expr="gte")
    on_before = filters.DateFilter(field_name="on", lookup_expr="lte")

    class Meta:
        model = GoalMeasurement
        fields = ["goal", "on_after", "on_before"]


class RiskScoreFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    level = filters.ChoiceFilter(choices=Level.choices)
    latest = filters.BooleanFilter(help_text="true: only the current score of each placement.")
    as_of_after = filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = filters.DateFilter(field_name="as_of", lookup_expr="lte")

    class Meta:
        model = RiskScore
        fields = ["placement", "level", "latest", "as_of_after", "as_of_before", "trend_direction", "config_version"]


class ScoreAssessmentFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    score = IdFilter(field_name="score_id")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ScoreAssessment
        fields = ["placement", "score", "decision", "created_after", "created_before"]


class AlertFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    household = IdFilter(field_name="household_id")
    recipient = IdFilter(field_name="recipient_id")
    level = filters.ChoiceFilter(choices=Level.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["placement", "household", "recipient", "kind", "level", "status", "outcome", "created_after",
                  "created_before"]


class MilestoneFilter(filters.FilterSet):
    placement = IdFilter(field_name="placement_id")
    household = IdFilter(field_name="household_id")
    due_after = filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_on", lookup_expr="lte")

    class Meta:
        model = Milestone
        fields = ["placement", "household", "status", "rule_code", "due_after", "due_before"]
