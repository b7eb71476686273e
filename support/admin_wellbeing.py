"""Admin pages for the well-being models: for looking, not for writing.

Signals, scores, alerts and milestones are written by the services in support.wellbeing (which
validate, audit and re-score); the admin shows them read-only so that nobody changes a score's
inputs behind the model's back. Non-superusers see only their scope (ScopedAdmin / for_user).

Check-ins are shown without their free text in lists, and the admin is not a place to read
carers' stress answers for approval, oversight (tilsyn) or pay decisions: they are collected to
offer the family support only.
"""

from __future__ import annotations

from django.contrib import admin

from support import models as m
from support.admin import ScopedAdmin


class ReadOnlyAdmin(ScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(m.CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["on", "placement", "help_now", "created_at"]
    list_filter = ["help_now", "municipality"]
    exclude = ["free_text"]


@admin.register(m.SdqScore)
class SdqScoreAdmin(ReadOnlyAdmin):
    list_display = ["on", "placement", "informant", "total", "impact"]
    list_filter = ["informant", "municipality"]


@admin.register(m.SchoolAbsence)
class SchoolAbsenceAdmin(ReadOnlyAdmin):
    list_display = ["month", "placement", "total_pct", "unlawful_pct"]


@admin.register(m.Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["on", "placement", "kind"]
    list_filter = ["kind", "municipality"]
    exclude = ["note"]


@admin.register(m.ChildView)
class ChildViewAdmin(ReadOnlyAdmin):
    list_display = ["on", "placement", "wellbeing"]
    exclude = ["comment"]


@admin.register(m.Stressor)
class StressorAdmin(ReadOnlyAdmin):
    list_display = ["placement", "kind", "started_on", "ended_on"]
    list_filter = ["kind"]


@admin.register(m.PlacementBackground)
class PlacementBackgroundAdmin(ReadOnlyAdmin):
    list_display = ["placement", "prior_placements_elsewhere", "residential_history", "attends_school"]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        return qs.filter(placement__in=m.Placement.objects.for_user(request.user))


@admin.register(m.Goal)
class GoalAdmin(ReadOnlyAdmin):
    list_display = ["title", "placement", "indicator", "baseline", "target", "direction", "review_on", "status"]
    list_filter = ["indicator", "status"]


@admin.register(m.RiskScore)
class RiskScoreAdmin(ReadOnlyAdmin):
    list_display = ["placement", "as_of", "level", "index", "trend_direction", "trend_delta", "config_version", "latest"]
    list_filter = ["latest", "level", "config_version", "municipality"]
    date_hierarchy = "computed_at"


@admin.register(m.ScoreAssessment)
class ScoreAssessmentAdmin(ReadOnlyAdmin):
    list_display = ["score", "assessed_by", "decision", "assessed_level", "created_at"]
    list_filter = ["decision"]


@admin.register(m.Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "key", "subject", "recipient", "status", "email_state", "shadow"]
    list_filter = ["kind", "status", "email_state", "shadow", "municipality"]


@admin.register(m.Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["due_on", "rule_code", "sequence", "subject", "status", "title_da"]
    list_filter = ["rule_code", "status", "rule_version"]


@admin.register(m.FollowUpCadence)
class FollowUpCadenceAdmin(ReadOnlyAdmin):
    list_display = ["placement", "months", "decided_on", "decided_by"]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        return qs.filter(placement__in=m.Placement.objects.for_user(request.user))


@admin.register(m.CarerSupportDelivery)
class CarerSupportDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["household", "kind", "on", "amount"]
    list_filter = ["kind"]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        return qs.filter(household__in=m.Household.objects.for_user(request.user))
