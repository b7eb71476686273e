"""What an event says, and to whom: rows in, ``calendars.ical`` dataclasses out.

This is where the privacy rules live, in one place for feeds, invitations and CalDAV pushes.
Calendars are read by third-party services (Google, Microsoft, Apple), so by default an event
says only:

* the kind of session and the provider ("Supervision — Mette K."), or the kind of meeting;
* where it is (the address, or "Online"), except that birth parents are told the address of a
  meeting only when it is held in their own home: a foster family's address (or name) is not
  sent to the child's birth family's calendars and mailboxes, the consultant tells them where;
* a link to the event in Plejenet, where the people allowed to see more can see it.

Never the child's name, a diagnosis, a risk level, a reason or any other free text. Services
whose very name is sensitive (addiction treatment, psychologist) are called "Samtale"
("Appointment"). A household may opt in, per feed (``Feed.detailed``), to the child's name and
the meeting's title in its own feed; emails and CalDAV pushes never carry them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from zoneinfo import ZoneInfo

from calendars import ical
from calendars.conf import portal_event_url, setting
from scheduler.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    OccurrenceStatus,
    SeriesStatus,
    SessionSeries,
)
from scheduler.recurrence import localize

LIVE_SERIES = (SeriesStatus.ACTIVE, SeriesStatus.ENDED)

WORDS = {
    "da": {
        "online": "Online",
        "place_withheld": "Sted: oplyses af jeres konsulent",
        "details": "Se detaljer i Plejenet",
        "cancelled": "Aflyst: ",
        "appointment": "Samtale",
        "case": "anbringelse",
        "child": "Barn",
        MeetingKind.START_UP: "Opstartsmøde",
        MeetingKind.FOLLOW_UP: "Opfølgningsmøde",
        "deadline": "Frist",
    },
    "en": {
        "online": "Online",
        "place_withheld": "Place: your consultant will tell you",
        "details": "Details in Plejenet",
        "cancelled": "Cancelled: ",
        "appointment": "Appointment",
        "case": "placement",
        "child": "Child",
        MeetingKind.START_UP: "Start-up meeting",
        MeetingKind.FOLLOW_UP: "Follow-up meeting",
        "deadline": "Deadline",
    },
}


def words(language: str) -> dict:
    return WORDS.get(language, WORDS["da"])


def _address(household) -> str:
    if household is None:
        return ""
    town = f"{household.postcode} {household.city}".strip()
    return ", ".join(part for part in (household.street, town) if part)


def _description(language: str, uid: str, extra: Iterable[str] = ()) -> tuple[str, str]:
    url = portal_event_url(uid)
    lines = [*extra, f"{words(language)['details']}: {url}"]
    return "\n".join(lines), url


def service_label(series: SessionSeries, language: str) -> str:
    service = series.need.service
    if service.code in setting("CALENDAR_SENSITIVE_SERVICES"):
        return words(language)["appointment"]
    return service.name_en if language == "en" else service.name_da


def series_text(series: SessionSeries, *, language: str, detailed: bool = False) -> ical.EventText:
    summary = f"{service_label(series, language)} — {series.provider.name}"
    extra = []
    if detailed and series.child_id is not None:
        summary += f" · {series.child.display_name}"
        extra.append(f"{words(language)['child']}: {series.child.display_name}")
    if series.remote:
        location = words(language)["online"]
    else:
        location = _address(series.host_household if series.is_respite else series.household)
    description, url = _description(language, series.uid, extra)
    return ical.EventText(summary=summary, location=location, description=description, url=url)


def series_dtstart(series: SessionSeries) -> dt.datetime:
    wall = dt.datetime.combine(series.first_date, dt.time(series.start_minute // 60, series.start_minute % 60))
    return localize(wall, ZoneInfo(series.time_zone))


def keep_cancelled_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=setting("CALENDAR_CANCELLED_KEEP_DAYS"))


def series_event(
    series: SessionSeries, overrides: Iterable, *, language: str, now: dt.datetime, detailed: bool = False,
) -> ical.SeriesEvent:
    """The series as one recurring event. ``overrides`` are its moved and cancelled occurrences.

    A cancelled occurrence is an override with STATUS:CANCELLED for ``CALENDAR_CANCELLED_KEEP_DAYS``
    after it was cancelled (so clients that keep it show it struck through), then only an EXDATE.
    """
    tz = ZoneInfo(series.time_zone)
    exdates = set(series.exdate_instants)
    kept = []
    since = keep_cancelled_since(now)
    for occ in overrides:
        if occ.status == OccurrenceStatus.CANCELLED and occ.updated_at < since:
            exdates.add(occ.original_start)
        elif occ.status in (OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED):
            kept.append(ical.Override(
                recurrence_id=occ.original_start, start=occ.start, end=occ.end,
                cancelled=occ.status == OccurrenceStatus.CANCELLED, last_modified=occ.updated_at,
            ))
    kept.sort(key=lambda o: o.recurrence_id)
    return ical.SeriesEvent(
        uid=series.uid, sequence=series.sequence, tz=tz, dtstart=series_dtstart(series), duration=series.duration,
        rrule=series.rrule, text=series_text(series, language=language, detailed=detailed),
        created=series.created_at, last_modified=series.updated_at, exdates=tuple(sorted(exdates)),
        overrides=tuple(kept), cancelled=series.status not in LIVE_SERIES,
    )


def meeting_place(meeting: Meeting, *, language: str, birth_household_ids: Collection[int] | None = None) -> str:
    """Where the meeting is, as this reader may be told: "Online", the address, or, for a reader from
    the birth family (`birth_household_ids`: their households) and a meeting not held in one of
    their homes, that the consultant will tell them."""
    w = words(language)
    if meeting.latitude is None:
        return w["online"]
    if birth_household_ids is not None and meeting.place_household_id not in set(birth_household_ids):
        return w["place_withheld"]
    return meeting.place_name


def meeting_text(
    meeting: Meeting, *, language: str, detailed: bool = False, staff: bool = False,
    birth_household_ids: Collection[int] | None = None,
) -> ical.EventText:
    w = words(language)
    summary = w.get(meeting.kind, w[MeetingKind.FOLLOW_UP])
    if staff:
        summary += f" ({w['case']} #{meeting.placement_id})"
    extra = []
    if detailed:
        child = meeting.placement.child.display_name
        summary += f" · {child}"
        if meeting.title and meeting.title != MeetingKind(meeting.kind).label:
            extra.append(meeting.title)
        extra.append(f"{w['child']}: {child}")
    location = meeting_place(meeting, language=language, birth_household_ids=birth_household_ids)
    description, url = _description(language, meeting.uid, extra)
    return ical.EventText(summary=summary, location=location, description=description, url=url)


def meeting_event(
    meeting: Meeting, *, language: str, detailed: bool = False, staff: bool = False,
    birth_household_ids: Collection[int] | None = None,
) -> ical.SingleEvent:
    text = meeting_text(
        meeting, language=language, detailed=detailed, staff=staff, birth_household_ids=birth_household_ids
    )
    return ical.SingleEvent(
        uid=meeting.uid, sequence=meeting.sequence, tz=ZoneInfo(setting_zone()), start=meeting.start, end=meeting.end,
        text=text, created=meeting.created_at,
        last_modified=meeting.updated_at, cancelled=meeting.status == MeetingStatus.CANCELLED,
    )


def milestone_event(item, *, language: str) -> ical.SingleEvent:
    """A deadline (``calendars.milestones.MilestoneItem``) as an all-day event.

    Its title is the rule's kind of deadline and never holds the child's name; SEQUENCE and
    LAST-MODIFIED follow the milestone's last change (see calendars.milestones).
    """
    description, url = _description(language, item.uid)
    return ical.SingleEvent(
        uid=item.uid, sequence=item.sequence, tz=ZoneInfo(setting_zone()), start=item.date,
        end=item.date + dt.timedelta(days=1),
        text=ical.EventText(summary=f"{words(language)['deadline']}: {item.title}", description=description, url=url),
        created=item.created, last_modified=item.last_modified,
    )


def setting_zone() -> str:
    from django.conf import settings

    return settings.TIME_ZONE
