"""Session series, their occurrences, meetings, the bookings behind them and the history of changes.

A ``SessionSeries`` stores one RFC 5545 weekly recurrence (DTSTART in local wall time, RRULE,
EXDATEs) for an accepted assignment: regular sessions, or respite weekends (støtteophold) at a
respite household. Its ``SessionOccurrence`` rows are the materialised instances for a rolling
horizon, keyed by their original start (the iCalendar RECURRENCE-ID), so calendars and load
figures are plain queries. Moved and cancelled occurrences are the series' overrides.

No double booking: every occurrence or meeting holds one ``Booking`` per party it occupies
("provider:12", "household:5", "user:7", "child:3", "place:9:2" for the second place of respite
household 9). On PostgreSQL an exclusion constraint (migration 0002) guarantees that two active
bookings of one party never overlap; the services also check it, with travel time, under a lock
on the party's row (``BookingParty``) on every database.

Every change is kept: ``SeriesChange`` (a series or one of its occurrences) and ``MeetingChange``
say who, when, why and what, and each series, occurrence and meeting has a SEQUENCE counter that
only goes up, for the calendar feeds and iMIP invitations built on these rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scheduler.recurrence import Location, Override, SeriesRule, make_rule
from support.models import Child, Household, Municipality, Placement, Provider, SupportNeed
from support.roles import scope_for


def new_series_uid() -> str:
    return f"series-{uuid.uuid4()}@plejenet"


def new_meeting_uid() -> str:
    return f"meeting-{uuid.uuid4()}@plejenet"


def ical_utc(value: datetime) -> str:
    """``20261110T090000Z``: the UTC form iCalendar uses for RECURRENCE-ID and UNTIL."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _location(lat: float | None, lon: float | None) -> Location | None:
    return None if lat is None or lon is None else Location(lat, lon)


# --- Series -----------------------------------------------------------------------------------------


class SeriesKind(models.TextChoices):
    SESSIONS = "sessions", _("Sessions")
    RESPITE = "respite", _("Respite weekends (støtteophold)")


class SeriesStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, waiting for the consultant")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    DECLINED = "declined", _("Proposal declined")
    REPLACED = "replaced", _("Replaced by a changed series before it began")



class SessionSeriesQuerySet(models.QuerySet):
    def for_user(self, user) -> SessionSeriesQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        q = Q(municipality_id__in=scope.staff_municipality_ids | scope.admin_municipality_ids)
        q |= Q(provider_id__in=scope.provider_ids)
        q |= Q(household_id__in=scope.household_ids)
        return self.filter(q).distinct()

    def current(self) -> SessionSeriesQuerySet:
        """Proposed or active series: a need with one of these is scheduled."""
        return self.filter(status__in=[SeriesStatus.PROPOSED, SeriesStatus.ACTIVE])


class SessionSeries(models.Model):
    """A recurring appointment for one accepted assignment, as an RFC 5545 rule in local time.

    ``first_date`` + ``start_minute`` + ``time_zone`` is DTSTART (wall time, so a 10:00 session
    stays at 10:00 across daylight-saving changes); ``weekdays``, ``interval_weeks`` and
    ``until`` make the RRULE; ``duration`` follows RFC 5545 (whole days nominal, so a respite
    weekend always ends Sunday 18:00). ``exdates`` lists original starts (UTC ISO strings)
    that do not happen because of a holiday, an absence or a clash known when they were planned.
    """

    uid = models.CharField(max_length=80, unique=True, default=new_series_uid, editable=False)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="session_series")
    kind = models.CharField(max_length=10, choices=SeriesKind.choices, default=SeriesKind.SESSIONS)
    need = models.ForeignKey(SupportNeed, on_delete=models.PROTECT, related_name="session_series")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="session_series")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="session_series",
        help_text=_("The household receiving the support (where in-person sessions take place)."),
    )
    host_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="hosted_respite_series",
        help_text=_("Respite only: the respite household where the child stays."),
    )
    child = models.ForeignKey(Child, null=True, blank=True, on_delete=models.PROTECT, related_name="session_series")
    children = models.PositiveSmallIntegerField(default=1, help_text=_("Respite only: places one block takes."))
    status = models.CharField(max_length=10, choices=SeriesStatus.choices, default=SeriesStatus.PROPOSED)
    remote = models.BooleanField(default=False)
    time_zone = models.CharField(max_length=40, default="Europe/Copenhagen")
    first_date = models.DateField(help_text=_("Local date of the first occurrence (DTSTART)."))
    start_minute = models.PositiveSmallIntegerField(help_text=_("Local start time, minutes after midnight."))
    duration = models.DurationField()
    weekdays = models.JSONField(default=list, help_text=_("0 = Monday .. 6 = Sunday"))
    interval_weeks = models.PositiveSmallIntegerField(default=1)
    until = models.DateField(null=True, blank=True, help_text=_("Last local date (inclusive)."))
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    exdates = models.JSONField(default=list, blank=True)
    rrule = models.CharField(max_length=200, help_text=_("The RRULE value, for display and feeds."))
    sequence = models.PositiveIntegerField(default=0)
    materialised_until = models.DateTimeField(null=True, blank=True)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_series",
        help_text=_("The series this one continues after a change from a date on."),
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = SessionSeriesQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "session series"
        indexes = [
            models.Index(fields=["need", "status"], name="series_need_status"),
            models.Index(fields=["provider", "status"], name="series_provider_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(interval_weeks__gte=1), name="series_interval_positive"),
            models.CheckConstraint(condition=Q(start_minute__lt=1440), name="series_start_within_day"),
            models.CheckConstraint(
                condition=Q(until__isnull=True) | Q(until__gte=models.F("first_date")),
                name="series_until_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(kind="respite") | Q(host_household__isnull=False),
                name="series_respite_has_host",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.provider} → {self.household})"

    @property
    def location(self) -> Location | None:
        return _location(self.latitude, self.longitude)

    @property
    def is_respite(self) -> bool:
        return self.kind == SeriesKind.RESPITE

    @property
    def exdate_instants(self) -> frozenset[datetime]:
        return frozenset(datetime.fromisoformat(value) for value in self.exdates)

    def base_rule(self) -> SeriesRule:
        """The rule with its EXDATEs but without overrides (moves and cancellations live on rows)."""
        rule = make_rule(
            first_date=self.first_date, start_minute=self.start_minute, duration=self.duration,
            weekdays=tuple(self.weekdays), interval_weeks=self.interval_weeks, until=self.until,
            tz=self.time_zone, location=self.location,
        )
        return SeriesRule(
            dtstart=rule.dtstart, duration=rule.duration, weekdays=rule.weekdays,
            interval_weeks=rule.interval_weeks, until=rule.until, location=rule.location,
            exdates=self.exdate_instants,
        )

    def to_rule(self) -> SeriesRule:
        """The full rule: EXDATEs plus the moved and cancelled occurrences as overrides."""
        base = self.base_rule()
        overrides = [
            occ.as_override()
            for occ in self.occurrences.filter(status__in=[OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED])
        ]
        return SeriesRule(
            dtstart=base.dtstart, duration=base.duration, weekdays=base.weekdays,
            interval_weeks=base.interval_weeks, until=base.until, location=base.location,
            exdates=base.exdates, overrides=tuple(overrides),
        )

    def store_rule(self, rule: SeriesRule) -> None:
        """Copy a core ``SeriesRule`` (without its overrides) onto the fields; the caller saves."""
        from scheduler.recurrence import rrule_string

        local = rule.dtstart
        self.first_date = local.date()
        self.start_minute = local.hour * 60 + local.minute
        self.time_zone = rule.tz_name
        self.duration = rule.duration
        self.weekdays = list(rule.weekdays)
        self.interval_weeks = rule.interval_weeks
        self.until = rule.until
        location = rule.location
        self.latitude = location.lat if location else None
        self.longitude = location.lon if location else None
        self.remote = location is None
        self.exdates = sorted(d.astimezone(UTC).isoformat() for d in rule.exdates)
        self.rrule = rrule_string(rule)

    def ends_before(self, day: date) -> bool:
        return self.until is not None and self.until < day


# --- Occurrences --------------------------------------------------------------------------------------


class OccurrenceStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    MOVED = "moved", _("Moved")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped when planned (holiday, absence, clash or full)")
    REMOVED = "removed", _("No longer part of the series (ended or changed)")


BOOKED_STATUSES = (OccurrenceStatus.SCHEDULED, OccurrenceStatus.MOVED)


class SessionOccurrenceQuerySet(models.QuerySet):
    def for_user(self, user) -> SessionOccurrenceQuerySet:
        return self.filter(series__in=SessionSeries.objects.for_user(user))

    def booked(self) -> SessionOccurrenceQuerySet:
        return self.filter(status__in=BOOKED_STATUSES)

    def between(self, start: datetime, end: datetime) -> SessionOccurrenceQuerySet:
        return self.filter(start__lt=end, end__gt=start)


class SessionOccurrence(models.Model):
    """One instance of a series. ``original_start`` (UTC) is its RECURRENCE-ID, kept when it moves."""

    # Indexed by the (series, original_start) unique constraint.
    series = models.ForeignKey(SessionSeries, on_delete=models.CASCADE, related_name="occurrences", db_index=False)
    original_start = models.DateTimeField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OccurrenceStatus.choices, default=OccurrenceStatus.SCHEDULED)
    reason = models.CharField(max_length=300, blank=True, help_text=_("Why it was cancelled, skipped or moved."))
    place = models.PositiveSmallIntegerField(null=True, blank=True, help_text=_("Respite: which place it takes."))
    sequence = models.PositiveIntegerField(default=0)
    needs_attention = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=300, blank=True)
    proposed_start = models.DateTimeField(null=True, blank=True)
    proposed_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = SessionOccurrenceQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        indexes = [
            models.Index(fields=["start"], name="occurrence_start"),
            models.Index(fields=["series"], condition=Q(needs_attention=True), name="occurrence_flagged"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["series", "original_start"], name="occurrence_unique_recurrence_id"),
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="occurrence_starts_before_end"),
            models.CheckConstraint(
                condition=Q(proposed_start__isnull=True) | Q(proposed_end__gt=models.F("proposed_start")),
                name="occurrence_proposal_is_a_span",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}@{ical_utc(self.original_start)} ({self.status})"

    @property
    def recurrence_id(self) -> str:
        return ical_utc(self.original_start)

    @property
    def is_booked(self) -> bool:
        return self.status in BOOKED_STATUSES

    def as_override(self) -> Override:
        if self.status == OccurrenceStatus.CANCELLED:
            return Override(self.original_start, reason=self.reason)
        return Override(self.original_start, self.start, self.end, self.reason)


# --- Meetings ------------------------------------------------------------------------------------------


class MeetingKind(models.TextChoices):
    START_UP = "start_up", _("Start-up meeting (opstartsmøde)")
    FOLLOW_UP = "follow_up", _("Follow-up meeting (opfølgningsmøde)")


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled")


class MeetingQuerySet(models.QuerySet):
    def for_user(self, user) -> MeetingQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        q = Q(municipality_id__in=scope.staff_municipality_ids | scope.admin_municipality_ids)
        q |= Q(participants__household_id__in=scope.household_ids)
        q |= Q(participants__provider_id__in=scope.provider_ids)
        q |= Q(participants__user=user)
        return self.filter(q).distinct()


class Meeting(models.Model):
    """A start-up or follow-up meeting about a placement; ``latitude`` null means online."""

    uid = models.CharField(max_length=80, unique=True, default=new_meeting_uid, editable=False)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="meetings")
    placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="meetings")
    kind = models.CharField(max_length=10, choices=MeetingKind.choices)
    title = models.CharField(max_length=200, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    place_name = models.CharField(max_length=200, blank=True)
    place_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The home the meeting is held in. Birth parents see its address only when it is their own."),
    )
    status = models.CharField(max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED)
    reason = models.CharField(max_length=300, blank=True, help_text=_("Why it was cancelled or last moved."))
    sequence = models.PositiveIntegerField(default=0)
    needs_attention = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="meeting_starts_before_end"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d %H:%M} ({self.placement_id})"

    @property
    def location(self) -> Location | None:
        return _location(self.latitude, self.longitude)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class ParticipantRole(models.TextChoices):
    CONSULTANT = "consultant", _("Consultant")
    FOSTER_PARENTS = "foster_parents", _("Foster parents")
    BIRTH_PARENTS = "birth_parents", _("Birth parents")
    PROVIDER = "provider", _("Provider")
    CHILD = "child", _("Child")


class MeetingParticipant(models.Model):
    """An invited party. Those who cannot come are kept with ``attending`` false and no booking."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    party = models.CharField(max_length=40)
    role = models.CharField(max_length=20, choices=ParticipantRole.choices)
    label = models.CharField(max_length=150)
    required = models.BooleanField(default=True)
    attending = models.BooleanField(default=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    child = models.ForeignKey(Child, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["meeting", "role", "party"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "party"], name="participant_once_per_meeting"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.role})"


# --- Bookings and parties ----------------------------------------------------------------------------------


class BookingParty(models.Model):
    """Anyone whose time can be booked, by key: ``provider:12``, ``household:5``, ``user:7``, ``child:3``,
    ``place:9:2`` (place 2 of respite household 9).

    The row is also the party's lock: it is locked (SELECT ... FOR UPDATE) while the party's
    bookings are checked and written. Bookings point at it by integer id because PostgreSQL's
    GiST exclusion index is about three times cheaper on a bigint than on text.
    """

    key = models.CharField(max_length=40, unique=True)

    class Meta:
        verbose_name_plural = "booking parties"

    def __str__(self) -> str:
        return self.key


class Booking(models.Model):
    """One party's time taken by an occurrence or a meeting.

    On PostgreSQL, ``EXCLUDE USING gist (party_id WITH =, tstzrange(start, "end") WITH &&) WHERE
    (active)`` (migration 0002, name ``booking_no_overlap``) makes a double booking impossible
    whatever the application does. ``latitude`` null means remote: no travel time around it.
    """

    party = models.ForeignKey(BookingParty, on_delete=models.PROTECT, related_name="bookings", db_index=False)
    start = models.DateTimeField()
    end = models.DateTimeField()
    active = models.BooleanField(default=True)
    occurrence = models.ForeignKey(
        SessionOccurrence, null=True, blank=True, on_delete=models.CASCADE, related_name="bookings"
    )
    meeting = models.ForeignKey(
        Meeting, null=True, blank=True, on_delete=models.CASCADE, related_name="bookings", db_index=False
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["party", "start"]
        indexes = [
            models.Index(fields=["party", "start"], name="booking_party_start"),
            models.Index(fields=["meeting"], condition=Q(meeting__isnull=False), name="booking_meeting"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="booking_starts_before_end"),
            models.CheckConstraint(
                condition=(Q(occurrence__isnull=False) & Q(meeting__isnull=True))
                | (Q(occurrence__isnull=True) & Q(meeting__isnull=False)),
                name="booking_has_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"party#{self.party_id} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}{'' if self.active else ' (released)'}"

    @property
    def location(self) -> Location | None:
        return _location(self.latitude, self.longitude)

    @property
    def ref(self) -> str:
        return f"occurrence:{self.occurrence_id}" if self.occurrence_id else f"meeting:{self.meeting_id}"


# --- History -------------------------------------------------------------------------------------------------


class SeriesChange(models.Model):
    """One change to a series or to one of its occurrences: who, when, why and what."""

    class Action(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")
        OCCURRENCE_MOVED = "occurrence_moved", _("Occurrence moved")
        OCCURRENCE_CANCELLED = "occurrence_cancelled", _("Occurrence cancelled")
        CHANGED_FROM = "changed_from", _("Changed from a date on")
        CONTINUED = "continued", _("Continues an earlier series")
        ENDED = "ended", _("Ended")
        ABSENCE_FLAGGED = "absence_flagged", _("Occurrences flagged for an absence")
        EXTENDED = "extended", _("Horizon extended")

    series = models.ForeignKey(SessionSeries, on_delete=models.CASCADE, related_name="changes")
    occurrence = models.ForeignKey(
        SessionOccurrence, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_label = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    sequence = models.PositiveIntegerField(help_text=_("The series' (or occurrence's) SEQUENCE after the change."))
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.by_label} {self.action} series#{self.series_id}"


class MeetingChange(models.Model):
    class Action(models.TextChoices):
        BOOKED = "booked", _("Booked")
        MOVED = "moved", _("Moved")
        CANCELLED = "cancelled", _("Cancelled")
        ABSENCE_FLAGGED = "absence_flagged", _("Flagged for an absence")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=30, choices=Action.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_label = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    sequence = models.PositiveIntegerField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.by_label} {self.action} meeting#{self.meeting_id}"


__all__ = [
    "BOOKED_STATUSES",
    "Booking",
    "Meeting",
    "MeetingChange",
    "MeetingKind",
    "MeetingParticipant",
    "MeetingStatus",
    "OccurrenceStatus",
    "ParticipantRole",
    "BookingParty",
    "SeriesChange",
    "SeriesKind",
    "SeriesStatus",
    "SessionOccurrence",
    "SessionSeries",
    "ical_utc",
    "new_meeting_uid",
    "new_series_uid",
]
