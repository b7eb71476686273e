"""Shapes for well-being signals, goals, scores, alerts and milestones. No rules here: every
input is handed to a service in support.wellbeing, which checks it and names the field that fails.

Free text (a check-in's "anything else", an incident's note, the child's own words, a
milestone's note) is returned only to its writer and the municipality's consultants; for every
other reader it is null (`FreeTextMixin`). Scores are levels, drivers and a 0-100 support-need
index: never a probability of breakdown.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import scoping_wellbeing as scoping
from api.serializers import MAX_INT, ScopedPrimaryKeyRelatedField
from support.models import (
    Alert,
    AlertOutcome,
    AssessmentDecision,
    CheckIn,
    ChildView,
    Goal,
    GoalDirection,
    GoalIndicator,
    GoalMeasurement,
    GoalStatus,
    Incident,
    IncidentKind,
    Level,
    Milestone,
    Recipient,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqInformant,
    SdqScore,
)
from support.wellbeing.sdq import BAND_CODES

WRITER_AND_CONSULTANT = "Only its writer and the municipality's consultants read it; null for everyone else."
FREE_TEXT_MAX = 5000
SMALL_INT_MAX = 32767  # the column's range
TREND_DIRECTIONS = [("rising", "Rising"), ("falling", "Falling"), ("steady", "Steady"), ("unknown", "Too few points")]
STRAIN_LEVELS = [("red", "Red"), ("yellow", "Yellow"), ("green", "Green")]
REASON_LEVELS = [("red", "Red"), ("yellow", "Yellow"), ("no_data", "No recent data"), ("green", "Green"),
                 ("context", "Context only")]


class FreeTextMixin:
    """The named free-text fields are null unless the reader wrote the row or is its consultant."""

    free_text_fields: tuple[str, ...] = ()
    writer_field: str = "recorded_by_id"

    def to_representation(self, obj):
        data = super().to_representation(obj)
        user = self.context["request"].user
        if not scoping.reads_free_text(user, obj, writer_id=getattr(obj, self.writer_field)):
            for name in self.free_text_fields:
                data[name] = None
        return data


def placement_field(scope, help_text: str):
    return ScopedPrimaryKeyRelatedField(scope=scope, help_text=help_text)


REPORTING = "An active placement: your own foster family's, or one in a municipality where you are a consultant."
CONSULTANT = "An active placement in a municipality where you are a consultant."


# --- Check-ins ------------------------------------------------------------------------------------------------


class CheckInSerializer(FreeTextMixin, serializers.ModelSerializer):
    """The foster family's weekly check-in. Purpose-limited: for offering support, never for approval,
    oversight or pay decisions; only the family and the municipality's consultants can read it."""

    free_text = serializers.CharField(read_only=True, allow_null=True, help_text=WRITER_AND_CONSULTANT)
    free_text_fields = ("free_text",)
    writer_field = "submitted_by_id"

    class Meta:
        model = CheckIn
        fields = [
            "id", "placement", "household", "on", "stress", "sleep", "conflicts", "commitment", "problem_behaviours",
            "sessions_missed", "help_now", "free_text", "submitted_by", "created_at",
        ]
        read_only_fields = fields


class CheckInCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.reporting_placements, REPORTING)
    on = serializers.DateField(help_text="The day of the check-in (not in the future).")
    stress = serializers.IntegerField(min_value=0, max_value=10, help_text="How stressed you are, 0 (not) to 10.")
    sleep = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, default=None)
    conflicts = serializers.IntegerField(min_value=0, max_value=SMALL_INT_MAX, required=False, allow_null=True, default=None,
                                         help_text="Conflicts this week.")
    commitment = serializers.IntegerField(min_value=0, max_value=10, required=False, allow_null=True, default=None,
                                          help_text="How sure you are that you can continue for 6 months, 0-10.")
    problem_behaviours = serializers.IntegerField(min_value=0, max_value=30, required=False, allow_null=True,
                                                  default=None, help_text="Problem behaviours in the last 24 hours.")
    sessions_missed = serializers.IntegerField(min_value=0, max_value=14, required=False, allow_null=True, default=None,
                                               help_text="Planned support sessions that did not take place this week.")
    help_now = serializers.BooleanField(required=False, default=False,
                                        help_text="We need help now: the consultant is alerted at once.")
    free_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX,
                                      help_text="Anything else. Read only by you and the consultant.")


# --- SDQ, school absence, incidents, the child's view ---------------------------------------------------------


class SdqScoreSerializer(serializers.ModelSerializer):
    total_band = serializers.ChoiceField(choices=BAND_CODES, read_only=True, help_text="Standard 4-band table.")
    impact_band = serializers.ChoiceField(choices=BAND_CODES, read_only=True, allow_null=True)

    class Meta:
        model = SdqScore
        fields = ["id", "placement", "on", "informant", "total", "total_band", "impact", "impact_band", "recorded_by",
                  "created_at"]
        read_only_fields = fields


class SdqScoreCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.reporting_placements, REPORTING)
    on = serializers.DateField()
    informant = serializers.ChoiceField(
        choices=SdqInformant.choices, help_text="Foster families record the carer's report (parent) only."
    )
    total = serializers.IntegerField(min_value=0, max_value=40, help_text="Total difficulties 0-40.")
    impact = serializers.IntegerField(min_value=0, max_value=10, required=False, allow_null=True, default=None,
                                      help_text="Impact supplement: carer/self 0-10, teacher 0-6.")


class SchoolAbsenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = SchoolAbsence
        fields = ["id", "placement", "month", "total_pct", "unlawful_pct", "recorded_by", "updated_at"]
        read_only_fields = fields


class SchoolAbsenceCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.consultant_placements, CONSULTANT)
    month = serializers.DateField(help_text="Any day of the month; stored as its first day. A second report replaces "
                                            "the first.")
    total_pct = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100)
    unlawful_pct = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False,
                                            default=0, help_text="At most the total.")


class IncidentSerializer(FreeTextMixin, serializers.ModelSerializer):
    note = serializers.CharField(read_only=True, allow_null=True, help_text=WRITER_AND_CONSULTANT)
    free_text_fields = ("note",)

    class Meta:
        model = Incident
        fields = ["id", "placement", "on", "kind", "note", "recorded_by", "created_at"]
        read_only_fields = fields


class IncidentCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.reporting_placements, REPORTING)
    on = serializers.DateField()
    kind = serializers.ChoiceField(choices=IncidentKind.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX,
                                 help_text="Never passed to the model. Read only by you and the consultant.")


class ChildViewSerializer(FreeTextMixin, serializers.ModelSerializer):
    comment = serializers.CharField(read_only=True, allow_null=True,
                                    help_text="In the child's own words. " + WRITER_AND_CONSULTANT)
    free_text_fields = ("comment",)

    class Meta:
        model = ChildView
        fields = ["id", "placement", "on", "wellbeing", "comment", "recorded_by", "created_at"]
        read_only_fields = fields


class ChildViewCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.reporting_placements, REPORTING)
    on = serializers.DateField()
    wellbeing = serializers.IntegerField(min_value=1, max_value=5, help_text="1 very bad … 5 very good.")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX,
                                    help_text="In the child's own words (optional).")


# --- Goals ------------------------------------------------------------------------------------------------------


class GoalProgressSerializer(serializers.Serializer):
    current = serializers.FloatField(allow_null=True, help_text="The indicator's value now, from the signals.")
    measured_on = serializers.DateField(allow_null=True)
    progress = serializers.FloatField(allow_null=True, help_text="Share of the way from baseline to target, 0-1.")
    state = serializers.ChoiceField(choices=["achieved", "improving", "no_change", "worse", "no_data"])
    review_due = serializers.BooleanField()


class GoalSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField(help_text="Computed from the recorded signals (custom goals: from "
                                                           "the measurements).")

    class Meta:
        model = Goal
        fields = ["id", "placement", "title", "indicator", "sdq_informant", "window_days", "baseline", "target",
                  "direction", "review_on", "status", "progress", "created_by", "created_at", "closed_at"]
        read_only_fields = fields

    @extend_schema_field(GoalProgressSerializer)
    def get_progress(self, obj) -> dict:
        found = self.context["progress"][obj.pk]
        return GoalProgressSerializer(found).data


class GoalCreateSerializer(serializers.Serializer):
    placement = placement_field(scoping.consultant_placements, CONSULTANT)
    title = serializers.CharField(max_length=200)
    indicator = serializers.ChoiceField(choices=GoalIndicator.choices)
    sdq_informant = serializers.ChoiceField(choices=SdqInformant.choices, required=False, default=SdqInformant.PARENT,
                                            help_text="For the sdq_total indicator.")
    window_days = serializers.IntegerField(min_value=7, max_value=730, required=False, default=90,
                                           help_text="For counts: the look-back window.")
    baseline = serializers.DecimalField(max_digits=7, decimal_places=2)
    target = serializers.DecimalField(max_digits=7, decimal_places=2, help_text="Better than the baseline in the "
                                                                                "chosen direction.")
    direction = serializers.ChoiceField(choices=GoalDirection.choices)
    review_on = serializers.DateField(help_text="In the future; becomes a milestone.")


class GoalCloseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[GoalStatus.ACHIEVED, GoalStatus.CLOSED])


class GoalMeasurementSerializer(serializers.ModelSerializer):
    class Meta:
        model = GoalMeasurement
        fields = ["id", "goal", "on", "value", "recorded_by", "created_at"]
        read_only_fields = fields


class GoalMeasurementCreateSerializer(serializers.Serializer):
    goal = ScopedPrimaryKeyRelatedField(
        scope=lambda user: scoping.family_signals(Goal, user).filter(municipality_id__in=scoping.case_municipality_ids(user)),
        help_text="A goal with a custom indicator, in a municipality where you are a consultant.",
    )
    on = serializers.DateField()
    value = serializers.DecimalField(max_digits=7, decimal_places=2)


# --- Scores ------------------------------------------------------------------------------------------------------


class TextSerializer(serializers.Serializer):
    en = serializers.CharField()
    da = serializers.CharField()


class DriverSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = TextSerializer()
    status = serializers.ChoiceField(choices=["known", "unknown", "not_applicable"],
                                     help_text="unknown: no recent data for this driver (never counted as calm).")
    normalised_value = serializers.FloatField(source="s", allow_null=True, help_text="Severity 0-1; null unless known.")
    weight = serializers.FloatField(help_text="The published weight, points of 100.")
    effective_weight = serializers.FloatField(help_text="The weight after renormalising over the known drivers.")
    contribution = serializers.FloatField(help_text="Points of the index from this driver.")
    evidence = TextSerializer(many=True)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=REASON_LEVELS)
    text = TextSerializer()
    drivers = serializers.ListField(child=serializers.CharField())


class RecommendationSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable; name it to create a support need from an alert.")
    service = serializers.CharField(help_text="A service code, or \"meeting\" (planned in the calendar).")
    meeting_kind = serializers.CharField(allow_null=True)
    recipient = serializers.ChoiceField(choices=Recipient.choices)
    required_competences = serializers.ListField(child=serializers.CharField())
    preferred_competences = serializers.ListField(child=serializers.CharField())
    priority = serializers.IntegerField(help_text="1 routine … 5 acute risk of breakdown.")
    triggers = serializers.ListField(child=serializers.CharField())
    label = TextSerializer()
    reason = TextSerializer()


class BaselineFactorSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = TextSerializer()
    b = serializers.FloatField()
    weight = serializers.FloatField()
    contribution = serializers.FloatField()
    value = TextSerializer()


class BaselineSerializer(serializers.Serializer):
    b = serializers.FloatField(help_text="Static history 0-100: context only, never red on its own.")
    band = serializers.ChoiceField(choices=["low", "medium", "high"])
    factors = BaselineFactorSerializer(many=True)


class AcuteEventSerializer(serializers.Serializer):
    on = serializers.DateField()
    kind = serializers.CharField(help_text="An incident kind, or help_now.")
    label = TextSerializer()


class TrendPointSerializer(serializers.Serializer):
    on = serializers.DateField()
    index = serializers.FloatField(allow_null=True)


class TrendSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=TREND_DIRECTIONS)
    delta = serializers.FloatField(allow_null=True)
    slope_per_month = serializers.FloatField(allow_null=True, help_text="Points per month, for display.")
    points = TrendPointSerializer(many=True)


class RiskScoreSerializer(serializers.ModelSerializer):
    """A computed support-need score: level, drivers and trend. **Never a probability of breakdown.**"""

    model_version = serializers.CharField(source="config_version", read_only=True,
                                          help_text="The version of the weights this score was computed with.")
    level = serializers.ChoiceField(choices=Level.choices, read_only=True,
                                    help_text="no_data: no recent reports; never shown as green.")
    strain_level = serializers.ChoiceField(choices=STRAIN_LEVELS, read_only=True,
                                           help_text="From the known data, before the data check.")
    index = serializers.FloatField(read_only=True, allow_null=True,
                                   help_text="Support need 0-100 over the known drivers. Not a probability.")
    coverage = serializers.FloatField(read_only=True, help_text="Share of the applicable weight that is known, 0-1.")
    trend = serializers.SerializerMethodField()
    drivers = DriverSerializer(many=True, read_only=True)
    reasons = serializers.SerializerMethodField()
    recommendations = serializers.SerializerMethodField()
    baseline = serializers.SerializerMethodField()
    acute_events = serializers.SerializerMethodField()
    guidance = serializers.SerializerMethodField()

    class Meta:
        model = RiskScore
        fields = ["id", "placement", "as_of", "computed_at", "model_version", "latest", "level", "strain_level",
                  "data_sufficient", "index", "coverage", "trend", "drivers", "reasons", "recommendations",
                  "baseline", "acute_events", "guidance"]
        read_only_fields = fields

    @extend_schema_field(TrendSerializer)
    def get_trend(self, obj) -> dict:
        points = obj.detail.get("trend", {}).get("points", [])
        return TrendSerializer({
            "direction": obj.trend_direction, "delta": obj.trend_delta, "slope_per_month": obj.trend_slope,
            "points": [{"on": on, "index": r} for on, r in points],
        }).data

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, obj) -> list:
        return ReasonSerializer(obj.detail.get("reasons", []), many=True).data

    @extend_schema_field(RecommendationSerializer(many=True))
    def get_recommendations(self, obj) -> list:
        return RecommendationSerializer(obj.detail.get("recommendations", []), many=True).data

    @extend_schema_field(BaselineSerializer(allow_null=True))
    def get_baseline(self, obj) -> dict | None:
        baseline = obj.detail.get("baseline")
        return None if baseline is None else BaselineSerializer(baseline).data

    @extend_schema_field(AcuteEventSerializer(many=True))
    def get_acute_events(self, obj) -> list:
        return AcuteEventSerializer(obj.detail.get("acute_events", []), many=True).data

    @extend_schema_field(TextSerializer(allow_null=True))
    def get_guidance(self, obj) -> dict | None:
        guidance = obj.detail.get("guidance")
        return None if guidance is None else TextSerializer(guidance).data


class ScoreAssessmentSerializer(serializers.ModelSerializer):
    level = serializers.ChoiceField(source="score.level", choices=Level.choices, read_only=True,
                                    help_text="The score's level.")

    class Meta:
        model = ScoreAssessment
        fields = ["id", "score", "placement", "level", "decision", "assessed_level", "reason", "assessed_by",
                  "created_at"]
        read_only_fields = fields


class ScoreAssessmentCreateSerializer(serializers.Serializer):
    score = ScopedPrimaryKeyRelatedField(
        scope=lambda user: scoping.consultants_only(RiskScore, user), help_text="A score of your municipality."
    )
    decision = serializers.ChoiceField(choices=AssessmentDecision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX,
                                   help_text="Required to override.")
    assessed_level = serializers.ChoiceField(choices=Level.choices, required=False, allow_blank=True, default="",
                                             help_text="When overriding: the level you find right.")


# --- Alerts ---------------------------------------------------------------------------------------------------------


class AlertDriverSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = TextSerializer()
    normalised_value = serializers.FloatField(source="s", allow_null=True)
    contribution = serializers.FloatField()


class AlertNeedSerializer(serializers.Serializer):
    recommendation_code = serializers.CharField()
    need = serializers.IntegerField(source="need_id")


class AlertSerializer(serializers.ModelSerializer):
    """What the consultant must look at, with its drivers and the suggested actions. The index suggests;
    the consultant decides."""

    level = serializers.ChoiceField(choices=Level.choices, read_only=True, allow_blank=True)
    previous_level = serializers.ChoiceField(choices=Level.choices, read_only=True, allow_blank=True)
    drivers = AlertDriverSerializer(many=True, read_only=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    recommendations = RecommendationSerializer(many=True, read_only=True)
    support_needs = AlertNeedSerializer(source="support_need_links", many=True, read_only=True,
                                        help_text="Support needs created from its recommendations.")

    class Meta:
        model = Alert
        fields = ["id", "placement", "household", "kind", "level", "previous_level", "score", "checkin", "milestone",
                  "drivers", "reasons", "recommendations", "support_needs", "shadow", "status", "created_at",
                  "last_seen_at", "repeat_count", "acknowledged_at", "acknowledged_by", "acknowledgement_note",
                  "outcome", "email_state"]
        read_only_fields = fields


class AlertAcknowledgeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=AlertOutcome.choices, help_text="What came of it (kept for learning).")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX,
                                 help_text="Required for no_action_needed and other.")


class AlertSupportNeedCreateSerializer(serializers.Serializer):
    recommendation_code = serializers.CharField(max_length=60)
    minutes_per_session = serializers.IntegerField(min_value=1, max_value=MAX_INT)
    sessions_per_week = serializers.DecimalField(max_digits=6, decimal_places=3, help_text="e.g. 0.5 = every 2 weeks.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=5,
                                        help_text="Defaults to the recommendation's.")
    required_competences = serializers.ListField(child=serializers.CharField(max_length=40), required=False,
                                                 default=list, help_text="Added to the recommendation's.")
    preferred_competences = serializers.ListField(child=serializers.CharField(max_length=40), required=False,
                                                  default=list, help_text="Added to the recommendation's.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX)


# --- Milestones --------------------------------------------------------------------------------------------------


class MilestoneSerializer(FreeTextMixin, serializers.ModelSerializer):
    note = serializers.CharField(read_only=True, allow_null=True, help_text="Written when marked done. "
                                 "Only its writer and the municipality's consultants read it.")
    free_text_fields = ("note",)
    writer_field = "done_by_id"

    class Meta:
        model = Milestone
        fields = ["id", "placement", "household", "rule_code", "rule_version", "source", "sequence", "title_en",
                  "title_da", "due_on", "warn_on", "status", "owed", "delivered", "done_at", "done_by", "note", "uid"]
        read_only_fields = fields


class MilestoneDoneSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=FREE_TEXT_MAX)
    cadence_months = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=24,
                                              help_text="At the first follow-up (§ 95): how often from now on.")
    cadence_justification = serializers.CharField(required=False, allow_blank=True, default="",
                                                  max_length=FREE_TEXT_MAX)


# --- The team lead's aggregate ---------------------------------------------------------------------------------


class LevelCountsSerializer(serializers.Serializer):
    red = serializers.IntegerField()
    yellow = serializers.IntegerField()
    green = serializers.IntegerField()
    no_data = serializers.IntegerField(help_text="No recent reports: not green.")


class OverrideFiguresSerializer(serializers.Serializer):
    assessed = serializers.IntegerField()
    agreed = serializers.IntegerField()
    overridden = serializers.IntegerField()
    overridden_lower = serializers.IntegerField(help_text="The consultant found less concern than the index.")
    overridden_higher = serializers.IntegerField()
    unassessed_flags = serializers.IntegerField(help_text="Current yellow and red scores nobody has assessed.")
    override_rate = serializers.FloatField(allow_null=True, help_text="About one in three is normal; near 0 may mean "
                                                                      "rubber-stamping.")


class NamedOverrideFiguresSerializer(OverrideFiguresSerializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class WellbeingOverviewSerializer(serializers.Serializer):
    """Aggregates only: no individual check-in, score or placement."""

    municipality = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    model_versions = serializers.ListField(child=serializers.CharField())
    current_levels = LevelCountsSerializer(help_text="Current scores per level.")
    rising = serializers.IntegerField(help_text="Current scores whose trend is rising.")
    overrides = OverrideFiguresSerializer(help_text="Assessments made in [since, until).")
    overrides_by_team = NamedOverrideFiguresSerializer(many=True)
    overrides_by_consultant = NamedOverrideFiguresSerializer(many=True)


class OverviewQuerySerializer(serializers.Serializer):
    municipality = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                            help_text="Where you are team lead; defaults to yours when you lead one.")
    since = serializers.DateTimeField(required=False, help_text="Default: 90 days ago.")
    until = serializers.DateTimeField(required=False, help_text="Default: now.")

