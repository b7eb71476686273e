"""Shapes for matching runs and proposals. Decisions are made by scheduler.services.matching."""

from __future__ import annotations

from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import scoping
from api.serializers import ScopedPrimaryKeyRelatedField
from scheduler.models import MatchingRun, Proposal, UnmatchedNeed
from scheduler.reason_text import Names, names_for, progress_text, reason_texts
from scheduler.services.matching import MAX_TIME_LIMIT, MIN_TIME_LIMIT, time_limit_message
from support.models import Provider


class UnmatchedNeedSerializer(serializers.ModelSerializer):
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True,
                                    help_text="Why no provider was proposed, as the engine wrote it (English)")
    reasons_text = serializers.SerializerMethodField(
        help_text="The same reasons in the request's language (Accept-Language; Danish by default), "
                  "naming providers and needs"
    )

    class Meta:
        model = UnmatchedNeed
        fields = ["need", "reasons", "reasons_text"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_reasons_text(self, obj: UnmatchedNeed) -> list[str]:
        names = self.context.get("reason_names")
        if names is None:
            names = names_for([obj.details], municipality_id=obj.need.municipality_id, language=get_language() or "da")
        return reason_texts(reasons=obj.reasons, details=obj.details, names=names)


class MatchingRunSerializer(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    municipality = serializers.SlugRelatedField(slug_field="code", read_only=True)
    gap = serializers.FloatField(read_only=True, allow_null=True, help_text="(bound - objective) / bound")
    proposals_pending = serializers.IntegerField(read_only=True)
    progress_text = serializers.SerializerMethodField(
        help_text="progress_message in the request's language (Accept-Language; Danish by default)"
    )

    class Meta:
        model = MatchingRun
        fields = [
            "id", "municipality", "status", "progress", "progress_message", "progress_text", "time_limit_seconds",
            "started_by", "created_at", "started_at", "finished_at", "solver_status", "objective", "bound", "gap",
            "proposals_pending", "error",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_progress_text(self, obj: MatchingRun) -> str:
        return progress_text(obj.progress_message)


class MatchingRunDetailSerializer(MatchingRunSerializer):
    unmatched = UnmatchedNeedSerializer(many=True, read_only=True)

    class Meta(MatchingRunSerializer.Meta):
        fields = [*MatchingRunSerializer.Meta.fields, "unmatched"]
        read_only_fields = fields

    def to_representation(self, instance: MatchingRun) -> dict:
        # Every name the reasons mention, looked up once for the whole run.
        names: Names = names_for(
            (u.details for u in instance.unmatched.all()),
            municipality_id=instance.municipality_id, language=get_language() or "da",
        )
        self.context["reason_names"] = names
        return super().to_representation(instance)


_TIME_LIMIT_MESSAGE = lazy(time_limit_message, str)()
_REJECT_REASON_MESSAGE = _("Say why the proposal is rejected.")


class MatchingRunStartSerializer(serializers.Serializer):
    municipality = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_municipalities, required=False,
        help_text="A municipality where you are a consultant; defaults to yours when you are in exactly one.",
    )
    time_limit_seconds = serializers.FloatField(
        min_value=MIN_TIME_LIMIT, max_value=MAX_TIME_LIMIT, default=30.0,
        # The service's words, in the request's language when the error is shown.
        error_messages={"min_value": _TIME_LIMIT_MESSAGE, "max_value": _TIME_LIMIT_MESSAGE},
    )


class ProposalSerializer(serializers.ModelSerializer):
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    service = serializers.CharField(source="need.service.code", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    terms = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                  help_text="The score in its terms: priority, continuity, preferred, travel")

    class Meta:
        model = Proposal
        fields = [
            "id", "run", "need", "service", "provider", "provider_name", "score", "terms", "status",
            "decided_by", "decided_at", "decision_reason", "override_provider",
        ]
        read_only_fields = fields


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why the proposal does not fit (kept for learning).",
        error_messages={"required": _REJECT_REASON_MESSAGE, "blank": _REJECT_REASON_MESSAGE},
    )


class OverrideSerializer(serializers.Serializer):
    provider = ScopedPrimaryKeyRelatedField(scope=lambda user: Provider.objects.for_user(user))
    reason = serializers.CharField(max_length=2000, allow_blank=True, default="")
