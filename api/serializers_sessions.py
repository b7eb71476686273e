"""Shapes for session series, occurrences, their history, meetings and provider absences.

Output serializers decide what each reader learns: staff of the series' municipality see
everything; the families and the provider see when and where, not the case behind it. Child
names go to staff and to the foster parents the support is for, never to a provider or to birth
parents (who cannot read the child record either). Free text written by staff (reasons, titles,
history details) is for staff only. Fields hidden from a reader are null, as in
``api.serializers.SupportNeedSerializer``.

Input serializers check shapes and ranges; every rule is the service's (scheduler.services).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import scoping
from api.serializers import STAFF_ONLY, ScopedPrimaryKeyRelatedField
from calendars.events import meeting_place
from scheduler.models import (
    Meeting,
    MeetingKind,
    MeetingParticipant,
    ParticipantRole,
    SeriesChange,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.services.meetings import MAX_DURATION_MINUTES
from support.models import Household, NeedStatus, Provider, ProviderAbsence, SupportNeed
from support.roles import scope_for

CHILD_READERS = "Staff of the municipality and the foster parents receiving the support; null for other readers."
WEEKDAYS_HELP = "0 = Monday … 6 = Sunday."


def _scope(serializer):
    return scope_for(serializer.context["request"].user)


def _address(household: Household | None) -> str:
    if household is None:
        return ""
    town = f"{household.postcode} {household.city}".strip()
    return ", ".join(part for part in (household.street, town) if part) or household.name


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- Series -----------------------------------------------------------------------------------------------


class SessionSeriesSerializer(serializers.ModelSerializer):
    """A recurring appointment (RFC 5545 rule in local time) and where it takes place."""

    service = serializers.SlugRelatedField(source="need.service", slug_field="code", read_only=True,
                                           help_text="The service code, e.g. supervision or respite.")
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    household_name = serializers.CharField(source="household.name", read_only=True,
                                           help_text="The household receiving the support.")
    host_household_name = serializers.CharField(
        source="host_household.name", read_only=True, allow_null=True,
        help_text="Respite only: the respite household where the child stays.",
    )
    address = serializers.SerializerMethodField(
        help_text="Where in-person sessions take place (the respite household for respite); null when remote."
    )
    child = serializers.IntegerField(source="child_id", read_only=True, allow_null=True, help_text=CHILD_READERS)
    child_name = serializers.CharField(source="child.display_name", read_only=True, allow_null=True,
                                       help_text=CHILD_READERS)
    start_time = serializers.SerializerMethodField(help_text="Local start time (HH:MM) in `time_zone`.")
    duration_minutes = serializers.SerializerMethodField(help_text="Length of one occurrence in minutes.")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), read_only=True,
                                     help_text=WEEKDAYS_HELP)
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                               help_text=STAFF_ONLY)
    confirmed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                                help_text=STAFF_ONLY)
    need = serializers.IntegerField(source="need_id", read_only=True, help_text="The support need (assignment).")
    previous = serializers.IntegerField(source="previous_id", read_only=True, allow_null=True,
                                        help_text="The series this one continues after a change from a date on.")
    staff_only = ("proposed_by", "confirmed_by")

    class Meta:
        model = SessionSeries
        fields = [
            "id", "uid", "municipality", "kind", "status", "need", "service", "provider", "provider_name",
            "household", "household_name", "host_household", "host_household_name", "address", "child",
            "child_name", "children", "remote", "time_zone", "first_date", "start_time", "duration_minutes",
            "weekdays", "interval_weeks", "until", "rrule", "sequence", "previous", "proposed_by", "confirmed_by",
            "confirmed_at", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_address(self, obj: SessionSeries) -> str | None:
        if obj.remote:
            return None
        return _address(obj.host_household if obj.is_respite else obj.household)

    def get_start_time(self, obj: SessionSeries) -> str:
        return _hhmm(obj.start_minute)

    def get_duration_minutes(self, obj: SessionSeries) -> int:
        return int(obj.duration.total_seconds() // 60)

    def to_representation(self, obj):
        data = super().to_representation(obj)
        scope = _scope(self)
        staff = obj.municipality_id in scope.staff_municipality_ids
        if not staff:
            for name in self.staff_only:
                data[name] = None
        if not (staff or obj.household_id in scope.foster_household_ids):
            data["child"] = data["child_name"] = None
        return data


class SeriesChangeSerializer(serializers.ModelSerializer):
    """One change to a series or one of its occurrences: who, when, why and what."""

    by_label = serializers.CharField(read_only=True, allow_null=True, help_text="Who made the change. " + STAFF_ONLY)
    reason = serializers.CharField(read_only=True, allow_null=True, help_text="Why. " + STAFF_ONLY)
    details = serializers.DictField(read_only=True, allow_null=True,
                                    help_text="What changed (times, rules, counts). " + STAFF_ONLY)
    occurrence = serializers.IntegerField(source="occurrence_id", read_only=True, allow_null=True,
                                          help_text="The occurrence the change concerns, if one.")

    class Meta:
        model = SeriesChange
        fields = ["id", "series", "occurrence", "action", "at", "by_label", "reason", "sequence", "details"]
        read_only_fields = fields

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if obj.series.municipality_id not in _scope(self).staff_municipality_ids:
            data["by_label"] = data["reason"] = data["details"] = None
        return data


# --- Occurrences ----------------------------------------------------------------------------------------


class SessionOccurrenceSerializer(serializers.ModelSerializer):
    """One session or respite weekend. `original_start` is its RECURRENCE-ID, kept when it moves."""

    recurrence_id = serializers.CharField(read_only=True, help_text="iCalendar RECURRENCE-ID (UTC).")
    kind = serializers.CharField(source="series.kind", read_only=True, help_text="sessions or respite.")
    provider = serializers.IntegerField(source="series.provider_id", read_only=True)
    household = serializers.IntegerField(source="series.household_id", read_only=True,
                                         help_text="The household receiving the support.")
    remote = serializers.BooleanField(source="series.remote", read_only=True)
    reason = serializers.CharField(read_only=True, allow_null=True,
                                   help_text="Why it was cancelled, skipped or moved. " + STAFF_ONLY)
    flag_reason = serializers.CharField(read_only=True, allow_null=True,
                                        help_text="Why it needs attention (an absence). " + STAFF_ONLY)
    proposed_start = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="After an absence: the replacement proposed, if any."
    )
    proposed_end = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = SessionOccurrence
        fields = [
            "id", "series", "kind", "provider", "household", "remote", "recurrence_id", "original_start", "start",
            "end", "status", "reason", "place", "sequence", "needs_attention", "flag_reason", "proposed_start",
            "proposed_end", "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if obj.series.municipality_id not in _scope(self).staff_municipality_ids:
            data["reason"] = data["flag_reason"] = None
        return data


# --- Meetings ------------------------------------------------------------------------------------------------


class ParticipantSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True, allow_null=True,
                                  help_text="Who it is: for staff, and for yourself; null for others.")
    you = serializers.SerializerMethodField(help_text="This participant is you (or your household or practice).")

    class Meta:
        model = MeetingParticipant
        fields = ["role", "label", "required", "attending", "you"]
        read_only_fields = fields

    def _is_you(self, obj: MeetingParticipant) -> bool:
        scope = _scope(self)
        user = self.context["request"].user
        return bool(
            (obj.user_id and obj.user_id == user.pk)
            or (obj.household_id and obj.household_id in scope.household_ids)
            or (obj.provider_id and obj.provider_id in scope.provider_ids)
        )

    def get_you(self, obj: MeetingParticipant) -> bool:
        return self._is_you(obj)

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if not (self.context.get("reader_is_staff") or data["you"]):
            data["label"] = None
        return data


class MeetingSerializer(serializers.ModelSerializer):
    """A start-up or follow-up meeting about a placement and who is invited."""

    placement = serializers.IntegerField(source="placement_id", read_only=True, allow_null=True, help_text=STAFF_ONLY)
    title = serializers.CharField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    reason = serializers.CharField(read_only=True, allow_null=True,
                                   help_text="Why it was cancelled or last moved. " + STAFF_ONLY)
    flag_reason = serializers.CharField(read_only=True, allow_null=True, help_text=STAFF_ONLY)
    online = serializers.SerializerMethodField(help_text="True when the meeting is online (no place).")
    place_name = serializers.SerializerMethodField(
        help_text="Where it is held. The birth family is told the address only of a meeting in their own home; "
                  "otherwise it says that the consultant will tell them."
    )
    participants = serializers.SerializerMethodField(help_text="Everyone invited; labels for staff and yourself.")
    staff_only = ("placement", "title", "reason", "flag_reason")

    class Meta:
        model = Meeting
        fields = [
            "id", "uid", "municipality", "placement", "kind", "title", "start", "end", "online", "place_name",
            "status", "reason", "sequence", "needs_attention", "flag_reason", "participants", "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _staff(self, obj: Meeting) -> bool:
        return obj.municipality_id in _scope(self).staff_municipality_ids

    def get_online(self, obj: Meeting) -> bool:
        return obj.latitude is None

    def get_place_name(self, obj: Meeting) -> str:
        if obj.latitude is None:
            return ""
        scope = _scope(self)
        if self._staff(obj) or not scope.birth_household_ids:
            return obj.place_name
        # Someone in the birth family, unless they are also at this meeting as its foster family or provider.
        other_part = any(
            p.household_id in scope.foster_household_ids or p.provider_id in scope.provider_ids
            for p in obj.participants.all()
        )
        if other_part:
            return obj.place_name
        return meeting_place(obj, language=(get_language() or "da")[:2], birth_household_ids=scope.birth_household_ids)

    @extend_schema_field(ParticipantSerializer(many=True))
    def get_participants(self, obj: Meeting):
        context = {**self.context, "reader_is_staff": self._staff(obj)}
        return ParticipantSerializer(obj.participants.all(), many=True, context=context).data

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if not self._staff(obj):
            for name in self.staff_only:
                data[name] = None
        return data


class InviteeSerializer(serializers.Serializer):
    party = serializers.CharField(help_text="The party's key, e.g. user:7, household:5, provider:12, child:3.")
    role = serializers.ChoiceField(choices=ParticipantRole.choices)
    label = serializers.CharField()
    required = serializers.BooleanField()


class UnavailableSerializer(serializers.Serializer):
    party = serializers.CharField()
    label = serializers.CharField()
    required = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=[("closed", "closed"), ("outside_availability", "outside_availability"), ("absent", "absent"),
                 ("busy", "busy"), ("travel", "travel")],
        help_text="closed (holiday), outside_availability, absent, busy or travel (too little travel time).",
    )
    detail = serializers.CharField(allow_blank=True)


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    available = serializers.ListField(child=serializers.CharField(), help_text="Party keys of those who can come.")
    unavailable = UnavailableSerializer(many=True, help_text="Who cannot come, and why.")


class MeetingSearchResultSerializer(serializers.Serializer):
    found = serializers.BooleanField(help_text="True when a slot suits every required invitee.")
    message = serializers.CharField(allow_blank=True)
    slot = SlotSerializer(allow_null=True, help_text="The earliest slot every required invitee can keep.")
    alternatives = SlotSerializer(many=True, help_text="Ranked: fewest required missing, then optional, then earliest.")
    invitees = InviteeSerializer(many=True)


def search_payload(search) -> dict:
    """The service's ``MeetingSearch`` as plain data for ``MeetingSearchResultSerializer``."""
    invitees = {i.party: i for i in search.invitees}

    def slot(s):
        return {
            "start": s.interval.start, "end": s.interval.end, "available": list(s.available),
            "unavailable": [
                {"party": u.party_id, "label": invitees[u.party_id].label if u.party_id in invitees else u.party_id,
                 "required": u.required, "reason": u.reason, "detail": u.detail}
                for u in s.unavailable
            ],
        }

    result = search.result
    return {
        "found": result.found, "message": result.message, "slot": slot(result.slot) if result.slot else None,
        "alternatives": [slot(a) for a in result.alternatives],
        "invitees": [{"party": i.party, "role": i.role, "label": i.label, "required": i.required}
                     for i in search.invitees],
    }


# --- Input --------------------------------------------------------------------------------------------------


def schedulable_needs(user):
    """Accepted assignments in municipalities where the caller is a consultant."""
    return SupportNeed.objects.for_user(user).filter(
        municipality_id__in=scoping.consultant_municipality_ids(user), status=NeedStatus.ASSIGNED
    )


def absence_providers(user):
    """Providers whose absence the caller may record: serving their municipality, or themselves."""
    scope = scope_for(user)
    return Provider.objects.for_user(user).filter(
        Q(municipalities__id__in=scoping.consultant_municipality_ids(user)) | Q(id__in=scope.provider_ids)
    ).distinct()


def _reason(label: str):
    return serializers.CharField(max_length=2000, help_text=label + " Kept in the history.")


class ProposeSeriesSerializer(serializers.Serializer):
    need = ScopedPrimaryKeyRelatedField(
        scope=schedulable_needs, help_text="An accepted assignment (need `assigned`) where you are a consultant."
    )
    start_date = serializers.DateField(required=False, allow_null=True,
                                       help_text="Not before this date (default: the need's start, never before today).")
    end_date = serializers.DateField(required=False, allow_null=True, help_text="Last date (default: the need's end).")
    remote = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text="true: remote; false: in person; null: decided by distance.")

    def validate(self, attrs):
        if attrs.get("start_date") and attrs.get("end_date") and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": [_("The end date must be on or after the start date.")]})
        return attrs


class ProposeRespiteSerializer(serializers.Serializer):
    need = ScopedPrimaryKeyRelatedField(
        scope=schedulable_needs, help_text="An accepted respite assignment where you are a consultant."
    )
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    every_weeks = serializers.IntegerField(min_value=1, max_value=52, required=False, allow_null=True,
                                           help_text="A block every N weeks (default: from the need's frequency).")
    start_day = serializers.IntegerField(min_value=0, max_value=6, default=4, help_text=WEEKDAYS_HELP + " Default Friday.")
    start_time = serializers.TimeField(default=dt.time(16), help_text="Default 16:00.")
    end_day = serializers.IntegerField(min_value=0, max_value=6, default=6, help_text=WEEKDAYS_HELP + " Default Sunday.")
    end_time = serializers.TimeField(default=dt.time(18), help_text="Default 18:00.")
    children = serializers.IntegerField(min_value=1, max_value=20, default=1, help_text="Places one block takes.")

    def validate(self, attrs):
        if attrs.get("start_date") and attrs.get("end_date") and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": [_("The end date must be on or after the start date.")]})
        return attrs


class ReasonSerializer(serializers.Serializer):
    reason = _reason("Why.")


class ChangeFromSerializer(serializers.Serializer):
    from_date = serializers.DateField(help_text="The first local date the change applies to (today or later).")
    start_time = serializers.TimeField(required=False, allow_null=True, help_text="New local start time.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, allow_null=True, min_length=1,
        max_length=7, help_text="New weekdays. " + WEEKDAYS_HELP,
    )
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False, allow_null=True)
    interval_weeks = serializers.IntegerField(min_value=1, max_value=52, required=False, allow_null=True)
    reason = _reason("Why the series changes.")

    def validate_weekdays(self, value):
        if value is not None and len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each weekday only once."))
        return value

    def validate(self, attrs):
        changes = ("start_time", "weekdays", "duration_minutes", "interval_weeks")
        if all(attrs.get(name) is None for name in changes):
            raise serializers.ValidationError(_("Say what changes: start_time, weekdays, duration_minutes or "
                                                "interval_weeks."))
        return attrs


class EndSeriesSerializer(serializers.Serializer):
    last_date = serializers.DateField(help_text="The last local date with sessions (yesterday or later).")
    reason = _reason("Why the series ends.")


class MoveOccurrenceSerializer(serializers.Serializer):
    new_start = serializers.DateTimeField(help_text="ISO 8601 with offset; a time without one is Copenhagen time.")
    new_end = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: the same length.")
    reason = _reason("Why it moves.")

    def validate(self, attrs):
        if attrs.get("new_end") is not None and attrs["new_end"] <= attrs["new_start"]:
            raise serializers.ValidationError({"new_end": [_("The new end must be after the new start.")]})
        return attrs


class MeetingSearchSerializer(serializers.Serializer):
    placement = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_placements, help_text="A placement in a municipality where you are a consultant."
    )
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MINUTES, default=60)
    include_child = serializers.BooleanField(default=False, help_text="Invite the child (optional unless required).")
    child_required = serializers.BooleanField(default=False)
    in_person_at = ScopedPrimaryKeyRelatedField(
        scope=lambda user: Household.objects.for_user(user), required=False, allow_null=True,
        help_text="The household where the meeting takes place; null: online.",
    )
    max_alternatives = serializers.IntegerField(min_value=0, max_value=20, default=5)

    def validate(self, attrs):
        if attrs["window_end"] <= attrs["window_start"]:
            raise serializers.ValidationError({"window_end": [_("The window must end after it starts.")]})
        if attrs["window_end"] - attrs["window_start"] > dt.timedelta(days=92):
            raise serializers.ValidationError({"window_end": [_("Search at most three months at a time.")]})
        return attrs


class MeetingCreateSerializer(serializers.Serializer):
    placement = ScopedPrimaryKeyRelatedField(
        scope=scoping.writable_placements, help_text="A placement in a municipality where you are a consultant."
    )
    kind = serializers.ChoiceField(choices=MeetingKind.choices)
    start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MINUTES, default=60)
    include_child = serializers.BooleanField(default=False)
    child_required = serializers.BooleanField(default=False)
    in_person_at = ScopedPrimaryKeyRelatedField(
        scope=lambda user: Household.objects.for_user(user), required=False, allow_null=True,
        help_text="The household where the meeting takes place; null: online.",
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    allow_missing = serializers.BooleanField(
        default=False, help_text="Book even if a required invitee is busy (they are kept as not attending)."
    )


class MeetingMoveSerializer(serializers.Serializer):
    new_start = serializers.DateTimeField()
    reason = _reason("Why it moves.")
    allow_missing = serializers.BooleanField(default=False)


class ProviderAbsenceCreateSerializer(serializers.Serializer):
    provider = ScopedPrimaryKeyRelatedField(
        scope=absence_providers, help_text="A provider serving a municipality where you are a consultant, or yourself."
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.ChoiceField(choices=ProviderAbsence.Reason.choices, default=ProviderAbsence.Reason.OTHER)

    def validate(self, attrs):
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": [_("The absence must end after it starts.")]})
        return attrs


class ProviderAbsenceRecordedSerializer(serializers.ModelSerializer):
    flagged_occurrences = serializers.ListField(
        child=serializers.IntegerField(), read_only=True,
        help_text="Occurrences (that you can see) flagged with a proposed replacement.",
    )
    flagged_meetings = serializers.ListField(child=serializers.IntegerField(), read_only=True,
                                             help_text="Meetings (that you can see) flagged.")

    class Meta:
        model = ProviderAbsence
        fields = ["id", "provider", "starts_at", "ends_at", "reason", "flagged_occurrences", "flagged_meetings"]
        read_only_fields = fields


__all__ = [
    "ChangeFromSerializer",
    "EndSeriesSerializer",
    "MeetingCreateSerializer",
    "MeetingMoveSerializer",
    "MeetingSearchResultSerializer",
    "MeetingSearchSerializer",
    "MeetingSerializer",
    "MoveOccurrenceSerializer",
    "ProposeRespiteSerializer",
    "ProposeSeriesSerializer",
    "ProviderAbsenceCreateSerializer",
    "ProviderAbsenceRecordedSerializer",
    "ReasonSerializer",
    "SeriesChangeSerializer",
    "SessionOccurrenceSerializer",
    "SessionSeriesSerializer",
    "absence_providers",
    "schedulable_needs",
    "search_payload",
]
