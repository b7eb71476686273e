"""Start-up and follow-up meetings (opstarts- og opfølgningsmøder) about a placement.

Who is invited comes from the placement: its consultant, the foster parents (the foster
household), the birth parents (each birth household), the providers of the placement's accepted
assignments and, if asked, the child. ``find_meeting`` returns the earliest slot in a window
where every required party is free (the child is optional unless ``child_required``), with a
ranked list of alternatives that name who cannot come; ``book_meeting`` stores the meeting, its
participants and their bookings under the same locks and no-double-booking rule as sessions.

Free means: inside the party's weekly availability (consultants: office hours, Mon-Fri
08:00-16:00; households and providers: their availability rows, or no restriction if they have
none), not absent, not on a closed day, and not booked (with travel time if the meeting is in
person). When booking a chosen time the windows are not re-checked: the consultant may have
agreed another time with the family; absences and bookings always are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from calendars import publish as calendar_publish
from scheduler.models import (
    Booking,
    Meeting,
    MeetingChange,
    MeetingKind,
    MeetingParticipant,
    MeetingStatus,
    ParticipantRole,
)
from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    DEFAULT_TZ,
    Interval,
    Location,
    MeetingResult,
    Party,
    RecurrenceError,
    find_meeting_slot,
)
from scheduler.sessions_booking import (
    OFFICE_HOURS,
    PartyBook,
    actor,
    actor_label,
    booking_transaction,
    closed_reason,
    key,
    location_of,
    new_bookings,
    provider_absences,
    travel_speed_kmh,
    windows_from,
)
from support import audit
from support.errors import Conflict, DomainError, InvalidTransition
from support.models import Household, NeedStatus, Placement, Provider, ProviderAbsence, SupportNeed

MAX_DURATION_MINUTES = 8 * 60


@dataclass(frozen=True)
class Invitee:
    party: str
    role: str
    label: str
    required: bool = True
    user_id: int | None = None
    household_id: int | None = None
    provider_id: int | None = None
    child_id: int | None = None


@dataclass(frozen=True)
class MeetingSearch:
    """The core's answer plus who the party ids are, so a view can name them."""

    result: MeetingResult
    invitees: tuple[Invitee, ...]

    @property
    def found(self) -> bool:
        return self.result.found

    @property
    def labels(self) -> dict[str, str]:
        return {i.party: i.label for i in self.invitees}


@dataclass(frozen=True)
class _Unavailable:
    invitee: Invitee
    reason: str


def invitees_for(
    *, placement: Placement, include_child: bool = False, child_required: bool = False
) -> list[Invitee]:
    """Everyone a meeting about ``placement`` invites, in a stable order."""
    placement = Placement.objects.select_related("consultant", "foster_household", "child").get(pk=placement.pk)
    if placement.consultant is None:
        raise DomainError("The placement has no consultant to hold the meeting.", code="no_consultant")
    consultant = placement.consultant
    out = [Invitee(key("user", consultant.pk), ParticipantRole.CONSULTANT,
                   consultant.get_full_name() or consultant.username, user_id=consultant.pk)]
    if placement.foster_household is not None:
        home = placement.foster_household
        out.append(Invitee(key("household", home.pk), ParticipantRole.FOSTER_PARENTS, home.name, household_id=home.pk))
    for home in placement.birth_households.order_by("pk"):
        out.append(Invitee(key("household", home.pk), ParticipantRole.BIRTH_PARENTS, home.name, household_id=home.pk))
    providers = (
        SupportNeed.objects.filter(placement=placement, status=NeedStatus.ASSIGNED, current_provider__isnull=False)
        .select_related("current_provider").order_by("current_provider_id")
    )
    seen: set[int] = set()
    for need in providers:
        provider = need.current_provider
        if provider.pk not in seen:
            seen.add(provider.pk)
            out.append(Invitee(key("provider", provider.pk), ParticipantRole.PROVIDER, provider.name,
                               provider_id=provider.pk))
    if include_child or child_required:
        child = placement.child
        out.append(Invitee(key("child", child.pk), ParticipantRole.CHILD, child.display_name,
                           required=child_required, child_id=child.pk))
    return out


def _zone(placement: Placement) -> str:
    home = placement.foster_household
    return home.time_zone if home is not None else DEFAULT_TZ


def _parties(invitees: list[Invitee], book: PartyBook, absences: dict[int, list[Interval]]) -> list[Party]:
    households = {h.pk: h for h in Household.objects.filter(
        pk__in=[i.household_id for i in invitees if i.household_id]).prefetch_related("availability")}
    providers = {p.pk: p for p in Provider.objects.filter(
        pk__in=[i.provider_id for i in invitees if i.provider_id]).prefetch_related("availability")}
    parties = []
    for inv in invitees:
        busy = tuple(book.busy[inv.party].items)
        if inv.user_id:
            parties.append(Party(inv.party, windows=OFFICE_HOURS, busy=busy))
        elif inv.household_id:
            home = households[inv.household_id]
            parties.append(Party(inv.party, windows=windows_from(home.availability.all(), default=None), busy=busy,
                                 location=location_of(home), tz=home.time_zone))
        elif inv.provider_id:
            provider = providers[inv.provider_id]
            parties.append(Party(inv.party, windows=windows_from(provider.availability.all(), default=None),
                                 busy=busy, absences=tuple(absences.get(provider.pk, [])),
                                 location=location_of(provider), tz=provider.time_zone))
        else:
            parties.append(Party(inv.party, windows=None, busy=busy))
    return parties


def _location(in_person_at: Household | None) -> tuple[Location | None, str]:
    if in_person_at is None:
        return None, ""
    location = location_of(in_person_at)
    if location is None:
        raise DomainError(f"{in_person_at.name} has no address coordinates.", code="no_location")
    address = ", ".join(p for p in (in_person_at.street, f"{in_person_at.postcode} {in_person_at.city}".strip()) if p)
    return location, address or in_person_at.name


def _check_duration(duration_minutes: int) -> timedelta:
    if not isinstance(duration_minutes, int) or not 0 < duration_minutes <= MAX_DURATION_MINUTES:
        raise DomainError(f"A meeting lasts 1..{MAX_DURATION_MINUTES} minutes.", code="bad_duration",
                          fields={"duration_minutes": ["range"]})
    return timedelta(minutes=duration_minutes)


def _check_kind(kind: str) -> None:
    if kind not in MeetingKind.values:
        raise DomainError(f"Unknown meeting kind {kind!r}.", code="invalid_kind",
                          fields={"kind": [f"Choose one of: {', '.join(MeetingKind.values)}."]})


def find_meeting(
    *,
    placement: Placement,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    duration_minutes: int = 60,
    include_child: bool = False,
    child_required: bool = False,
    in_person_at: Household | None = None,
    grid_minutes: int = 15,
    max_alternatives: int = 5,
) -> MeetingSearch:
    """The earliest slot where every required invitee is free, and ranked alternatives."""
    length = _check_duration(duration_minutes)
    start = max(window_start, now)
    if window_end - start < length:
        raise DomainError("The search window is too short (or already past) for the meeting.", code="bad_window")
    invitees = invitees_for(placement=placement, include_child=include_child, child_required=child_required)
    location, _address = _location(in_person_at)
    book = PartyBook({i.party: i.label for i in invitees}, speed=travel_speed_kmh()).load(start=start, end=window_end)
    absences = provider_absences([i.provider_id for i in invitees if i.provider_id], start=start, end=window_end)
    parties = _parties(invitees, book, absences)
    try:
        result = find_meeting_slot(
            parties, duration_minutes, start, window_end, grid_minutes=grid_minutes,
            required_ids=[i.party for i in invitees if i.required], holidays=DANISH_HOLIDAYS, tz=_zone(placement),
            location=location, travel_speed_kmh=book.speed, max_alternatives=max_alternatives,
        )
    except RecurrenceError as exc:
        raise DomainError(exc.message, code=exc.code) from None
    return MeetingSearch(result=result, invitees=tuple(invitees))


def _unavailable(
    invitees: list[Invitee], book: PartyBook, absences: dict[int, list[Interval]], candidate: Interval, tz: ZoneInfo
) -> list[_Unavailable]:
    out = []
    for inv in invitees:
        away = [a for a in absences.get(inv.provider_id, []) if a.start < candidate.end and candidate.start < a.end]
        if inv.provider_id and away:
            out.append(_Unavailable(inv, f"{inv.label} is absent"))
            continue
        conflict = book.busy[inv.party].clash(candidate, book.speed)
        if conflict is not None:
            out.append(_Unavailable(inv, book.describe(inv.party, conflict, tz)))
    return out


def _check_time(start: datetime, end: datetime, now: datetime, tz: ZoneInfo) -> None:
    if start.tzinfo is None:
        raise DomainError("The start must include a time zone.", code="naive_datetime")
    if start < now:
        raise DomainError("A meeting cannot be booked in the past.", code="in_the_past")
    name = closed_reason(start.astimezone(tz).date())
    if name:
        raise DomainError(f"{start.astimezone(tz):%d.%m.%Y} is a closed day ({name}).", code="holiday")


def book_meeting(
    *,
    placement: Placement,
    kind: str,
    start: datetime,
    by,
    now: datetime,
    duration_minutes: int = 60,
    include_child: bool = False,
    child_required: bool = False,
    in_person_at: Household | None = None,
    title: str = "",
    allow_missing: bool = False,
) -> Meeting:
    """Book a meeting at ``start`` for everyone invited who is free then.

    A required invitee who is absent or booked refuses the booking (``Conflict`` naming them)
    unless ``allow_missing``: then they are kept as participants who do not attend, without a
    booking. Optional invitees who are busy never block it. Nobody is ever double-booked.
    """
    _check_kind(kind)
    length = _check_duration(duration_minutes)
    tz = ZoneInfo(_zone(placement))
    end = start + length
    _check_time(start, end, now, tz)
    invitees = invitees_for(placement=placement, include_child=include_child, child_required=child_required)
    location, address = _location(in_person_at)
    with booking_transaction([i.party for i in invitees]) as party_ids:
        book = PartyBook({i.party: i.label for i in invitees}, speed=travel_speed_kmh()).load(start=start, end=end)
        absences = provider_absences([i.provider_id for i in invitees if i.provider_id], start=start, end=end)
        missing = _unavailable(invitees, book, absences, Interval(start, end, location, "meeting"), tz)
        _refuse_if_missing(missing, invitees, allow_missing)
        meeting = Meeting.objects.create(
            municipality_id=placement.municipality_id, placement=placement, kind=kind,
            title=title or MeetingKind(kind).label, start=start, end=end,
            latitude=location.lat if location else None, longitude=location.lon if location else None,
            place_name=address, place_household=in_person_at, created_by=actor(by), created_at=now, updated_at=now,
        )
        away = {m.invitee.party for m in missing}
        MeetingParticipant.objects.bulk_create([
            MeetingParticipant(
                meeting=meeting, party=i.party, role=i.role, label=i.label, required=i.required,
                attending=i.party not in away, user_id=i.user_id, household_id=i.household_id,
                provider_id=i.provider_id, child_id=i.child_id,
            )
            for i in invitees
        ])
        attending = [i.party for i in invitees if i.party not in away]
        Booking.objects.bulk_create(new_bookings(attending, party_ids=party_ids, start=start, end=end, location=location,
                                                   meeting=meeting))
        _history(meeting, MeetingChange.Action.BOOKED, by=by, now=now, details={
            "not_attending": {m.invitee.party: m.reason for m in missing},
        })
        audit.record(actor=by, action="meeting.book", obj=meeting, details={"kind": kind})
        calendar_publish.changed(meeting=meeting, by=by, now=now)
    return meeting


def _refuse_if_missing(missing: list[_Unavailable], invitees: list[Invitee], allow_missing: bool) -> None:
    required = [m for m in missing if m.invitee.required]
    if len(missing) == len(invitees):
        raise Conflict("Nobody invited is free at that time.", code="nobody_free")
    if required and not allow_missing:
        raise Conflict("Not everyone required is free: " + "; ".join(m.reason for m in required) + ".", code="clash")


def move_meeting(
    *, meeting: Meeting, new_start: datetime, reason: str, by, now: datetime, allow_missing: bool = False
) -> Meeting:
    """Move a meeting (same length); who can attend is worked out again. Bumps SEQUENCE."""
    reason = _require_reason(reason)
    meeting = Meeting.objects.select_related("placement").get(pk=meeting.pk)
    tz = ZoneInfo(_zone(meeting.placement))
    end = new_start + meeting.duration
    _check_time(new_start, end, now, tz)
    participants = list(meeting.participants.all())
    invitees = [
        Invitee(p.party, p.role, p.label, p.required, p.user_id, p.household_id, p.provider_id, p.child_id)
        for p in participants
    ]
    with booking_transaction([p.party for p in participants]) as party_ids:
        meeting = _locked_scheduled(meeting, now)
        book = PartyBook({i.party: i.label for i in invitees}, speed=travel_speed_kmh()).load(
            start=new_start, end=end, exclude_meetings=[meeting.pk]
        )
        absences = provider_absences([i.provider_id for i in invitees if i.provider_id], start=new_start, end=end)
        missing = _unavailable(invitees, book, absences, Interval(new_start, end, meeting.location, "meeting"), tz)
        _refuse_if_missing(missing, invitees, allow_missing)
        away = {m.invitee.party for m in missing}
        before = {"start": meeting.start.isoformat(), "end": meeting.end.isoformat()}
        meeting.bookings.filter(active=True).update(active=False)
        attending = [i.party for i in invitees if i.party not in away]
        Booking.objects.bulk_create(
            new_bookings(attending, party_ids=party_ids, start=new_start, end=end, location=meeting.location,
                         meeting=meeting)
        )
        for p in participants:
            p.attending = p.party not in away
        MeetingParticipant.objects.bulk_update(participants, ["attending"])
        meeting.start, meeting.end, meeting.reason = new_start, end, reason[:300]
        meeting.sequence += 1
        meeting.needs_attention, meeting.flag_reason, meeting.updated_at = False, "", now
        meeting.save()
        _history(meeting, MeetingChange.Action.MOVED, by=by, now=now, reason=reason, details={
            "from": before, "to": {"start": new_start.isoformat(), "end": end.isoformat()},
            "not_attending": {m.invitee.party: m.reason for m in missing},
        })
        audit.record(actor=by, action="meeting.move", obj=meeting)
        calendar_publish.changed(meeting=meeting, by=by, now=now)
    return meeting


def cancel_meeting(*, meeting: Meeting, reason: str, by, now: datetime) -> Meeting:
    """Cancel a meeting with a reason; everyone's time is released. Bumps SEQUENCE."""
    reason = _require_reason(reason)
    with transaction.atomic():
        meeting = _locked_scheduled(meeting, now)
        meeting.bookings.filter(active=True).update(active=False)
        meeting.status, meeting.reason = MeetingStatus.CANCELLED, reason[:300]
        meeting.sequence += 1
        meeting.needs_attention, meeting.flag_reason, meeting.updated_at = False, "", now
        meeting.save()
        _history(meeting, MeetingChange.Action.CANCELLED, by=by, now=now, reason=reason)
        audit.record(actor=by, action="meeting.cancel", obj=meeting)
        calendar_publish.changed(meeting=meeting, by=by, now=now)
    return meeting


def flag_meetings_for_absence(*, absence: ProviderAbsence, by, now: datetime) -> list[Meeting]:
    """Flag scheduled meetings the absent provider was to attend (called by ``flag_absence``)."""
    meetings = list(
        Meeting.objects.filter(
            status=MeetingStatus.SCHEDULED, start__lt=absence.ends_at, end__gt=max(absence.starts_at, now),
            participants__provider_id=absence.provider_id, participants__attending=True,
        ).distinct()
    )
    label = f"{absence.provider.name} absent ({absence.reason})"[:300]
    for meeting in meetings:
        meeting.needs_attention, meeting.flag_reason, meeting.updated_at = True, label, now
        _history(meeting, MeetingChange.Action.ABSENCE_FLAGGED, by=by, now=now, reason=label,
                 details={"absence": absence.pk})
    Meeting.objects.bulk_update(meetings, ["needs_attention", "flag_reason", "updated_at"])
    return meetings


def _locked_scheduled(meeting: Meeting, now: datetime) -> Meeting:
    locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if locked.status != MeetingStatus.SCHEDULED:
        raise InvalidTransition("The meeting is cancelled.")
    if locked.start <= now:
        raise InvalidTransition("The meeting has already started; past meetings are not changed.")
    return locked


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise DomainError("Say why (the reason is kept in the meeting's history).", code="reason_required",
                          fields={"reason": ["This field is required."]})
    return reason.strip()


def _history(meeting: Meeting, action: str, *, by, now: datetime, reason: str = "", details=None) -> MeetingChange:
    return MeetingChange.objects.create(
        meeting=meeting, action=action, at=now, by=actor(by), by_label=actor_label(by), reason=reason,
        sequence=meeting.sequence, details=details or {},
    )


__all__ = [
    "Invitee",
    "MeetingSearch",
    "book_meeting",
    "cancel_meeting",
    "find_meeting",
    "flag_meetings_for_absence",
    "invitees_for",
    "move_meeting",
]
