"""Input and output shapes. No rules here: inputs are handed to support services, outputs only read.

Two patterns carry the scoping into bodies:

* `ScopedPrimaryKeyRelatedField` resolves an id only among the rows the caller may write
  against, so naming another municipality's row answers 400 on that field ("not found among
  the records you can use"), whether or not the row exists.
* `AudienceMixin` nulls the fields meant for the municipality's staff when someone else
  (a family, a provider) reads the row; those fields are documented as nullable and say so.
"""

from __future__ import annotations

import math

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import scoping
from support.models import (
    AuditEntry,
    BreakdownReason,
    Child,
    Competence,
    FosterType,
    Household,
    HouseholdKind,
    Membership,
    Municipality,
    NeedOrigin,
    Placement,
    Provider,
    ProviderAbsence,
    Recipient,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)
from support.roles import Role, scope_for

STAFF_ONLY = "Staff of the municipality only; null for other readers."
MAX_INT = 2**31 - 1  # the database column's range; the services check the meaningful one


@extend_schema_field(OpenApiTypes.INT)
class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id resolved in `scope(user)`, e.g. scoping.writable_households."""

    default_error_messages = {
        "does_not_exist": _("Not found among the records you can use (id {pk_value})."),
    }

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.scope(self.context["request"].user)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except OverflowError:  # SQLite raises for integers beyond 64 bits instead of finding nothing
            self.fail("does_not_exist", pk_value=data)


class AudienceMixin:
    """Fields marked "staff only" are null unless you are staff in the row's municipality."""

    staff_only: tuple[str, ...] = ()

    def reader_is_staff(self, obj) -> bool:
        raise NotImplementedError

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if not self.reader_is_staff(obj):
            for name in self.staff_only:
                data[name] = None
        return data

    @property
    def scope(self):
        return scope_for(self.context["request"].user)


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: "NaN" and "Infinity" pass FloatField and range checks, then break JSON."""

    default_error_messages = {"not_finite": _("A finite number is required.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


class InputSerializer(serializers.ModelSerializer):
    """A ModelSerializer used only to read input (its fields come from the model; it never saves)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.FloatField: FiniteFloatField,
    }


def stored_email(**kwargs) -> serializers.CharField:
    """An e-mail address as stored, for output: empty when none is on file (which the "email" format
    of an EmailField would call invalid)."""
    kwargs.setdefault("help_text", "An e-mail address, or empty when none is on file.")
    return serializers.CharField(**kwargs)


class LanguagesField(serializers.ListField):
    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(min_length=2, max_length=8))
        kwargs.setdefault("help_text", "Language codes such as 'da' or 'en'.")
        super().__init__(**kwargs)


# --- Configuration -------------------------------------------------------------------------------------


class MunicipalitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Municipality
        fields = ["id", "code", "name"]
        read_only_fields = fields


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "municipality", "name"]
        read_only_fields = fields


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "code", "name_da", "name_en"]
        read_only_fields = fields


class CompetenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Competence
        fields = ["id", "code", "name_da", "name_en"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "municipality", "team", "household", "provider", "created_at"]
        read_only_fields = fields


class AuditEntrySerializer(serializers.ModelSerializer):
    """Who did or read what, when and from where."""

    details = serializers.DictField(read_only=True, help_text="Ids and field names; never CPR numbers or case text.")

    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "actor", "actor_label", "action", "object_type", "object_id", "municipality", "ip", "details",
        ]
        read_only_fields = fields


# --- Who am I -------------------------------------------------------------------------------------------


class MeMunicipalitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))


class MeTeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    municipality = serializers.IntegerField()


class MeHouseholdSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=HouseholdKind.choices)
    municipality = serializers.IntegerField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))


class MeProviderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    email = stored_email()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices))
    is_global_administrator = serializers.BooleanField(
        help_text="An administrator membership without a municipality: configuration everywhere, no case content."
    )
    municipalities = MeMunicipalitySerializer(many=True, help_text="Where you have a role, with those roles.")
    teams = MeTeamSerializer(many=True)
    households = MeHouseholdSerializer(many=True, help_text="The households you are a parent in.")
    providers = MeProviderSerializer(many=True, help_text="The providers you act for.")


def me_payload(user, memberships) -> dict:
    """The caller and their memberships, grouped by what they give access to."""
    scope = scope_for(user)
    municipalities: dict[int, dict] = {}
    teams: dict[int, dict] = {}
    households: dict[int, dict] = {}
    providers: dict[int, dict] = {}
    for m in memberships:
        if m.municipality_id:
            entry = municipalities.setdefault(
                m.municipality_id,
                {"id": m.municipality_id, "code": m.municipality.code, "name": m.municipality.name, "roles": []},
            )
            entry["roles"].append(m.role)
        if m.team_id:
            teams[m.team_id] = {"id": m.team_id, "name": m.team.name, "municipality": m.team.municipality_id}
        if m.household_id:
            h = m.household
            entry = households.setdefault(
                h.id, {"id": h.id, "name": h.name, "kind": h.kind, "municipality": h.municipality_id, "roles": []}
            )
            entry["roles"].append(m.role)
        if m.provider_id:
            providers[m.provider_id] = {"id": m.provider_id, "name": m.provider.name}
    return {
        "id": user.pk,
        "username": user.get_username(),
        "full_name": user.get_full_name(),
        "email": user.email,
        "roles": sorted(scope.roles),
        "is_global_administrator": scope.is_global_admin,
        "municipalities": sorted(municipalities.values(), key=lambda e: e["code"]),
        "teams": sorted(teams.values(), key=lambda e: e["id"]),
        "households": sorted(households.values(), key=lambda e: e["id"]),
        "providers": sorted(providers.values(), key=lambda e: e["id"]),
    }


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


# --- Households -------------------------------------------------------------------------------------------

HOUSEHOLD_FIELDS = [
    "name", "foster_type", "approved_places", "street", "postcode", "city", "latitude", "longitude", "languages",
    "time_zone", "email",
]


class HouseholdSerializer(serializers.ModelSerializer):
    foster_type = serializers.ChoiceField(choices=FosterType.choices, allow_blank=True, read_only=True)
    languages = LanguagesField(read_only=True)
    email = stored_email(read_only=True, help_text="For invitations; empty when none is on file.")

    class Meta:
        model = Household
        fields = ["id", "municipality", "kind", *HOUSEHOLD_FIELDS, "created_at"]
        read_only_fields = fields


class HouseholdUpdateSerializer(InputSerializer):
    """Municipality and kind are fixed once a household exists."""

    languages = LanguagesField(required=False)

    class Meta:
        model = Household
        fields = HOUSEHOLD_FIELDS


class HouseholdCreateSerializer(HouseholdUpdateSerializer):
    municipality = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_municipalities, help_text="A municipality where you are a consultant."
    )

    class Meta(HouseholdUpdateSerializer.Meta):
        fields = ["municipality", "kind", *HOUSEHOLD_FIELDS]


# --- Children ----------------------------------------------------------------------------------------------


class ChildSerializer(serializers.ModelSerializer):
    has_cpr = serializers.SerializerMethodField(help_text="Whether a CPR number is on file (it is never shown).")

    class Meta:
        model = Child
        fields = ["id", "municipality", "display_name", "birth_date", "has_cpr", "created_at"]
        read_only_fields = fields

    def get_has_cpr(self, obj) -> bool:
        return bool(obj.cpr_hash)


class ChildUpdateSerializer(InputSerializer):
    cpr = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=11,
        help_text="DDMMYY-SSSS. Stored only as a keyed hash; never returned.",
    )

    class Meta:
        model = Child
        fields = ["display_name", "birth_date", "cpr"]


class ChildCreateSerializer(ChildUpdateSerializer):
    municipality = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_municipalities, help_text="A municipality where you are a consultant."
    )

    class Meta(ChildUpdateSerializer.Meta):
        fields = ["municipality", "display_name", "birth_date", "cpr"]


# --- Placements ----------------------------------------------------------------------------------------------


class PlacementSerializer(serializers.ModelSerializer):
    """A child's placement with a foster household or an institution."""

    child_name = serializers.CharField(source="child.display_name", read_only=True)
    breakdown_reason = serializers.ChoiceField(
        choices=BreakdownReason.choices, allow_blank=True, read_only=True, help_text="Set when it broke down."
    )

    class Meta:
        model = Placement
        fields = [
            "id", "municipality", "child", "child_name", "foster_household", "institution_name", "birth_households",
            "consultant", "starts_on", "planned_end_on", "status", "ended_on", "breakdown_reason", "end_note",
            "created_at",
        ]
        read_only_fields = fields


class PlacementUpdateSerializer(serializers.Serializer):
    foster_household = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_households, required=False, allow_null=True,
        help_text="A foster household in the child's municipality; or give institution_name.",
    )
    institution_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    birth_households = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_households, many=True, required=False,
        help_text="Birth-parent households in the same municipality.",
    )
    consultant = ScopedPrimaryKeyRelatedField(
        scope=scoping.assignable_consultants, required=False, allow_null=True,
        help_text="A consultant in the placement's municipality.",
    )
    starts_on = serializers.DateField(required=False)
    planned_end_on = serializers.DateField(required=False, allow_null=True)


class PlacementCreateSerializer(PlacementUpdateSerializer):
    child = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_children, help_text="The child; the placement belongs to the child's municipality."
    )
    starts_on = serializers.DateField()
    consultant = ScopedPrimaryKeyRelatedField(
        scope=scoping.assignable_consultants, required=False, allow_null=True,
        help_text="A consultant in the placement's municipality. Default: you.",
    )


class PlacementEndSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="The day the placement ended.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PlacementBreakdownSerializer(PlacementEndSerializer):
    reason = serializers.ChoiceField(choices=BreakdownReason.choices)


# --- Providers -------------------------------------------------------------------------------------------------

PROVIDER_STAFF_ONLY = ("latitude", "longitude", "max_travel_km", "capacity_minutes_per_week", "max_cases")


class ProviderSerializer(AudienceMixin, serializers.ModelSerializer):
    """Families who receive a provider's support see how to reach them, not where they live or their capacity."""

    services = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    competences = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    languages = LanguagesField(read_only=True)
    email = stored_email(read_only=True)
    latitude = serializers.FloatField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    longitude = serializers.FloatField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    max_travel_km = serializers.IntegerField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    capacity_minutes_per_week = serializers.IntegerField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    max_cases = serializers.IntegerField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    staff_only = PROVIDER_STAFF_ONLY

    class Meta:
        model = Provider
        fields = [
            "id", "kind", "name", "email", "phone", "services", "competences", "languages", "latitude", "longitude",
            "max_travel_km", "offers_remote", "capacity_minutes_per_week", "max_cases", "municipalities",
            "household", "time_zone", "is_active",
        ]
        read_only_fields = fields

    def reader_is_staff(self, obj) -> bool:
        scope = self.scope
        if scope.is_global_admin or obj.pk in scope.provider_ids:
            return True
        served = {m.pk for m in obj.municipalities.all()}
        return bool(served & (scope.staff_municipality_ids | scope.admin_municipality_ids))


class ProviderUpdateSerializer(InputSerializer):
    services = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Service.objects.all(), required=False, help_text="Service codes."
    )
    competences = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Competence.objects.all(), required=False,
        help_text="Competence codes.",
    )
    municipalities = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_municipalities, many=True, required=False,
        help_text="Which of your municipalities the provider serves. Other municipalities' links are kept.",
    )
    languages = LanguagesField(required=False)

    class Meta:
        model = Provider
        fields = [
            "kind", "name", "email", "phone", "services", "competences", "languages", "latitude", "longitude",
            "max_travel_km", "offers_remote", "capacity_minutes_per_week", "max_cases", "municipalities",
            "time_zone", "is_active",
        ]


class ProviderCreateSerializer(ProviderUpdateSerializer):
    services = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Service.objects.all(), help_text="Service codes."
    )
    municipalities = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_municipalities, many=True,
        help_text="Municipalities where you are a consultant.",
    )


# --- Availability and absences ------------------------------------------------------------------------------


class WeeklyAvailabilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = WeeklyAvailability
        fields = ["id", "household", "provider", "day", "start_minute", "end_minute"]
        read_only_fields = fields
        extra_kwargs = {
            "start_minute": {"help_text": "Minutes after local midnight (0-1439)."},
            "end_minute": {"help_text": "Minutes after local midnight (1-1440; 1440 is 24:00)."},
        }


class ProviderAbsenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderAbsence
        fields = ["id", "provider", "starts_at", "ends_at", "reason"]
        read_only_fields = fields


# --- Support needs -------------------------------------------------------------------------------------------


class SupportNeedSerializer(AudienceMixin, serializers.ModelSerializer):
    """Providers and families see what the support is, where and when; not the case behind it."""

    service = serializers.SlugRelatedField(slug_field="code", read_only=True)
    required_competences = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    preferred_competences = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    placement = serializers.IntegerField(source="placement_id", read_only=True, allow_null=True, help_text=STAFF_ONLY)
    child = serializers.IntegerField(source="placement.child_id", read_only=True, allow_null=True, help_text=STAFF_ONLY)
    priority = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="1 routine … 5 acute risk of breakdown. " + STAFF_ONLY
    )
    excluded_providers = serializers.SerializerMethodField(help_text="Provider ids. " + STAFF_ONLY)
    separate_from = serializers.SerializerMethodField(
        help_text="Needs that must have a different provider. " + STAFF_ONLY
    )
    origin = serializers.ChoiceField(choices=NeedOrigin.choices, read_only=True, allow_null=True, help_text=STAFF_ONLY)
    reason = serializers.CharField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True, help_text=STAFF_ONLY)
    staff_only = (
        "placement", "child", "priority", "excluded_providers", "separate_from", "origin", "reason", "created_by",
    )

    class Meta:
        model = SupportNeed
        fields = [
            "id", "municipality", "placement", "child", "recipient", "recipient_household", "service",
            "minutes_per_session", "sessions_per_week", "required_competences", "preferred_competences", "language",
            "remote_ok", "priority", "starts_on", "ends_on", "current_provider", "excluded_providers",
            "separate_from", "status", "origin", "reason", "created_by", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def reader_is_staff(self, obj) -> bool:
        return obj.municipality_id in self.scope.staff_municipality_ids

    def get_excluded_providers(self, obj) -> list[int] | None:
        return [p.pk for p in obj.excluded_providers.all()]

    def get_separate_from(self, obj) -> list[int] | None:
        return [n.pk for n in obj.separate_from.all()]


class SupportNeedCreateSerializer(serializers.Serializer):
    """A new support need for an active placement. Every rule is checked when it is created; a broken rule
    answers 400 naming the field."""

    placement = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_placements, help_text="An active placement in a municipality where you are a consultant."
    )
    recipient = serializers.ChoiceField(choices=Recipient.choices)
    recipient_household = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_households, required=False, allow_null=True,
        help_text="For a birth-household recipient when the placement has several; otherwise derived.",
    )
    service = serializers.CharField(max_length=40, help_text="A service code, e.g. supervision.")
    minutes_per_session = serializers.IntegerField(max_value=MAX_INT, help_text="Whole minutes, more than 0.")
    sessions_per_week = serializers.DecimalField(
        max_digits=6, decimal_places=3, help_text="0.25 = every 4 weeks, 0.5 = every 2 weeks, 2 = twice a week (≤ 14)."
    )
    required_competences = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text="Competence codes."
    )
    preferred_competences = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text="Competence codes."
    )
    language = serializers.CharField(max_length=8, required=False, default="da")
    remote_ok = serializers.BooleanField(required=False, default=False)
    priority = serializers.IntegerField(required=False, default=3, help_text="1 routine … 5 acute risk of breakdown.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)
    origin = serializers.ChoiceField(choices=NeedOrigin.choices, required=False, default=NeedOrigin.CONSULTANT)
    reason = serializers.CharField(required=False, allow_blank=True, default="")

