"""Well-being signals, stored risk scores, alerts and statutory milestones.

The support-need index itself is the pure core in `support.risk`; these models hold what it
reads (signals recorded by families, schools, children and consultants), what it produced (one
`RiskScore` row per placement per computation, one of them marked `latest`), and what people do
about it (alerts, agree/override assessments, milestones). Services in `support.wellbeing`
write them; nothing here computes a score.

Purpose limitation (model card, "Not intended uses"): the foster carers' check-ins, and above
all their stress answers, exist to offer the family support. They must never be read for
approval (godkendelse), oversight (tilsyn), sanctions or pay (vederlag) decisions about the
carers. No query for those purposes may join these tables.

No protected or proxy attribute is stored as an input: no ethnicity, religion, language,
citizenship, diagnoses of the birth parents, benefit receipt, income or anyone's disability.
Free text (check-in notes, incident notes, the child's own words) is stored for the people
involved and is never passed to the model, never written to the audit trail and never emailed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from support.models.care import Household, Municipality, Placement, SupportNeed
from support.roles import scope_for

__all__ = [
    "Alert",
    "AlertKind",
    "AlertOutcome",
    "AlertStatus",
    "AlertSupportNeed",
    "AssessmentDecision",
    "CarerSupportDelivery",
    "CarerSupportKind",
    "CheckIn",
    "ChildView",
    "EmailState",
    "FollowUpCadence",
    "Goal",
    "GoalDirection",
    "GoalIndicator",
    "GoalMeasurement",
    "GoalStatus",
    "Incident",
    "IncidentKind",
    "LEVEL_RANK",
    "Level",
    "Milestone",
    "MilestoneStatus",
    "PlacementBackground",
    "RiskScore",
    "ScoreAssessment",
    "SchoolAbsence",
    "SdqInformant",
    "SdqScore",
    "Stressor",
    "StressorKind",
]


class RowJSONField(models.JSONField):
    """A JSONField whose values are inserted as one parameter each.

    Django 5.2 bulk-inserts on PostgreSQL through UNNEST of arrays; with psycopg's client-side
    binding every quote inside an array of JSON documents is escaped by a Python regex, which
    made storing 2,000 scores take 6 s instead of 0.5 s. A field with `get_placeholder` is
    inserted as separate parameters instead (escaped by libpq). Nothing else changes.
    """

    def get_placeholder(self, value, compiler, connection):
        return "%s"


def _staff_or_household(user) -> Q:
    """Rows of the user's municipalities (staff) or of their own foster household."""
    scope = scope_for(user)
    return Q(municipality_id__in=scope.staff_municipality_ids) | Q(placement__foster_household_id__in=scope.foster_household_ids)


class StaffScopedQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(municipality_id__in=scope_for(user).staff_municipality_ids)


class FamilyScopedQuerySet(models.QuerySet):
    """Staff in the municipality, and the foster family of the placement (their own reports).

    Who may *read* check-ins is enforced again by the API layer; this is the widest scope.
    """

    def for_user(self, user):
        return self.filter(_staff_or_household(user))


# --- Signals ----------------------------------------------------------------------------------------------


class CheckIn(models.Model):
    """The foster family's weekly check-in (the "pulse").

    Purpose-limited: carers report stress so that they can be offered support. A check-in is
    never to be exposed to, or used in, approval, oversight (tilsyn), sanctions or pay
    (vederlag) decisions about the carers. `free_text` is for the consultant only; it never
    reaches the model, the audit trail or an email. `help_now` alerts the consultant at once.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="checkins")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="checkins")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    on = models.DateField(_("date"))
    stress = models.PositiveSmallIntegerField(_("stress 0-10"), validators=[MaxValueValidator(10)])
    sleep = models.PositiveSmallIntegerField(_("sleep 1-5"), null=True, blank=True,
                                             validators=[MinValueValidator(1), MaxValueValidator(5)])
    conflicts = models.PositiveSmallIntegerField(_("conflicts this week"), null=True, blank=True)
    commitment = models.PositiveSmallIntegerField(
        _("sure you can continue for 6 months, 0-10"), null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    problem_behaviours = models.PositiveSmallIntegerField(
        _("problem behaviours in the last 24 hours"), null=True, blank=True, validators=[MaxValueValidator(30)]
    )
    sessions_missed = models.PositiveSmallIntegerField(
        _("planned support sessions that did not take place this week"), null=True, blank=True,
        validators=[MaxValueValidator(14)],
    )
    help_now = models.BooleanField(_("we need help now"), default=False)
    free_text = models.TextField(_("anything else"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on", "-created_at"]
        indexes = [models.Index(fields=["placement", "on"], name="checkin_placement_on")]
        constraints = [
            models.CheckConstraint(condition=Q(stress__lte=10), name="checkin_stress_0_10"),
            models.CheckConstraint(condition=Q(sleep__isnull=True) | Q(sleep__gte=1, sleep__lte=5),
                                   name="checkin_sleep_1_5"),
            models.CheckConstraint(condition=Q(commitment__isnull=True) | Q(commitment__lte=10),
                                   name="checkin_commitment_0_10"),
            models.CheckConstraint(condition=Q(problem_behaviours__isnull=True) | Q(problem_behaviours__lte=30),
                                   name="checkin_behaviours_0_30"),
            models.CheckConstraint(condition=Q(sessions_missed__isnull=True) | Q(sessions_missed__lte=14),
                                   name="checkin_sessions_missed_0_14"),
        ]

    def __str__(self) -> str:
        return f"check-in #{self.pk} for placement #{self.placement_id} on {self.on}"


class SdqInformant(models.TextChoices):
    PARENT = "parent", _("Foster carer")
    TEACHER = "teacher", _("Teacher")
    SELF = "self", _("The child (11+)")


class SdqScore(models.Model):
    """An SDQ: total difficulties 0-40 and the impact supplement (carer/self 0-10, teacher 0-6).

    Raw scores are stored; bands are computed (support.wellbeing.sdq) so a new band table never
    rewrites history.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="sdq_scores")
    on = models.DateField(_("date"))
    informant = models.CharField(max_length=10, choices=SdqInformant.choices)
    total = models.PositiveSmallIntegerField(_("total difficulties"), validators=[MaxValueValidator(40)])
    impact = models.PositiveSmallIntegerField(_("impact"), null=True, blank=True, validators=[MaxValueValidator(10)])
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on"]
        indexes = [models.Index(fields=["placement", "on"], name="sdq_placement_on")]
        constraints = [
            models.CheckConstraint(condition=Q(total__lte=40), name="sdq_total_0_40"),
            models.CheckConstraint(
                condition=Q(impact__isnull=True) | Q(impact__lte=6) | (~Q(informant="teacher") & Q(impact__lte=10)),
                name="sdq_impact_range",
            ),
        ]

    def __str__(self) -> str:
        return f"SDQ {self.informant} {self.total} on {self.on}"

    @property
    def total_band(self) -> str:
        from support.wellbeing.sdq import total_band

        return total_band(self.informant, self.total)

    @property
    def impact_band(self) -> str | None:
        from support.wellbeing.sdq import impact_band

        return impact_band(self.informant, self.impact)


class SchoolAbsence(models.Model):
    """School absence for one calendar month, in percent of that month's school days."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="school_absences")
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    total_pct = models.DecimalField(max_digits=5, decimal_places=2)
    unlawful_pct = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["placement", "month"], name="absence_one_row_per_month"),
            models.CheckConstraint(condition=Q(total_pct__gte=0, total_pct__lte=100), name="absence_total_pct"),
            models.CheckConstraint(condition=Q(unlawful_pct__gte=0, unlawful_pct__lte=F("total_pct")),
                                   name="absence_unlawful_within_total"),
        ]

    def __str__(self) -> str:
        return f"absence {self.month:%Y-%m}: {self.total_pct}% ({self.unlawful_pct}% unlawful)"


class IncidentKind(models.TextChoices):
    SELF_HARM = "self_harm", _("Self-harm (incl. suicidal statements)")
    RUNNING_AWAY = "running_away", _("Running away / missing")
    VIOLENCE = "violence", _("Violence")
    POLICE_CONTACT = "police_contact", _("Police contact")
    HOSPITAL_ADMISSION = "hospital_admission", _("Hospital admission")
    PLACEMENT_THREATENED = "placement_threatened", _("Placement threatened (\"we cannot continue\")")


class Incident(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="incidents")
    on = models.DateField(_("date"))
    kind = models.CharField(max_length=24, choices=IncidentKind.choices)
    note = models.TextField(_("note"), blank=True, help_text=_("Never passed to the model."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on"]
        indexes = [models.Index(fields=["placement", "on"], name="incident_placement_on")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.on}"


class ChildView(models.Model):
    """The child's own answer to "how are things for you?", 1 (very bad) .. 5 (very good)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="child_views")
    on = models.DateField(_("date"))
    wellbeing = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("in the child's own words"), blank=True, help_text=_("Never passed to the model."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on"]
        indexes = [models.Index(fields=["placement", "on"], name="childview_placement_on")]
        constraints = [
            models.CheckConstraint(condition=Q(wellbeing__gte=1, wellbeing__lte=5), name="childview_wellbeing_1_5"),
        ]

    def __str__(self) -> str:
        return f"child view {self.wellbeing}/5 on {self.on}"


class StressorKind(models.TextChoices):
    BIRTH_FAMILY_CONFLICT = "birth_family_conflict", _("Unresolved conflict with the birth family (e.g. samvær)")
    FEE_RENEGOTIATION = "fee_renegotiation", _("Renegotiation of the fee (vederlag) open")


class Stressor(models.Model):
    """A system or relational stressor a consultant records as a period (model card, D6)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="stressors")
    kind = models.CharField(max_length=24, choices=StressorKind.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text=_("The day it was resolved."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StaffScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                                   name="stressor_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} from {self.started_on}"


class PlacementBackground(models.Model):
    """Static history for the baseline (context only; it never raises an alert on its own).

    Earlier placements recorded in Plejenet are counted from the Placement table; these fields
    add what happened before Plejenet. `attends_school` left empty means: derived from age (6+).
    """

    placement = models.OneToOneField(Placement, on_delete=models.CASCADE, primary_key=True, related_name="background")
    prior_placements_elsewhere = models.PositiveSmallIntegerField(default=0)
    prior_breakdowns_elsewhere = models.PositiveSmallIntegerField(default=0)
    residential_history = models.BooleanField(_("earlier residential care"), default=False)
    separated_from_siblings = models.BooleanField(default=False)
    documented_maltreatment = models.BooleanField(_("documented maltreatment before placement"), default=False)
    attends_school = models.BooleanField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"background of placement #{self.placement_id}"


# --- Goals (samarbejdskontrakt) ---------------------------------------------------------------------------


class GoalIndicator(models.TextChoices):
    ABSENCE_PCT = "absence_pct", _("School absence % (last 3 complete months)")
    UNLAWFUL_ABSENCE_PCT = "unlawful_absence_pct", _("Unlawful school absence % (last 3 complete months)")
    SELF_HARM_COUNT = "self_harm_count", _("Self-harm episodes in the window")
    INCIDENT_COUNT = "incident_count", _("Incidents of any kind in the window")
    SDQ_TOTAL = "sdq_total", _("Latest SDQ total")
    CHILD_WELLBEING = "child_wellbeing", _("The child's latest own view (1-5)")
    CUSTOM = "custom", _("Custom (measured by hand)")


class GoalDirection(models.TextChoices):
    DECREASE = "decrease", _("Lower is better")
    INCREASE = "increase", _("Higher is better")


class GoalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ACHIEVED = "achieved", _("Achieved")
    CLOSED = "closed", _("Closed")


class Goal(models.Model):
    """A concrete, measurable goal agreed with the child and family (Barnets lov § 92)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=200)
    indicator = models.CharField(max_length=24, choices=GoalIndicator.choices)
    sdq_informant = models.CharField(max_length=10, choices=SdqInformant.choices, default=SdqInformant.PARENT)
    window_days = models.PositiveSmallIntegerField(default=90, help_text=_("For counts: the look-back window."))
    baseline = models.DecimalField(max_digits=7, decimal_places=2)
    target = models.DecimalField(max_digits=7, decimal_places=2)
    direction = models.CharField(max_length=10, choices=GoalDirection.choices)
    review_on = models.DateField(_("review date"))
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = FamilyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["review_on"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(direction="decrease") & Q(target__lt=F("baseline")))
                | (Q(direction="increase") & Q(target__gt=F("baseline"))),
                name="goal_target_beyond_baseline",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class GoalMeasurement(models.Model):
    """A value measured by hand, for goals whose indicator is `custom`."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="measurements")
    on = models.DateField()
    value = models.DecimalField(max_digits=7, decimal_places=2)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-on", "-created_at"]

    def __str__(self) -> str:
        return f"{self.value} on {self.on}"


# --- Risk scores -----------------------------------------------------------------------------------------


class Level(models.TextChoices):
    RED = "red", _("Red: review within 2 working days")
    YELLOW = "yellow", _("Yellow: contact within 10 working days")
    GREEN = "green", _("Green")
    NO_DATA = "no_data", _("No recent data")


# The core's order of precedence (red > no_data > yellow > green), for sorting lists by level.
LEVEL_RANK = {"red": 3, "no_data": 2, "yellow": 1, "green": 0}


class RiskScoreQuerySet(StaffScopedQuerySet):
    def current(self):
        return self.filter(latest=True)

    def by_attention(self):
        """Red first, then no data, yellow, green; within a level the fastest-rising first."""
        return self.order_by("-level_rank", F("trend_delta").desc(nulls_last=True), F("index").desc(nulls_last=True))


class RiskScore(models.Model):
    """One computation of the support-need index for one placement.

    `latest` marks the current score (at most one per placement, enforced by the database).
    `detail` holds the full explanation as produced by the core: drivers (s, weight, effective
    weight, contribution, evidence), baseline factors, acute events, trend points, thresholds,
    reasons, guidance, recommendations and the derived context (loads, waiting needs).
    """

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="risk_scores")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    consultant = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text=_("The responsible consultant when computed."))
    as_of = models.DateField()
    computed_at = models.DateTimeField()
    config_version = models.CharField(max_length=40)
    level = models.CharField(max_length=8, choices=Level.choices)
    level_rank = models.PositiveSmallIntegerField()
    strain_level = models.CharField(max_length=8)
    data_sufficient = models.BooleanField()
    index = models.FloatField(null=True, help_text=_("R, 0-100 over the known drivers"))
    coverage = models.FloatField()
    trend_direction = models.CharField(max_length=8)
    trend_delta = models.FloatField(null=True)
    trend_slope = models.FloatField(null=True, help_text=_("points per month, for display"))
    drivers = RowJSONField(default=list)
    detail = RowJSONField(default=dict)
    latest = models.BooleanField(default=True)

    objects = RiskScoreQuerySet.as_manager()

    class Meta:
        ordering = ["-computed_at"]
        indexes = [
            models.Index(fields=["placement", "-computed_at"], name="riskscore_placement_time"),
            models.Index(fields=["latest", "level_rank"], name="riskscore_latest_level"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["placement"], condition=Q(latest=True), name="riskscore_one_latest"),
        ]

    def __str__(self) -> str:
        return f"placement #{self.placement_id} {self.level} {self.index} ({self.config_version}, {self.as_of})"

    @property
    def recommendations(self) -> list[dict]:
        return self.detail.get("recommendations", [])

    @property
    def reasons(self) -> list[dict]:
        return self.detail.get("reasons", [])


class AssessmentDecision(models.TextChoices):
    AGREE = "agree", _("Agree")
    OVERRIDE = "override", _("Override")


class ScoreAssessment(models.Model):
    """A consultant's recorded judgement of a score: agree, or override with a reason.

    The index suggests; people decide. Override rates are reported to the team lead
    (support.wellbeing.alerts.override_rates); about one in three is normal.
    """

    score = models.ForeignKey(RiskScore, on_delete=models.CASCADE, related_name="assessments")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="+")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=8, choices=AssessmentDecision.choices)
    assessed_level = models.CharField(max_length=8, choices=Level.choices, blank=True,
                                      help_text=_("The level the consultant finds right, when overriding."))
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    objects = StaffScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["score", "assessed_by"], name="assessment_once_per_person"),
            models.CheckConstraint(condition=Q(decision="agree") | ~Q(reason=""), name="override_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} on score #{self.score_id}"


# --- Alerts ------------------------------------------------------------------------------------------------


class AlertKind(models.TextChoices):
    LEVEL_RISE = "level_rise", _("Support-need level rose")
    HELP_NOW = "help_now", _("The foster family asked for help now")
    MILESTONE_DUE = "milestone_due", _("A deadline is coming up")
    MILESTONE_OVERDUE = "milestone_overdue", _("A deadline has passed")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved by the system")


class AlertOutcome(models.TextChoices):
    CONTACTED_FAMILY = "contacted_family", _("Contacted the family")
    SUPPORT_OFFERED = "support_offered", _("Support offered or created")
    MEETING_PLANNED = "meeting_planned", _("Meeting planned")
    ESCALATED = "escalated", _("Escalated to team lead")
    NO_ACTION_NEEDED = "no_action_needed", _("No action needed")
    DONE = "done", _("Deadline met")
    OTHER = "other", _("Other")


class EmailState(models.TextChoices):
    PENDING = "pending", _("To be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed permanently")
    NOT_SENT = "not_sent", _("Not sent (no recipient, or shadow mode)")


class AlertQuerySet(StaffScopedQuerySet):
    def open(self):
        return self.filter(status=AlertStatus.OPEN)


class Alert(models.Model):
    """Something the responsible consultant must look at, with the drivers and suggestions.

    De-duplicated: at most one *open* alert per subject and key (a database constraint), so a
    placement that stays red does not alert every night. The row is also the email's outbox:
    `email_state` is claimed with a conditional UPDATE, so several workers never send twice.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=40, help_text=_('"placement:<id>" or "household:<id>"'))
    placement = models.ForeignKey(Placement, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="wellbeing_alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    key = models.CharField(max_length=60, help_text=_("What is de-duplicated, e.g. level:red or help_now"))
    level = models.CharField(max_length=8, blank=True)
    previous_level = models.CharField(max_length=8, blank=True)
    score = models.ForeignKey(RiskScore, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    checkin = models.ForeignKey(CheckIn, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    milestone = models.ForeignKey("Milestone", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    drivers = RowJSONField(default=list, blank=True)
    reasons = RowJSONField(default=list, blank=True)
    recommendations = RowJSONField(default=list, blank=True)
    shadow = models.BooleanField(default=False, help_text=_("Created in shadow mode: stored, not emailed."))
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    repeat_count = models.PositiveIntegerField(default=0, help_text=_("Triggers absorbed while open"))
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledgement_note = models.TextField(blank=True)
    outcome = models.CharField(max_length=20, choices=AlertOutcome.choices, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_not_before = models.DateTimeField(null=True, blank=True)
    email_last_error = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["recipient", "status"], name="alert_recipient_status"),
            models.Index(fields=["email_state"], name="alert_email_state"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["subject", "key"], condition=Q(status="open"), name="alert_one_open_per_key"),
            models.CheckConstraint(
                condition=Q(placement__isnull=False) | Q(household__isnull=False), name="alert_has_subject",
            ),
            models.CheckConstraint(condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                                   name="alert_acknowledged_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} for {self.subject} ({self.status})"


class AlertSupportNeed(models.Model):
    """A support need created from one of an alert's recommendations: the link back to the alert."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="support_need_links")
    need = models.OneToOneField(SupportNeed, on_delete=models.CASCADE, related_name="alert_link")
    recommendation_code = models.CharField(max_length=60)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "recommendation_code"], name="one_need_per_recommendation"),
        ]

    def __str__(self) -> str:
        return f"need #{self.need_id} from alert #{self.alert_id} ({self.recommendation_code})"


# --- Milestones and the carers' support ledger -------------------------------------------------------------


class MilestoneStatus(models.TextChoices):
    OPEN = "open", _("Open")
    OVERDUE = "overdue", _("Overdue")
    DONE = "done", _("Done")
    WITHDRAWN = "withdrawn", _("No longer applies")


class MilestoneQuerySet(models.QuerySet):
    def for_user(self, user):
        scope = scope_for(user)
        return self.filter(
            Q(municipality_id__in=scope.staff_municipality_ids) | Q(household_id__in=scope.foster_household_ids)
        )

    def pending(self):
        return self.filter(status__in=[MilestoneStatus.OPEN, MilestoneStatus.OVERDUE])


class Milestone(models.Model):
    """A statutory or long-term deadline, generated from a rule (support.wellbeing.rules).

    Generated idempotently: (subject, rule_code, sequence) identifies a row, so regenerating
    moves a due date or withdraws a row that no longer applies, and never touches one that is
    done. Titles never contain the child's name, so they can go to calendars.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=40)
    placement = models.ForeignKey(Placement, null=True, blank=True, on_delete=models.CASCADE, related_name="milestones")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.CASCADE, related_name="milestones")
    rule_code = models.CharField(max_length=40)
    rule_version = models.CharField(max_length=20)
    source = models.CharField(max_length=300, help_text=_("The legal or practice source of the rule"))
    sequence = models.PositiveIntegerField(default=0)
    title_en = models.CharField(max_length=200)
    title_da = models.CharField(max_length=200)
    due_on = models.DateField()
    warn_on = models.DateField(help_text=_("From this day the deadline counts as due soon"))
    status = models.CharField(max_length=10, choices=MilestoneStatus.choices, default=MilestoneStatus.OPEN)
    owed = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    delivered = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    note = models.TextField(blank=True)
    uid = models.CharField(max_length=120, unique=True, help_text=_("Stable calendar UID"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["due_on"]
        indexes = [models.Index(fields=["status", "due_on"], name="milestone_status_due")]
        constraints = [
            models.UniqueConstraint(fields=["subject", "rule_code", "sequence"], name="milestone_identity"),
            models.CheckConstraint(
                condition=(Q(placement__isnull=False) & Q(household__isnull=True))
                | (Q(placement__isnull=True) & Q(household__isnull=False)),
                name="milestone_has_one_subject",
            ),
            models.CheckConstraint(condition=~Q(status="done") | Q(done_at__isnull=False), name="milestone_done_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code} #{self.sequence} for {self.subject} due {self.due_on} ({self.status})"


class FollowUpCadence(models.Model):
    """The follow-up cadence decided and justified at the first follow-up (Barnets lov § 95).

    Rows are history: the newest applies. A change of cadence is a new row with its own reason.
    """

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="follow_up_cadences")
    months = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(24)])
    justification = models.TextField()
    decided_on = models.DateField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_on", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(justification=""), name="cadence_is_justified"),
            models.CheckConstraint(condition=Q(months__gte=1, months__lte=24), name="cadence_1_24_months"),
        ]

    def __str__(self) -> str:
        return f"every {self.months} months from {self.decided_on}"


class CarerSupportKind(models.TextChoices):
    COURSE_DAY = "course_day", _("Course day (efteruddannelse)")
    SUPERVISION = "supervision", _("Supervision session")


class CarerSupportDelivery(models.Model):
    """Support delivered to a foster family: the "delivered" side of the ledger (owed = milestones)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="carer_support")
    kind = models.CharField(max_length=12, choices=CarerSupportKind.choices)
    on = models.DateField()
    amount = models.DecimalField(max_digits=4, decimal_places=2, default=1,
                                 help_text=_("Days for course days (0.5 = half a day); sessions for supervision"))
    note = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-on"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="delivery_amount_positive")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} on {self.on}"
