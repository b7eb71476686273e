"""The care domain: municipalities, households, children, placements, providers and support needs.

Every record that belongs to a municipality says so, and every queryset offers `for_user(user)`,
which returns only what that user's memberships let them see. Code that serves people (API,
pages, admin for non-superusers) starts from `for_user`, so cross-municipality access is
impossible by default. Field names follow ../shared/specs/matching-instance.md so that open
needs export to the matching format without translation.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from support.roles import Role, scope_for

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Weekday(models.TextChoices):
    MON = "mon", _("Monday")
    TUE = "tue", _("Tuesday")
    WED = "wed", _("Wednesday")
    THU = "thu", _("Thursday")
    FRI = "fri", _("Friday")
    SAT = "sat", _("Saturday")
    SUN = "sun", _("Sunday")


def validate_language_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and 2 <= len(v) <= 8 for v in value):
        raise ValidationError(_("Languages must be a list of language codes such as 'da' or 'en'."))


# --- Tenancy ---------------------------------------------------------------------------------------


class MunicipalityQuerySet(models.QuerySet):
    def for_user(self, user) -> MunicipalityQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        return self.filter(id__in=scope.staff_municipality_ids | scope.admin_municipality_ids)


class Municipality(models.Model):
    """The tenant: a Danish municipality, by its official 3-digit code (e.g. 751 Aarhus)."""

    code = models.CharField(
        _("code"), max_length=3, unique=True, validators=[RegexValidator(r"^\d{3}$", _("Use the 3-digit code."))]
    )
    name = models.CharField(_("name"), max_length=100)

    objects = MunicipalityQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TeamQuerySet(models.QuerySet):
    def for_user(self, user) -> TeamQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        return self.filter(
            Q(municipality_id__in=scope.staff_municipality_ids | scope.admin_municipality_ids)
        )


class Team(models.Model):
    """A foster-care team (familieplejen) in a municipality. Its lead is a team_lead membership."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("name"), max_length=100)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["municipality", "name"]
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="team_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.municipality.code})"

    @property
    def leads(self):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(memberships__team=self, memberships__role=Role.TEAM_LEAD)


# --- Reference tables --------------------------------------------------------------------------------


class Service(models.Model):
    """A kind of support (supervision, respite, ...). A table, so a municipality can add kinds."""

    code = models.SlugField(max_length=40, unique=True)
    name_da = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Competence(models.Model):
    """A specialised competence (trauma, self_harm, ...). A table, not an enum in code."""

    code = models.SlugField(max_length=40, unique=True)
    name_da = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


# --- Households ------------------------------------------------------------------------------------------


class HouseholdKind(models.TextChoices):
    FOSTER = "foster", _("Foster family")
    BIRTH = "birth", _("Birth parents")
    RESPITE = "respite", _("Respite family (støtteophold)")


class FosterType(models.TextChoices):
    """Barnets lov types since 1 July 2019 (L 8 2018-19); kommunal only for historic records."""

    ALMEN = "almen", _("General foster family (almen)")
    FORSTAERKET = "forstaerket", _("Reinforced foster family (forstærket)")
    SPECIALISERET = "specialiseret", _("Specialised foster family (specialiseret)")
    NETVAERK = "netvaerk", _("Network foster family (netværksplejefamilie)")
    KOMMUNAL_LEGACY = "kommunal_legacy", _("Municipal foster family (abolished 2019, legacy)")


LEGACY_TYPE_ENDED = dt.date(2019, 7, 1)
CURRENT_FOSTER_TYPES = [FosterType.ALMEN, FosterType.FORSTAERKET, FosterType.SPECIALISERET, FosterType.NETVAERK]


class HouseholdQuerySet(models.QuerySet):
    def for_user(self, user) -> HouseholdQuerySet:
        scope = scope_for(user)
        q = Q(municipality_id__in=scope.staff_municipality_ids) | Q(id__in=scope.household_ids)
        if scope.provider_ids:
            # Providers see the households they serve, not the rest of the municipality.
            q |= Q(support_needs__current_provider_id__in=scope.provider_ids, support_needs__status="assigned")
            q |= Q(provider__id__in=scope.provider_ids)
        return self.filter(q).distinct()


class Household(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="households")
    kind = models.CharField(_("kind"), max_length=10, choices=HouseholdKind.choices)
    name = models.CharField(_("name"), max_length=120, help_text=_("How staff refer to the household."))
    foster_type = models.CharField(
        _("foster family type"), max_length=20, choices=FosterType.choices, blank=True,
        help_text=_("For foster and respite households. 'Kommunal' only for records from before 2019."),
    )
    approved_places = models.PositiveSmallIntegerField(_("approved places"), default=0)
    street = models.CharField(_("street"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=4, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    languages = models.JSONField(_("languages"), default=list, validators=[validate_language_list])
    time_zone = models.CharField(max_length=40, default="Europe/Copenhagen")
    email = models.EmailField(_("email for invitations"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        ordering = ["municipality", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="birth", foster_type="") | ~Q(kind="birth"),
                name="household_birth_has_no_foster_type",
            ),
            models.CheckConstraint(
                condition=Q(kind="birth", approved_places=0) | ~Q(kind="birth"),
                name="household_birth_has_no_places",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == HouseholdKind.FOSTER and not self.foster_type:
            raise ValidationError({"foster_type": _("A foster household needs its type under Barnets lov.")})
        if self.kind == HouseholdKind.BIRTH and self.foster_type:
            raise ValidationError({"foster_type": _("Birth-parent households have no foster type.")})
        if self.kind == HouseholdKind.BIRTH and self.approved_places:
            raise ValidationError({"approved_places": _("Birth-parent households have no approved places.")})

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class ContactPersonQuerySet(models.QuerySet):
    def for_user(self, user) -> ContactPersonQuerySet:
        return self.filter(household__in=Household.objects.for_user(user))


class ContactPerson(models.Model):
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=120)
    relation = models.CharField(_("relation"), max_length=60, blank=True, help_text=_("e.g. plejemor, far"))
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = ContactPersonQuerySet.as_manager()

    class Meta:
        ordering = ["household", "name"]

    def __str__(self) -> str:
        return self.name


# --- Providers ---------------------------------------------------------------------------------------------


class ProviderKind(models.TextChoices):
    PERSON = "person", _("Person")
    ORGANISATION = "organisation", _("Organisation")


class ProviderQuerySet(models.QuerySet):
    def for_user(self, user) -> ProviderQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        q = Q(municipalities__id__in=scope.staff_municipality_ids | scope.admin_municipality_ids)
        q |= Q(id__in=scope.provider_ids)
        if scope.household_ids:
            q |= Q(support_needs__recipient_household_id__in=scope.household_ids, support_needs__status="assigned")
        return self.filter(q).distinct()

    def serving(self, municipality) -> ProviderQuerySet:
        return self.filter(municipalities=municipality, is_active=True)


class Provider(models.Model):
    """A supervisor, respite family, home guide, therapist or psychologist (a person or an organisation).

    Providers may serve several municipalities; that is the one cross-municipality link.
    """

    kind = models.CharField(max_length=15, choices=ProviderKind.choices, default=ProviderKind.PERSON)
    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    services = models.ManyToManyField(Service, related_name="providers")
    competences = models.ManyToManyField(Competence, related_name="providers", blank=True)
    languages = models.JSONField(default=list, validators=[validate_language_list])
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    max_travel_km = models.PositiveIntegerField(default=30)
    offers_remote = models.BooleanField(default=False)
    capacity_minutes_per_week = models.PositiveIntegerField()
    max_cases = models.PositiveIntegerField()
    municipalities = models.ManyToManyField(Municipality, related_name="providers")
    household = models.OneToOneField(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="provider",
        help_text=_("For respite families: the household where children stay."),
    )
    time_zone = models.CharField(max_length=40, default="Europe/Copenhagen")
    is_active = models.BooleanField(default=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(max_cases__gt=0), name="provider_max_cases_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.household_id and self.household.kind != HouseholdKind.RESPITE:
            raise ValidationError({"household": _("Only a respite household can be a provider's home.")})


class WeeklyAvailabilityQuerySet(models.QuerySet):
    def for_user(self, user) -> WeeklyAvailabilityQuerySet:
        return self.filter(
            Q(household__in=Household.objects.for_user(user)) | Q(provider__in=Provider.objects.for_user(user))
        )


WEEKDAY_ORDER = models.Case(
    *[models.When(day=code, then=models.Value(i)) for i, code in enumerate(WEEKDAYS)],
    output_field=models.IntegerField(),
)


class WeeklyAvailability(models.Model):
    """A weekly window of local wall-clock time, for a household or a provider (never both).

    Stored as minutes from midnight so that 24:00 (1440) is representable, as the spec allows.
    """

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.CASCADE, related_name="availability"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="availability"
    )
    day = models.CharField(max_length=3, choices=Weekday.choices)
    start_minute = models.PositiveSmallIntegerField(validators=[MaxValueValidator(1439)])
    end_minute = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(1440)])

    objects = WeeklyAvailabilityQuerySet.as_manager()

    class Meta:
        ordering = [WEEKDAY_ORDER.asc(), "start_minute"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(
                condition=(Q(household__isnull=False) & Q(provider__isnull=True))
                | (Q(household__isnull=True) & Q(provider__isnull=False)),
                name="availability_has_one_owner",
            ),
            models.CheckConstraint(condition=Q(start_minute__lt=models.F("end_minute")), name="availability_from_before_to"),
            models.CheckConstraint(condition=Q(end_minute__lte=1440), name="availability_within_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.as_spec()['from']}-{self.as_spec()['to']}"

    def as_spec(self) -> dict[str, str]:
        return {"day": self.day, "from": _hhmm(self.start_minute), "to": _hhmm(self.end_minute)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class ProviderAbsenceQuerySet(models.QuerySet):
    def for_user(self, user) -> ProviderAbsenceQuerySet:
        return self.filter(provider__in=Provider.objects.for_user(user))


class ProviderAbsence(models.Model):
    class Reason(models.TextChoices):
        VACATION = "vacation", _("Vacation")
        ILLNESS = "illness", _("Illness")
        COURSE = "course", _("Course")
        OTHER = "other", _("Other")

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.OTHER)

    objects = ProviderAbsenceQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=models.F("ends_at")), name="absence_starts_before_end"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} absent {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"


# --- Children and placements ----------------------------------------------------------------------------------


class ChildQuerySet(models.QuerySet):
    def for_user(self, user) -> ChildQuerySet:
        scope = scope_for(user)
        q = Q(municipality_id__in=scope.staff_municipality_ids)
        q |= Q(placements__foster_household_id__in=scope.foster_household_ids, placements__status="active")
        return self.filter(q).distinct()


class Child(models.Model):
    """A placed child, pseudonymous: a chosen name or initials, never a CPR number in clear.

    `cpr_hash` is a keyed HMAC of the CPR number (support.identity.hash_cpr), so a record can be
    found from a CPR number without the number being stored or shown.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="children")
    display_name = models.CharField(_("name or initials"), max_length=60)
    birth_date = models.DateField(_("birth date"))
    cpr_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ChildQuerySet.as_manager()

    class Meta:
        ordering = ["municipality", "display_name"]
        verbose_name_plural = _("children")

    def __str__(self) -> str:
        return self.display_name

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


class PlacementStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended as planned")
    BROKE_DOWN = "broke_down", _("Broke down (sammenbrud)")


class BreakdownReason(models.TextChoices):
    CHILD_BEHAVIOUR = "child_behaviour", _("Child's behaviour or emotional difficulties")
    FOSTER_FAMILY_ENDED = "foster_family_ended", _("Foster family could not continue")
    BIRTH_FAMILY_CONFLICT = "birth_family_conflict", _("Conflict with birth family")
    CHILD_REQUEST = "child_request", _("Child asked to move")
    SAFETY = "safety", _("Safety concern")
    OTHER = "other", _("Other")


class PlacementQuerySet(models.QuerySet):
    def for_user(self, user) -> PlacementQuerySet:
        scope = scope_for(user)
        q = Q(municipality_id__in=scope.staff_municipality_ids)
        # Foster parents see the placements in their home while they last, like the children in them.
        q |= Q(foster_household_id__in=scope.foster_household_ids, status=PlacementStatus.ACTIVE)
        return self.filter(q).distinct()

    def active(self) -> PlacementQuerySet:
        return self.filter(status=PlacementStatus.ACTIVE)


class Placement(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="placements")
    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="placements")
    foster_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="foster_placements",
        limit_choices_to={"kind": HouseholdKind.FOSTER},
    )
    institution_name = models.CharField(_("institution"), max_length=120, blank=True)
    birth_households = models.ManyToManyField(
        Household, blank=True, related_name="birth_placements", limit_choices_to={"kind": HouseholdKind.BIRTH}
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="placements"
    )
    starts_on = models.DateField(_("start"))
    planned_end_on = models.DateField(_("planned end"), null=True, blank=True)
    status = models.CharField(max_length=12, choices=PlacementStatus.choices, default=PlacementStatus.ACTIVE)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    breakdown_reason = models.CharField(max_length=30, choices=BreakdownReason.choices, blank=True)
    end_note = models.TextField(_("note on the ending"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PlacementQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(foster_household__isnull=False) | ~Q(institution_name=""),
                name="placement_has_a_home",
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(ended_on__isnull=True))
                | (~Q(status="active") & Q(ended_on__isnull=False)),
                name="placement_ended_on_iff_ended",
            ),
            models.CheckConstraint(
                condition=~Q(status="broke_down") | ~Q(breakdown_reason=""),
                name="placement_breakdown_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("starts_on")),
                name="placement_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.child} @ {self.foster_household or self.institution_name} from {self.starts_on}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.child_id and self.child.municipality_id != self.municipality_id:
            errors["child"] = _("The child belongs to another municipality.")
        if self.foster_household_id:
            home = self.foster_household
            if home.municipality_id != self.municipality_id:
                errors["foster_household"] = _("The foster household belongs to another municipality.")
            elif home.kind != HouseholdKind.FOSTER:
                errors["foster_household"] = _("A placement is in a foster household.")
            elif home.foster_type == FosterType.KOMMUNAL_LEGACY and self.starts_on and self.starts_on >= LEGACY_TYPE_ENDED:
                errors["foster_household"] = _("'Kommunal plejefamilie' was abolished on 1 July 2019; choose a current type.")
        if self.planned_end_on and self.planned_end_on < self.starts_on:
            errors["planned_end_on"] = _("The planned end is before the start.")
        if errors:
            raise ValidationError(errors)

    @property
    def is_active(self) -> bool:
        return self.status == PlacementStatus.ACTIVE


# --- Support needs ---------------------------------------------------------------------------------------------


class Recipient(models.TextChoices):
    FOSTER_HOUSEHOLD = "foster_household", _("Foster family")
    BIRTH_HOUSEHOLD = "birth_household", _("Birth parents")
    CHILD = "child", _("Child")


class NeedStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PROPOSED = "proposed", _("Proposed")
    ASSIGNED = "assigned", _("Assigned")
    ENDED = "ended", _("Ended")


class NeedOrigin(models.TextChoices):
    CONSULTANT = "consultant", _("Consultant's decision")
    ALERT = "alert", _("An alert")
    GOAL = "goal", _("A goal")


class SupportNeedQuerySet(models.QuerySet):
    def for_user(self, user) -> SupportNeedQuerySet:
        scope = scope_for(user)
        q = Q(municipality_id__in=scope.staff_municipality_ids)
        q |= Q(current_provider_id__in=scope.provider_ids, status=NeedStatus.ASSIGNED)
        q |= Q(recipient_household_id__in=scope.household_ids)
        return self.filter(q).distinct()

    def open(self) -> SupportNeedQuerySet:
        return self.filter(status=NeedStatus.OPEN)


class SupportNeed(models.Model):
    """Support a placement needs: who receives it, what kind, how much, and from whom (if decided)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="support_needs")
    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="support_needs")
    recipient = models.CharField(max_length=20, choices=Recipient.choices)
    recipient_household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="support_needs",
        help_text=_("Where the support happens: the foster household for the child and the foster family."),
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="support_needs")
    minutes_per_session = models.PositiveIntegerField()
    sessions_per_week = models.DecimalField(
        max_digits=5, decimal_places=3, help_text=_("0.25 = every 4 weeks, 0.5 = every 2 weeks, 2 = twice a week")
    )
    required_competences = models.ManyToManyField(Competence, blank=True, related_name="required_by")
    preferred_competences = models.ManyToManyField(Competence, blank=True, related_name="preferred_by")
    language = models.CharField(max_length=8, default="da")
    remote_ok = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 routine … 5 acute risk of breakdown"),
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    current_provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="support_needs"
    )
    excluded_providers = models.ManyToManyField(Provider, blank=True, related_name="excluded_from_needs")
    separate_from = models.ManyToManyField("self", blank=True, symmetrical=True)
    status = models.CharField(max_length=10, choices=NeedStatus.choices, default=NeedStatus.OPEN)
    origin = models.CharField(max_length=12, choices=NeedOrigin.choices, default=NeedOrigin.CONSULTANT)
    reason = models.TextField(_("why"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SupportNeedQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(sessions_per_week__gt=0), name="need_sessions_per_week_positive"),
            models.CheckConstraint(condition=Q(sessions_per_week__lte=14), name="need_sessions_per_week_sane"),
            models.CheckConstraint(condition=Q(minutes_per_session__gt=0), name="need_minutes_positive"),
            models.CheckConstraint(condition=Q(priority__gte=1) & Q(priority__lte=5), name="need_priority_1_5"),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="need_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status="assigned") | Q(current_provider__isnull=False),
                name="need_assigned_has_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} for {self.get_recipient_display()} ({self.placement.child})"

    @property
    def weekly_minutes(self) -> Decimal:
        return self.minutes_per_session * self.sessions_per_week


# --- Audit ---------------------------------------------------------------------------------------------------------


class AuditEntryQuerySet(models.QuerySet):
    def for_user(self, user) -> AuditEntryQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        return self.filter(municipality_id__in=scope.admin_municipality_ids)


class AuditEntry(models.Model):
    """Who did or read what, when and from where. Written by services; no API changes or deletes it."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    # PROTECT: a municipality's audit trail is never silently detached or lost.
    municipality = models.ForeignKey(Municipality, null=True, blank=True, on_delete=models.PROTECT)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ValidationError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit entries cannot be deleted.")


# --- Memberships (last: they point at most of the above) ------------------------------------------------------


class MembershipQuerySet(models.QuerySet):
    def for_user(self, user) -> MembershipQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        if not scope.roles:
            return self.none()
        return self.filter(
            Q(municipality_id__in=scope.staff_municipality_ids | scope.admin_municipality_ids) | Q(user=user)
        )


class Membership(models.Model):
    """Gives a user a role within a scope. The only source of roles and access."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    municipality = models.ForeignKey(
        Municipality, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role__in=["consultant", "team_lead"]) | Q(municipality__isnull=False),
                name="membership_staff_have_municipality",
            ),
            models.CheckConstraint(
                condition=~Q(role__in=["foster_parent", "birth_parent"]) | Q(household__isnull=False),
                name="membership_parents_have_household",
            ),
            models.CheckConstraint(
                condition=~Q(role="provider") | Q(provider__isnull=False), name="membership_provider_has_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role}"

    def save(self, *args, **kwargs) -> None:
        # Parents' memberships take the municipality of their household, so scoping by municipality works.
        if self.household_id and not self.municipality_id:
            self.municipality_id = self.household.municipality_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.role in (Role.CONSULTANT, Role.TEAM_LEAD) and not self.municipality_id:
            errors["municipality"] = _("Consultants and team leads belong to a municipality.")
        if self.team_id and self.team.municipality_id != self.municipality_id:
            errors["team"] = _("The team belongs to another municipality.")
        if self.role == Role.FOSTER_PARENT and (not self.household_id or self.household.kind != HouseholdKind.FOSTER):
            errors["household"] = _("A foster parent belongs to a foster household.")
        if self.role == Role.BIRTH_PARENT and (not self.household_id or self.household.kind != HouseholdKind.BIRTH):
            errors["household"] = _("A birth parent belongs to a birth-parent household.")
        if self.role == Role.PROVIDER and not self.provider_id:
            errors["provider"] = _("A provider membership names the provider.")
        if errors:
            raise ValidationError(errors)
