"""Session series, occurrences, their history, meetings and provider absences over HTTP.

Who reads what (docs/permissions.md):

* consultants and team leads: their municipality's series, occurrences and meetings; only
  consultants change them (team leads read);
* foster and birth parents: the sessions their own household receives and the meetings it is
  invited to (birth parents never see the foster household's sessions);
* providers: their own sessions and the meetings they are invited to, without the child's name;
* administrators: no case content (they configure; the scheduling models' ``for_user`` lets
  administrators in for the admin pages, so the API narrows it to the case roles here).

Views hold no rules: they check the input's shape and call one service in
``scheduler.services``. A double booking or a decided proposal answers 409; bad input answers
400 naming the field, also when the service found the problem (``_naming``).
"""

from __future__ import annotations

from collections.abc import Callable

import django_filters as filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from api import scoping
from api import views as base
from api.filters import IdFilter
from api.permissions import ConsultantWrites
from api.serializers_sessions import (
    ChangeFromSerializer,
    EndSeriesSerializer,
    MeetingCreateSerializer,
    MeetingMoveSerializer,
    MeetingSearchResultSerializer,
    MeetingSearchSerializer,
    MeetingSerializer,
    MoveOccurrenceSerializer,
    ProposeRespiteSerializer,
    ProposeSeriesSerializer,
    ProviderAbsenceCreateSerializer,
    ProviderAbsenceRecordedSerializer,
    ReasonSerializer,
    SeriesChangeSerializer,
    SessionOccurrenceSerializer,
    SessionSeriesSerializer,
    search_payload,
)
from scheduler.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    OccurrenceStatus,
    SeriesChange,
    SeriesKind,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.services import meetings as meeting_services
from scheduler.services import sessions as session_services
from support.errors import DomainError
from support.roles import scope_for

SERIES_RELATED = ("need__service", "provider", "household", "host_household", "child", "proposed_by", "confirmed_by")


# --- Scope ----------------------------------------------------------------------------------------------------


def _case_q(user, prefix: str = "") -> Q:
    """Rows a case role reaches: staff of the municipality, the provider, the receiving household."""
    scope = scope_for(user)
    return (
        Q(**{f"{prefix}municipality_id__in": scope.staff_municipality_ids})
        | Q(**{f"{prefix}provider_id__in": scope.provider_ids})
        | Q(**{f"{prefix}household_id__in": scope.household_ids})
    )


def readable_series(user):
    return SessionSeries.objects.for_user(user).filter(_case_q(user))


def readable_occurrences(user):
    return SessionOccurrence.objects.for_user(user).filter(_case_q(user, "series__"))


def readable_meetings(user):
    if not getattr(user, "is_authenticated", False):
        return Meeting.objects.none()  # schema generation runs as AnonymousUser
    scope = scope_for(user)
    q = Q(municipality_id__in=scope.staff_municipality_ids)
    q |= Q(participants__household_id__in=scope.household_ids)
    q |= Q(participants__provider_id__in=scope.provider_ids)
    q |= Q(participants__user_id=user.pk)
    return Meeting.objects.for_user(user).filter(q).distinct()


def _naming(call: Callable, fields: dict[str, str]):
    """Run a service call; a 400 DomainError that names no field gets the input field it is about.

    ``fields`` maps the error's code to the field; ``"*"`` is the field for any other code.
    """
    try:
        return call()
    except DomainError as exc:
        if exc.status == 400 and not exc.fields:
            name = fields.get(exc.code, fields.get("*"))
            if name:
                exc.fields = {name: [exc.message]}
        raise


# --- Filters ------------------------------------------------------------------------------------------------


class StaffOnlyIdFilter(IdFilter):
    """Filters on a field only staff read (a meeting's placement): it narrows to staff's own rows,
    so nobody else can probe the hidden value by filtering."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        staff = scope_for(self.parent.request.user).staff_municipality_ids
        return qs.filter(**{self.field_name: value, "municipality_id__in": staff})


class SessionSeriesFilter(filters.FilterSet):
    municipality = IdFilter(field_name="municipality_id")
    need = IdFilter(field_name="need_id")
    provider = IdFilter(field_name="provider_id")
    household = IdFilter(field_name="household_id", help_text="The household receiving the support.")
    status = filters.ChoiceFilter(choices=SeriesStatus.choices)
    kind = filters.ChoiceFilter(choices=SeriesKind.choices)

    class Meta:
        model = SessionSeries
        fields = ["municipality", "need", "provider", "household", "status", "kind"]


class SessionOccurrenceFilter(filters.FilterSet):
    series = IdFilter(field_name="series_id")
    household = IdFilter(field_name="series__household_id", help_text="The household receiving the support.")
    provider = IdFilter(field_name="series__provider_id")
    status = filters.ChoiceFilter(choices=OccurrenceStatus.choices)
    needs_attention = filters.BooleanFilter()
    after = filters.IsoDateTimeFilter(field_name="end", lookup_expr="gt",
                                      help_text="Occurrences that end after this instant (ISO 8601).")
    before = filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt",
                                       help_text="Occurrences that start before this instant (ISO 8601).")

    class Meta:
        model = SessionOccurrence
        fields = ["series", "household", "provider", "status", "needs_attention", "after", "before"]


class SeriesChangeFilter(filters.FilterSet):
    series = IdFilter(field_name="series_id")
    occurrence = IdFilter(field_name="occurrence_id")
    action = filters.ChoiceFilter(choices=SeriesChange.Action.choices)

    class Meta:
        model = SeriesChange
        fields = ["series", "occurrence", "action"]


class MeetingFilter(filters.FilterSet):
    placement = StaffOnlyIdFilter(field_name="placement_id", help_text="Staff of the municipality only.")
    status = filters.ChoiceFilter(choices=MeetingStatus.choices)
    kind = filters.ChoiceFilter(choices=MeetingKind.choices)
    needs_attention = filters.BooleanFilter()
    after = filters.IsoDateTimeFilter(field_name="end", lookup_expr="gt")
    before = filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = Meeting
        fields = ["placement", "status", "kind", "needs_attention", "after", "before"]


# --- Series ----------------------------------------------------------------------------------------------------

PROPOSE_FIELDS = {"not_remote": "remote", "bad_horizon": "need", "*": "need"}


@extend_schema_view(
    list=extend_schema(summary="Session series you can see"),
    retrieve=extend_schema(summary="One session series"),
)
class SessionSeriesViewSet(base.ReadOnlyViewSet):
    """Recurring sessions and respite weekends for accepted assignments.

    POST proposes a series that holds its time until a consultant confirms or declines it.
    """

    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = SessionSeriesSerializer
    filterset_class = SessionSeriesFilter
    ordering_fields = ["created_at", "first_date"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return readable_series(self.request.user).select_related(*SERIES_RELATED)

    def _fresh(self, series: SessionSeries):
        return self.get_queryset().get(pk=series.pk)

    @extend_schema(
        request=ProposeSeriesSerializer, responses={201: SessionSeriesSerializer},
        summary="Propose a series for an accepted assignment",
        description="Finds the first slot the provider and the household can both keep at the need's frequency "
        "and holds it (status `proposed`). Respite needs get weekend blocks. 409 if the assignment already has a "
        "series or is not accepted; 400 naming the field when no slot is found.",
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(ProposeSeriesSerializer)
        series = _naming(lambda: session_services.propose_series(
            need=data["need"], by=request.user, now=timezone.now(), start_date=data.get("start_date"),
            end_date=data.get("end_date"), remote=data.get("remote"),
        ), PROPOSE_FIELDS)
        return self.output(self._fresh(series), status_code=status.HTTP_201_CREATED)

    @extend_schema(
        request=ProposeRespiteSerializer, responses={201: SessionSeriesSerializer},
        summary="Propose respite weekends (støtteophold)",
        description="Weekend blocks (default Friday 16:00 to Sunday 18:00) every N weeks at the provider's respite "
        "household, within its approved places.",
    )
    @action(detail=False, methods=["post"])
    def respite(self, request):
        data = self.validated(ProposeRespiteSerializer)
        options = session_services.RespiteOptions(
            every_weeks=data.get("every_weeks"), start_day=data["start_day"], start_time=data["start_time"],
            end_day=data["end_day"], end_time=data["end_time"], children=data["children"],
        )
        series = _naming(lambda: session_services.propose_respite(
            need=data["need"], by=request.user, now=timezone.now(), respite=options,
            start_date=data.get("start_date"), end_date=data.get("end_date"),
        ), {"no_places": "need", "no_respite_household": "need", "*": "need"})
        return self.output(self._fresh(series), status_code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=SessionSeriesSerializer, summary="Confirm a proposed series",
                   description="409 unless the series is proposed.")
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        series = session_services.confirm_series(series=self.get_object(), by=request.user, now=timezone.now())
        return self.output(self._fresh(series))

    @extend_schema(request=ReasonSerializer, responses=SessionSeriesSerializer,
                   summary="Decline a proposed series with a reason (its held time is released)",
                   description="409 unless the series is proposed.")
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        series = self.get_object()
        data = self.validated(ReasonSerializer)
        series = session_services.decline_series(series=series, reason=data["reason"], by=request.user,
                                                 now=timezone.now())
        return self.output(self._fresh(series))

    @extend_schema(
        request=ChangeFromSerializer, responses=SessionSeriesSerializer,
        summary="Change time, weekdays, length or interval from a date on",
        description="The series ends the day before and a new series (returned) continues with the change. "
        "409 if the series is ended or declined, or when the new times clash in the first 12 weeks.",
    )
    @action(detail=True, methods=["post"], url_path="change-from")
    def change_from(self, request, pk=None):
        series = self.get_object()
        data = self.validated(ChangeFromSerializer)
        new = _naming(lambda: session_services.change_series_from(
            series=series, from_date=data["from_date"], reason=data["reason"], by=request.user, now=timezone.now(),
            start_time=data.get("start_time"), weekdays=data.get("weekdays"),
            duration_minutes=data.get("duration_minutes"), interval_weeks=data.get("interval_weeks"),
        ), {"in_the_past": "from_date", "bad_duration": "duration_minutes", "*": "from_date"})
        return self.output(self._fresh(new))

    @extend_schema(request=EndSeriesSerializer, responses=SessionSeriesSerializer,
                   summary="End an active series after a date (later occurrences are released)",
                   description="409 unless the series is active or ended.")
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        series = self.get_object()
        data = self.validated(EndSeriesSerializer)
        series = _naming(lambda: session_services.end_series(
            series=series, last_date=data["last_date"], reason=data["reason"], by=request.user, now=timezone.now(),
        ), {"in_the_past": "last_date", "*": "last_date"})
        return self.output(self._fresh(series))


@extend_schema_view(
    list=extend_schema(summary="The history of series you can see: who, when, why",
                       description="Who and why are for staff of the municipality; others see what and when."),
    retrieve=extend_schema(summary="One change"),
)
class SeriesChangeViewSet(base.ReadOnlyViewSet):
    serializer_class = SeriesChangeSerializer
    filterset_class = SeriesChangeFilter
    ordering_fields = ["at"]
    ordering = ["at", "id"]

    def get_queryset(self):
        return SeriesChange.objects.filter(series__in=readable_series(self.request.user)).select_related("series")


# --- Occurrences ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Occurrences you can see; filter by period, series, household or provider"),
    retrieve=extend_schema(summary="One occurrence"),
)
class SessionOccurrenceViewSet(base.ReadOnlyViewSet):
    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = SessionOccurrenceSerializer
    filterset_class = SessionOccurrenceFilter
    ordering_fields = ["start"]
    ordering = ["start", "id"]

    def get_queryset(self):
        return readable_occurrences(self.request.user).select_related("series")

    def municipality_ids_of(self, obj) -> set[int]:
        return {obj.series.municipality_id}

    def _fresh(self, occurrence):
        return self.get_queryset().get(pk=occurrence.pk)

    @extend_schema(request=MoveOccurrenceSerializer, responses=SessionOccurrenceSerializer,
                   summary="Move one occurrence",
                   description="409 when someone is booked then (double booking) or it has passed or was cancelled; "
                   "400 naming `new_start` on a closed day, during an absence or in the past.")
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        occurrence = self.get_object()
        data = self.validated(MoveOccurrenceSerializer)
        moved = _naming(lambda: session_services.move_occurrence(
            occurrence=occurrence, new_start=data["new_start"], new_end=data.get("new_end"), reason=data["reason"],
            by=request.user, now=timezone.now(),
        ), {"bad_time": "new_end", "*": "new_start"})
        return self.output(self._fresh(moved))

    @extend_schema(request=ReasonSerializer, responses=SessionOccurrenceSerializer,
                   summary="Cancel one occurrence with a reason",
                   description="409 when it has passed or is not booked.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        occurrence = self.get_object()
        data = self.validated(ReasonSerializer)
        cancelled = session_services.cancel_occurrence(occurrence=occurrence, reason=data["reason"], by=request.user,
                                                       now=timezone.now())
        return self.output(self._fresh(cancelled))

    @extend_schema(request=None, responses=SessionOccurrenceSerializer,
                   summary="Accept the replacement proposed after a provider absence",
                   description="409 when no replacement is proposed or the slot has been taken meanwhile.")
    @action(detail=True, methods=["post"], url_path="accept-replacement")
    def accept_replacement(self, request, pk=None):
        moved = _naming(lambda: session_services.accept_replacement(
            occurrence=self.get_object(), by=request.user, now=timezone.now(),
        ), {"*": "non_field_errors"})
        return self.output(self._fresh(moved))


# --- Meetings ----------------------------------------------------------------------------------------------

MEETING_FIELDS = {"bad_window": "window_end", "bad_duration": "duration_minutes", "no_consultant": "placement",
                  "no_location": "in_person_at", "invalid_kind": "kind"}


@extend_schema_view(
    list=extend_schema(summary="Meetings you can see (staff: your municipality's; others: those you are invited to)"),
    retrieve=extend_schema(summary="One meeting"),
)
class MeetingViewSet(base.ReadOnlyViewSet):
    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = MeetingSerializer
    filterset_class = MeetingFilter
    ordering_fields = ["start"]
    ordering = ["start", "id"]

    def get_queryset(self):
        return readable_meetings(self.request.user).prefetch_related("participants")

    def _fresh(self, meeting):
        return self.get_queryset().get(pk=meeting.pk)

    @extend_schema(
        request=MeetingSearchSerializer, responses=MeetingSearchResultSerializer,
        summary="Find the earliest slot for everyone invited, with ranked alternatives",
        description="Invites the placement's consultant, foster and birth parents, its providers and (if asked) the "
        "child. Nothing is booked.",
    )
    @action(detail=False, methods=["post"])
    def search(self, request):
        data = self.validated(MeetingSearchSerializer)
        search = _naming(lambda: meeting_services.find_meeting(
            placement=data["placement"], window_start=data["window_start"], window_end=data["window_end"],
            now=timezone.now(), duration_minutes=data["duration_minutes"], include_child=data["include_child"],
            child_required=data["child_required"], in_person_at=data.get("in_person_at"),
            max_alternatives=data["max_alternatives"],
        ), {**MEETING_FIELDS, "*": "window_start"})
        return Response(MeetingSearchResultSerializer(search_payload(search)).data)

    @extend_schema(
        request=MeetingCreateSerializer, responses={201: MeetingSerializer}, summary="Book a meeting",
        description="409 when a required invitee is busy or absent then (unless `allow_missing`).",
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(MeetingCreateSerializer)
        meeting = _naming(lambda: meeting_services.book_meeting(
            placement=data["placement"], kind=data["kind"], start=data["start"], by=request.user, now=timezone.now(),
            duration_minutes=data["duration_minutes"], include_child=data["include_child"],
            child_required=data["child_required"], in_person_at=data.get("in_person_at"), title=data["title"],
            allow_missing=data["allow_missing"],
        ), {**MEETING_FIELDS, "*": "start"})
        return self.output(self._fresh(meeting), status_code=status.HTTP_201_CREATED)

    @extend_schema(request=MeetingMoveSerializer, responses=MeetingSerializer, summary="Move a meeting",
                   description="409 when a required invitee is busy then, or the meeting is cancelled or past.")
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        meeting = self.get_object()
        data = self.validated(MeetingMoveSerializer)
        meeting = _naming(lambda: meeting_services.move_meeting(
            meeting=meeting, new_start=data["new_start"], reason=data["reason"], by=request.user, now=timezone.now(),
            allow_missing=data["allow_missing"],
        ), {"*": "new_start"})
        return self.output(self._fresh(meeting))

    @extend_schema(request=ReasonSerializer, responses=MeetingSerializer, summary="Cancel a meeting with a reason",
                   description="409 when it is already cancelled or past.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        meeting = self.get_object()
        data = self.validated(ReasonSerializer)
        meeting = meeting_services.cancel_meeting(meeting=meeting, reason=data["reason"], by=request.user,
                                                  now=timezone.now())
        return self.output(self._fresh(meeting))


# --- Provider absences -------------------------------------------------------------------------------------


class AbsenceWriters(BasePermission):
    """Consultants record absences of providers serving their municipality; providers their own."""

    message = "Only consultants and the provider itself can record an absence."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(scoping.consultant_municipality_ids(request.user) or scope_for(request.user).provider_ids)


class ProviderAbsenceViewSet(mixins.CreateModelMixin, base.ProviderAbsenceViewSet):
    """Absences of providers you can see. POST records one and flags the sessions and meetings it hits."""

    permission_classes = [IsAuthenticated, AbsenceWriters]

    @extend_schema(
        request=ProviderAbsenceCreateSerializer, responses={201: ProviderAbsenceRecordedSerializer},
        summary="Record a provider's absence",
        description="Every session and meeting the absence hits is flagged with a proposed replacement "
        "(accept it on the occurrence). 400 naming `provider` for a provider you cannot record for.",
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(ProviderAbsenceCreateSerializer)
        report = session_services.record_provider_absence(
            provider=data["provider"], starts_at=data["starts_at"], ends_at=data["ends_at"], reason=data["reason"],
            by=request.user, now=timezone.now(),
        )
        absence = report.absence
        absence.flagged_occurrences = list(
            readable_occurrences(request.user).filter(pk__in=[o.pk for o in report.flagged])
            .order_by("start").values_list("pk", flat=True)
        )
        absence.flagged_meetings = list(
            readable_meetings(request.user).filter(pk__in=[m.pk for m in report.meetings])
            .order_by("start").values_list("pk", flat=True)
        )
        return Response(ProviderAbsenceRecordedSerializer(absence).data, status=status.HTTP_201_CREATED)
