"""The one hook the scheduler calls: ``changed(series=..., meeting=..., occurrence=..., by=..., now=...)``.

Call it inside the scheduler service's transaction, after the change is saved. It writes the
outbox rows for everything that must now go out, in that same transaction (so the change and
its messages commit together or not at all), and queues their delivery for after the commit.
It is idempotent: calling it twice for the same state queues nothing new.

What goes out, decided from the state of the row (not from which service called):

* a **series** that is proposed: nothing yet (nobody is invited before the consultant confirms);
  active or ended: ``REQUEST`` with the whole series to each participant, or, when one
  occurrence was cancelled (``occurrence``), ``CANCEL`` of that occurrence (RECURRENCE-ID) to those
  already invited; declined or replaced: ``CANCEL`` of the series to those who were invited;
* a **meeting** that is scheduled: ``REQUEST``; cancelled: ``CANCEL`` to those who were invited;
* and for a provider with a connected CalDAV calendar, a sync of the event (PUT or DELETE).

Feeds need nothing: they are read on demand, and their validators see the change.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F

from calendars import events, feeds, ical, imip, outbox
from calendars.imip import Recipient
from calendars.models import CalDavConnection, Channel, ConnectionStatus, Feed, OutboxMessage
from scheduler.models import (
    Meeting,
    MeetingStatus,
    OccurrenceStatus,
    ParticipantRole,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
    ical_utc,
)
from support.models import ContactPerson, HouseholdKind

SERIES_RELATED = ("provider", "household", "host_household", "need__service", "municipality", "child")


def changed(*, series: SessionSeries | None = None, meeting: Meeting | None = None,
            occurrence: SessionOccurrence | None = None, by=None, now: dt.datetime) -> list[int]:
    """Queue the invitations and CalDAV pushes a change calls for; returns the new outbox row ids."""
    ids: list[int] = []
    if series is not None:
        ids += _series_changed(series, occurrence, now)
    if meeting is not None:
        ids += _meeting_changed(meeting, now)
    _bump_feeds(series=series, meeting=meeting, now=now)
    outbox.deliver_after_commit(ids)
    return ids


def _bump_feeds(*, series: SessionSeries | None, meeting: Meeting | None, now: dt.datetime) -> None:
    """New validators for every feed that shows the event: their next conditional GET gets a 200."""
    Feed.objects.filter(feeds.affected(series=series, meeting=meeting)).update(
        content_version=F("content_version") + 1, content_changed_at=now,
    )


# --- Who ---------------------------------------------------------------------------------------------------------


def _language(languages) -> str:
    return "en" if languages and languages[0] == "en" else "da"


def _birth_side(household) -> frozenset[int] | None:
    return frozenset({household.pk}) if household.kind == HouseholdKind.BIRTH else None


def _household_recipients(households) -> list[Recipient]:
    households = [h for h in households if h is not None]
    out = [Recipient(h.email, h.name, _language(h.languages), _birth_side(h)) for h in households if h.email]
    by_pk = {h.pk: h for h in households}
    contacts = ContactPerson.objects.filter(household_id__in=list(by_pk)).exclude(email="").order_by("pk")
    out += [
        Recipient(c.email, c.name, _language(by_pk[c.household_id].languages), _birth_side(by_pk[c.household_id]))
        for c in contacts
    ]
    return out


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    """One recipient per address. An address that is also the birth family's is treated as theirs
    (told less), and told a meeting's place only for homes that are theirs."""
    merged: dict[str, Recipient] = {}
    for r in recipients:
        address = r.email.strip().lower()
        if not address:
            continue
        seen = merged.get(address)
        if seen is None:
            merged[address] = Recipient(address, r.name, r.language, r.birth_household_ids)
        elif r.birth_household_ids is not None:
            ids = r.birth_household_ids | (seen.birth_household_ids or frozenset())
            merged[address] = Recipient(address, seen.name, seen.language, ids)
    return list(merged.values())


def series_recipients(series: SessionSeries) -> list[Recipient]:
    provider = series.provider
    people = [Recipient(provider.email, provider.name, _language(provider.languages))] if provider.email else []
    people += _household_recipients([series.household, series.host_household])
    return _unique(people)


def meeting_recipients(meeting: Meeting) -> list[Recipient]:
    participants = list(meeting.participants.select_related("user", "household", "provider").order_by("role", "pk"))
    people = []
    for p in participants:
        if p.user is not None and p.user.email:
            birth = frozenset({p.household_id} - {None}) if p.role == ParticipantRole.BIRTH_PARENTS else None
            people.append(Recipient(p.user.email, p.user.get_full_name() or p.user.username, "da", birth))
        if p.provider is not None and p.provider.email:
            people.append(Recipient(p.provider.email, p.provider.name, _language(p.provider.languages)))
    people += _household_recipients([p.household for p in participants])
    return _unique(people)


def _invited(uid: str) -> set[str]:
    """Addresses that have been sent a REQUEST for this event (queued or sent)."""
    return set(OutboxMessage.objects.filter(channel=Channel.EMAIL, uid=uid, method="REQUEST")
               .values_list("recipient", flat=True))


def _email_key(uid: str, sequence: int, method: str, recurrence: str, address: str) -> str:
    return f"email:{uid}:{sequence}:{method}:{recurrence or '-'}:{address}"[:250]


def _connections(provider_ids) -> list[CalDavConnection]:
    return list(CalDavConnection.objects.filter(provider_id__in=list(provider_ids))
                .exclude(status=ConnectionStatus.DISCONNECTED))


def _was_pushed(connection: CalDavConnection, uid: str) -> bool:
    return OutboxMessage.objects.filter(channel=Channel.CALDAV, key=outbox.caldav_key(connection.pk, uid)).exists()


# --- Series ------------------------------------------------------------------------------------------------------


def _series_changed(series: SessionSeries, occurrence: SessionOccurrence | None, now: dt.datetime) -> list[int]:
    series = SessionSeries.objects.select_related(*SERIES_RELATED).get(pk=series.pk)
    if series.status == SeriesStatus.PROPOSED:
        return []
    live = series.status in events.LIVE_SERIES
    people = series_recipients(series)
    connections = _connections([series.provider_id])
    if not people and not connections:
        return []  # nobody to tell: the common case in bulk scheduling stays cheap
    overrides = list(series.occurrences.filter(status__in=[OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED]))
    if occurrence is not None:
        occurrence = SessionOccurrence.objects.get(pk=occurrence.pk)
    invited = _invited(series.uid)
    ids = []
    for person in people:
        if not live and person.email not in invited:
            continue  # never invited, so nothing to cancel
        method, one, recurrence = "REQUEST", None, ""
        if not live:
            method = "CANCEL"
        elif occurrence is not None and occurrence.status == OccurrenceStatus.CANCELLED and person.email in invited:
            method, one, recurrence = "CANCEL", occurrence, ical_utc(occurrence.original_start)
        payload = imip.series_invitation(series, overrides, recipient=person, method=method, now=now, occurrence=one)
        row = outbox.enqueue_email(
            key=_email_key(series.uid, series.sequence, method, recurrence, person.email), uid=series.uid,
            method=method, sequence=series.sequence, recipient=person.email, payload=payload, now=now,
            municipality_id=series.municipality_id, series=series,
        )
        ids.append(row.pk if row else None)
    for connection in connections:
        if live or _was_pushed(connection, series.uid):
            row = outbox.enqueue_caldav(connection=connection, uid=series.uid, now=now, series=series,
                                        municipality_id=series.municipality_id, sequence=series.sequence)
            ids.append(row.pk if row else None)
    return [i for i in ids if i is not None]


# --- Meetings -----------------------------------------------------------------------------------------------------


def _meeting_changed(meeting: Meeting, now: dt.datetime) -> list[int]:
    meeting = Meeting.objects.select_related("municipality").get(pk=meeting.pk)
    live = meeting.status == MeetingStatus.SCHEDULED
    invited = _invited(meeting.uid)
    ids = []
    for person in meeting_recipients(meeting):
        if not live and person.email not in invited:
            continue
        method = "REQUEST" if live else "CANCEL"
        payload = imip.meeting_invitation(meeting, recipient=person, method=method, now=now)
        row = outbox.enqueue_email(
            key=_email_key(meeting.uid, meeting.sequence, method, "", person.email), uid=meeting.uid, method=method,
            sequence=meeting.sequence, recipient=person.email, payload=payload, now=now,
            municipality_id=meeting.municipality_id, meeting=meeting,
        )
        ids.append(row.pk if row else None)
    provider_ids = meeting.participants.filter(provider_id__isnull=False).values_list("provider_id", flat=True)
    for connection in _connections(provider_ids):
        if live or _was_pushed(connection, meeting.uid):
            row = outbox.enqueue_caldav(connection=connection, uid=meeting.uid, now=now, meeting=meeting,
                                        municipality_id=meeting.municipality_id, sequence=meeting.sequence)
            ids.append(row.pk if row else None)
    return [i for i in ids if i is not None]


# --- What a CalDAV calendar should hold --------------------------------------------------------------------------


def caldav_object(message: OutboxMessage, *, now: dt.datetime) -> tuple[tuple, bytes | None]:
    """The event of a CalDAV outbox row as it is now: (version, iCalendar bytes), or bytes None to delete.

    A provider's calendar holds the same event their feed shows (privacy defaults, no METHOD).
    """
    provider_id = message.connection.provider_id
    language = _language(message.connection.provider.languages)
    words = events.words(language)
    if message.series_id is not None:
        series = SessionSeries.objects.select_related(*SERIES_RELATED).get(pk=message.series_id)
        version = ("series", series.status, series.sequence, series.updated_at, series.provider_id)
        if series.status not in events.LIVE_SERIES or series.provider_id != provider_id:
            return version, None
        overrides = series.occurrences.filter(status__in=[OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED])
        event = events.series_event(series, overrides, language=language, now=now)
        components = ical.series_components(event, cancelled_prefix=words["cancelled"])
        zones = {series.time_zone}
    elif message.meeting_id is not None:
        meeting = Meeting.objects.get(pk=message.meeting_id)
        attends = meeting.participants.filter(provider_id=provider_id).exists()
        version = ("meeting", meeting.status, meeting.sequence, meeting.updated_at, attends)
        if meeting.status != MeetingStatus.SCHEDULED or not attends:
            return version, None
        components = [ical.single_component(events.meeting_event(meeting, language=language))]
        zones = {events.setting_zone()}
    else:
        return ("gone",), None
    spec = ical.CalendarSpec(timezone_name="")
    return version, ical.to_bytes(ical.build_calendar(spec, components, zones))
