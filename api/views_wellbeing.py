"""HTTP for well-being signals, goals, support-need scores, alerts and milestones (issues #6, #7).

The services in support.wellbeing hold every rule; these views pick objects from scoped
querysets (api/scoping_wellbeing.py: consultants and the placement's own foster family, never
the roles that decide approval, oversight or pay) and call one service with `now`.
Every read of these records, like every read of a child's or a placement's details, leaves an
audit entry (`AuditedReadsMixin`).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api import filters_wellbeing as filters
from api import scoping_wellbeing as scoping
from api import serializers_wellbeing as s
from api.schema import ERRORS, ErrorSerializer
from api.serializers import SupportNeedSerializer
from api.views import AuditedReadsMixin, ReadOnlyViewSet
from support.models import (
    Alert,
    CheckIn,
    ChildView,
    Goal,
    Incident,
    Level,
    Milestone,
    PlacementStatus,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqInformant,
    SdqScore,
    SupportNeed,
)
from support.wellbeing import alerts, goals, milestones, signals

OVERVIEW_DEFAULT_DAYS = 90


class WellbeingWrites(BasePermission):
    """Reads follow the queryset. Creating needs a consultant (or, where the family reports, a foster
    parent); where is checked by the input's scoped placement (400 on that field). Actions on a
    row you can see are for the municipality's consultants (403 for other readers)."""

    message = "Only the municipality's consultants can do this."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or view.detail:
            return True
        if getattr(view, "family_reports", False):
            return scoping.may_record_signals(request.user)
        return bool(scoping.case_municipality_ids(request.user))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return obj.municipality_id in scoping.case_municipality_ids(request.user)


class WellbeingViewSet(AuditedReadsMixin, ReadOnlyViewSet):
    permission_classes = [IsAuthenticated, WellbeingWrites]
    family_reports = False

    def created(self, obj) -> Response:
        return self.output(self.get_queryset().get(pk=obj.pk), status_code=status.HTTP_201_CREATED)


def _create_schema(request, response, description: str):
    return extend_schema_view(
        create=extend_schema(request=request, responses={201: response}, description=description),
    )


# --- Signals -------------------------------------------------------------------------------------------------------


@_create_schema(
    s.CheckInCreateSerializer, s.CheckInSerializer,
    "The foster family's weekly check-in (a consultant may record one taken by phone). help_now alerts the "
    "placement's consultant at once. Check-ins are read only by the family and the municipality's consultants: "
    "never by team leads, administrators or providers (purpose limitation).",
)
class CheckInViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    """Check-ins of your own foster family's placements, or of your municipality's placements (consultants)."""

    audit_name = "checkin"
    family_reports = True
    serializer_class = s.CheckInSerializer
    filterset_class = filters.CheckInFilter
    ordering_fields = ["on", "created_at", "stress"]
    ordering = ["-on", "-id"]

    def get_queryset(self):
        return scoping.family_signals(CheckIn, self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.CheckInCreateSerializer)
        return self.created(signals.record_checkin(by=request.user, now=timezone.now(), **data))


@_create_schema(
    s.SdqScoreCreateSerializer, s.SdqScoreSerializer,
    "An SDQ total and impact. A foster family records the carer's report (informant parent) for its own placement; "
    "consultants record every informant.",
)
class SdqScoreViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "sdq"
    family_reports = True
    serializer_class = s.SdqScoreSerializer
    filterset_class = filters.SdqScoreFilter
    ordering_fields = ["on", "total"]
    ordering = ["-on", "-id"]

    def get_queryset(self):
        return scoping.family_signals(SdqScore, self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.SdqScoreCreateSerializer)
        staff = data["placement"].municipality_id in scoping.case_municipality_ids(request.user)
        if data["informant"] != SdqInformant.PARENT and not staff:
            raise ValidationError({"informant": ["Teacher and self reports are recorded by the consultant."]})
        return self.created(signals.record_sdq(by=request.user, now=timezone.now(), **data))


@_create_schema(
    s.SchoolAbsenceCreateSerializer, s.SchoolAbsenceSerializer,
    "School absence for one month, recorded by a consultant. A second report for a month replaces the first "
    "(answers 201 either way).",
)
class SchoolAbsenceViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "school_absence"
    serializer_class = s.SchoolAbsenceSerializer
    filterset_class = filters.SchoolAbsenceFilter
    ordering_fields = ["month", "total_pct"]
    ordering = ["-month", "-id"]

    def get_queryset(self):
        return scoping.family_signals(SchoolAbsence, self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.SchoolAbsenceCreateSerializer)
        return self.created(signals.record_school_absence(by=request.user, now=timezone.now(), **data))


@_create_schema(
    s.IncidentCreateSerializer, s.IncidentSerializer,
    "An acute event (the level is red for 30 days). The note is read only by its writer and the consultants.",
)
class IncidentViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "incident"
    family_reports = True
    serializer_class = s.IncidentSerializer
    filterset_class = filters.IncidentFilter
    ordering_fields = ["on", "created_at"]
    ordering = ["-on", "-id"]

    def get_queryset(self):
        return scoping.family_signals(Incident, self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.IncidentCreateSerializer)
        return self.created(signals.record_incident(by=request.user, now=timezone.now(), **data))


@_create_schema(
    s.ChildViewCreateSerializer, s.ChildViewSerializer,
    "The child's own answer (1-5), a driver of the score. The child's words are read only by their writer and "
    "the consultants.",
)
class ChildViewViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "child_view"
    family_reports = True
    serializer_class = s.ChildViewSerializer
    filterset_class = filters.ChildViewFilter
    ordering_fields = ["on", "created_at"]
    ordering = ["-on", "-id"]

    def get_queryset(self):
        return scoping.family_signals(ChildView, self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.ChildViewCreateSerializer)
        return self.created(signals.record_child_view(by=request.user, now=timezone.now(), **data))


# --- Goals ---------------------------------------------------------------------------------------------------------


@_create_schema(
    s.GoalCreateSerializer, s.GoalSerializer,
    "A measurable goal of the child's plan (Barnets lov § 92). Its review date becomes a milestone.",
)
class GoalViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    """Goals with their progress, computed from the signals (one query per kind of signal per page)."""

    audit_name = "goal"
    serializer_class = s.GoalSerializer
    filterset_class = filters.GoalFilter
    ordering_fields = ["review_on", "created_at"]
    ordering = ["review_on", "id"]

    def get_queryset(self):
        return scoping.family_signals(Goal, self.request.user)

    def get_serializer(self, *args, **kwargs):
        instance = args[0] if args else None
        shown = list(instance) if isinstance(instance, list | tuple) else [] if instance is None else [instance]
        kwargs.setdefault("context", self.get_serializer_context())
        kwargs["context"]["progress"] = goals.goal_progress(shown, today=timezone.localdate())
        return super().get_serializer(*args, **kwargs)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.GoalCreateSerializer)
        return self.created(goals.create_goal(by=request.user, now=timezone.now(), **data))

    @extend_schema(request=s.GoalCloseSerializer, responses=s.GoalSerializer,
                   summary="Close an active goal as achieved or closed", description="409 if it is no longer active.")
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        goal = self.get_object()
        data = self.validated(s.GoalCloseSerializer)
        return self.output(goals.close_goal(goal=goal, by=request.user, status=data["status"], now=timezone.now()))


@_create_schema(
    s.GoalMeasurementCreateSerializer, s.GoalMeasurementSerializer,
    "A hand measurement for a goal with a custom indicator (others are measured from the signals).",
)
class GoalMeasurementViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "goal_measurement"
    serializer_class = s.GoalMeasurementSerializer
    filterset_class = filters.GoalMeasurementFilter
    ordering_fields = ["on", "created_at"]
    ordering = ["-on", "-id"]

    def get_queryset(self):
        # The goal's municipality, for the audit entry and the write check.
        return scoping.goal_measurements(self.request.user).annotate(municipality_id=F("goal__municipality_id"))

    def create(self, request, *args, **kwargs):
        data = self.validated(s.GoalMeasurementCreateSerializer)
        return self.created(goals.record_goal_measurement(by=request.user, now=timezone.now(), **data))


# --- Scores and assessments -------------------------------------------------------------------------------------


class RiskScoreViewSet(WellbeingViewSet):
    """Support-need scores of your municipality's placements (consultants only): `?latest=true` for the current
    score of each, or a placement's history. Levels, drivers and trend; never a probability of breakdown."""

    audit_name = "risk_score"
    serializer_class = s.RiskScoreSerializer
    filterset_class = filters.RiskScoreFilter
    ordering_fields = ["computed_at", "as_of", "level_rank", "trend_delta"]
    ordering = ["-computed_at", "-id"]

    def get_queryset(self):
        return scoping.consultants_only(RiskScore, self.request.user)


@_create_schema(
    s.ScoreAssessmentCreateSerializer, s.ScoreAssessmentSerializer,
    "Agree with a score, or override it with a reason and the level you find right. Once per person and score: "
    "a second assessment answers 409.",
)
class ScoreAssessmentViewSet(mixins.CreateModelMixin, WellbeingViewSet):
    audit_name = "score_assessment"
    serializer_class = s.ScoreAssessmentSerializer
    filterset_class = filters.ScoreAssessmentFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return scoping.consultants_only(ScoreAssessment, self.request.user).select_related("score").defer(
            "score__drivers", "score__detail"
        )

    def create(self, request, *args, **kwargs):
        data = self.validated(s.ScoreAssessmentCreateSerializer)
        return self.created(alerts.record_assessment(by=request.user, now=timezone.now(), **data))


# --- Alerts ----------------------------------------------------------------------------------------------------------


class AlertViewSet(WellbeingViewSet):
    """Alerts of your municipality (consultants only), with drivers and recommended actions."""

    audit_name = "alert"
    serializer_class = s.AlertSerializer
    filterset_class = filters.AlertFilter
    ordering_fields = ["created_at", "last_seen_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return scoping.consultants_only(Alert, self.request.user).prefetch_related("support_need_links")

    @extend_schema(request=s.AlertAcknowledgeSerializer, responses=s.AlertSerializer,
                   summary="Acknowledge with what came of it",
                   description="The outcome and note are kept for learning. 409 if it is no longer open.")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        data = self.validated(s.AlertAcknowledgeSerializer)
        alert = alerts.acknowledge_alert(alert=alert, by=request.user, outcome=data["outcome"], note=data["note"],
                                         now=timezone.now())
        return self.output(self.get_queryset().get(pk=alert.pk))

    @extend_schema(request=s.AlertSupportNeedCreateSerializer, responses={201: SupportNeedSerializer},
                   summary="Turn one of its recommendations into a support need",
                   description="Matching and scheduling take over from there. Once per recommendation: 409 after.")
    @action(detail=True, methods=["post"], url_path="create-support-need")
    def create_support_need(self, request, pk=None):
        alert = self.get_object()
        data = self.validated(s.AlertSupportNeedCreateSerializer)
        need = alerts.create_need_from_recommendation(alert=alert, by=request.user, now=timezone.now(), **data)
        need = (
            SupportNeed.objects.for_user(request.user).select_related("service", "placement")
            .prefetch_related("required_competences", "preferred_competences", "excluded_providers", "separate_from")
            .get(pk=need.pk)
        )
        return Response(SupportNeedSerializer(need, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


# --- Milestones ----------------------------------------------------------------------------------------------------


class MilestoneViewSet(WellbeingViewSet):
    """Statutory and long-term deadlines: staff of the municipality, and a foster family its own ledger."""

    audit_name = "milestone"
    serializer_class = s.MilestoneSerializer
    filterset_class = filters.MilestoneFilter
    ordering_fields = ["due_on", "status"]
    ordering = ["due_on", "id"]

    def get_queryset(self):
        return Milestone.objects.for_user(self.request.user)

    @extend_schema(request=s.MilestoneDoneSerializer, responses=s.MilestoneSerializer,
                   summary="Mark a deadline met",
                   description="At the first follow-up, also decide and justify the cadence (§ 95). Ledger rows close "
                               "when the support is recorded as delivered (400). 409 if it is already done.")
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        milestone = self.get_object()
        data = self.validated(s.MilestoneDoneSerializer)
        milestone = milestones.complete_milestone(milestone=milestone, by=request.user, now=timezone.now(), **data)
        return self.output(milestone)


# --- The team lead's aggregate --------------------------------------------------------------------------------


class LeadsOnly(BasePermission):
    message = "Only team leads read the municipality's overview."

    def has_permission(self, request, view) -> bool:
        return bool(scoping.lead_municipality_ids(request.user))


class WellbeingOverviewView(APIView):
    """Risk-level distribution and assessment override rates for a municipality: aggregates only, no individual
    check-in, score or placement (team leads decide about foster families, so they get no carer's report)."""

    permission_classes = [IsAuthenticated, LeadsOnly]

    @extend_schema(
        parameters=[s.OverviewQuerySerializer],
        responses={200: s.WellbeingOverviewSerializer, 400: OpenApiResponse(ErrorSerializer, description=ERRORS["400"])},
        summary="The team lead's overview of support-need levels and override rates",
    )
    def get(self, request):
        query = s.OverviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        leads = scoping.lead_municipality_ids(request.user)
        municipality_id = query.validated_data.get("municipality")
        if municipality_id is None:
            if len(leads) != 1:
                raise ValidationError({"municipality": ["Name the municipality (you lead several)."]})
            municipality_id = next(iter(leads))
        elif municipality_id not in leads:
            raise ValidationError({"municipality": [f"Not found among the municipalities you lead (id {municipality_id})."]})
        now = timezone.now()
        until = query.validated_data.get("until", now)
        try:
            since = query.validated_data.get("since", until - dt.timedelta(days=OVERVIEW_DEFAULT_DAYS))
        except OverflowError:
            raise ValidationError({"until": ["Too early."]}) from None
        if since >= until:
            raise ValidationError({"since": ["Must be before until."]})

        current = RiskScore.objects.for_user(request.user).filter(
            municipality_id=municipality_id, latest=True, placement__status=PlacementStatus.ACTIVE
        )
        counts = dict.fromkeys(Level.values, 0)
        rising, versions = 0, set()
        for row in current.values("level", "trend_direction", "config_version").annotate(n=Count("id")):
            counts[row["level"]] += row["n"]
            rising += row["n"] if row["trend_direction"] == "rising" else 0
            versions.add(row["config_version"])
        report = alerts.override_rates(municipality_id=municipality_id, since=since, until=until)

        def named(figures, key, name):
            return {**s.OverrideFiguresSerializer(figures).data, "id": key, "name": name}

        body = {
            "municipality": municipality_id, "since": since, "until": until, "model_versions": sorted(versions),
            "current_levels": counts, "rising": rising, "overrides": report.total,
            "overrides_by_team": [named(f, key, report.team_names.get(key, "")) for key, f in report.by_team.items()],
            "overrides_by_consultant": [
                named(f, key, report.consultant_names.get(key, "")) for key, f in report.by_consultant.items()
            ],
        }
        return Response(s.WellbeingOverviewSerializer(body).data)

