"""Matching runs and proposals over HTTP: start a run, follow its progress, decide on proposals.

Staff of the municipality read; its consultants start runs and decide. The engine suggests;
the consultant decides (scheduler.services.matching holds every rule).
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated

from api import scoping
from api.permissions import ConsultantWrites
from api.serializers_matching import (
    MatchingRunDetailSerializer,
    MatchingRunSerializer,
    MatchingRunStartSerializer,
    OverrideSerializer,
    ProposalSerializer,
    RejectSerializer,
)
from api.views import ReadOnlyViewSet
from scheduler.models import MatchingRun, Proposal, ProposalStatus
from scheduler.services import matching


class MatchingRunViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Matching runs of your municipality. POST starts one (409 while another runs there)."""

    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = MatchingRunSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        runs = (
            MatchingRun.objects.for_user(self.request.user)
            .select_related("municipality", "started_by")
            .annotate(proposals_pending=Count("proposals", filter=Q(proposals__status=ProposalStatus.PENDING)))
            .defer("instance", "result")
        )
        if self.action == "retrieve":
            runs = runs.prefetch_related("unmatched")
        return runs

    def get_serializer_class(self):
        return MatchingRunDetailSerializer if self.action == "retrieve" else MatchingRunSerializer

    def retrieve(self, request, *args, **kwargs):
        run = self.get_object()
        return self.output(run)

    @extend_schema(
        request=MatchingRunStartSerializer, responses={201: MatchingRunSerializer},
        summary="Start a matching run for a municipality",
        description=(
            "Runs in the background; poll the run for progress. 409 while another run is in progress; 503 "
            "when the task queue cannot be reached (the run is then kept as failed, and may be started again)."
        ),
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(MatchingRunStartSerializer)
        municipality = data.get("municipality")
        if municipality is None:
            mine = list(scoping.writable_municipalities(request.user))
            if len(mine) != 1:
                raise ValidationError({"municipality": [_("Name the municipality to match.")]})
            municipality = mine[0]
        run = matching.start_matching_run(
            municipality=municipality, by=request.user, now=timezone.now(),
            time_limit_seconds=data["time_limit_seconds"],
        )
        return self.output(self.get_queryset().get(pk=run.pk), status_code=status.HTTP_201_CREATED)


class ProposalViewSet(ReadOnlyViewSet):
    """Proposals of your municipality's runs; filter by `run`, `status` or `need`."""

    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = ProposalSerializer
    filterset_fields = ["run", "status", "need"]
    ordering_fields = ["score"]
    ordering = ["-score", "id"]

    def get_queryset(self):
        return Proposal.objects.for_user(self.request.user).select_related(
            "provider", "need__service", "decided_by", "run"
        )

    def municipality_ids_of(self, obj) -> set[int]:
        return {obj.run.municipality_id}

    @extend_schema(request=None, responses=ProposalSerializer, summary="Accept: the provider gets the need")
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        proposal = matching.accept_proposal(proposal=self.get_object(), by=request.user, now=timezone.now())
        return self.output(self.get_queryset().get(pk=proposal.pk))

    @extend_schema(request=RejectSerializer, responses=ProposalSerializer,
                   summary="Reject with a reason; the pair is excluded from later runs")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        proposal = self.get_object()
        data = self.validated(RejectSerializer)
        proposal = matching.reject_proposal(proposal=proposal, reason=data["reason"], by=request.user, now=timezone.now())
        return self.output(self.get_queryset().get(pk=proposal.pk))

    @extend_schema(request=OverrideSerializer, responses=ProposalSerializer,
                   summary="Assign another provider; the hard rules are still checked (409 when broken)")
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        proposal = self.get_object()
        data = self.validated(OverrideSerializer)
        proposal = matching.override_proposal(
            proposal=proposal, provider=data["provider"], reason=data["reason"], by=request.user, now=timezone.now()
        )
        return self.output(self.get_queryset().get(pk=proposal.pk))
