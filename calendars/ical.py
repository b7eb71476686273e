"""RFC 5545 calendar objects from plain event descriptions, built with the ``icalendar`` library.

No Django and no database here: ``calendars.events`` turns rows into the dataclasses below
(deciding what may be shown), and this module only writes them down correctly.

Decisions:

* **Recurring series stay recurring**: one master VEVENT with DTSTART;TZID, DURATION, RRULE and
  EXDATE, plus one VEVENT per changed occurrence with the same UID and a RECURRENCE-ID (its
  original start, in the same TZID form as DTSTART). Expanding into single events would be
  simpler to write but makes a year of weekly sessions 52 objects, breaks "edit all" in
  clients and makes every iMIP update a flood. Moves are overrides; a cancelled occurrence is
  an override with STATUS:CANCELLED while it is recent, afterwards only an EXDATE.
* **DURATION, not DTEND, on masters**: the database adds whole days in wall-clock time and the
  rest exactly (``scheduler.recurrence.add_duration``), which is RFC 5545's nominal DURATION.
  With DTEND every instance would get the *exact* length of the first one, and a respite
  weekend across a DST change would end at 17:00 or 19:00 instead of 18:00.
* **SEQUENCE** of every component of a series is the series' SEQUENCE: the scheduler bumps it on
  every change to the series or any of its occurrences, so it only ever grows.
* **DTSTAMP** in a published feed is the event's last change (so a feed renders the same bytes
  until something changes); in an iMIP message it is when the message was made (RFC 5546).
* One VTIMEZONE per zone used; Europe/Copenhagen is written with the EU rule (RRULE
  BYDAY=-1SU in March and October), the form Thunderbird, Apple and Google emit themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vRecur,
    vText,
)

PRODID = "-//Plejenet//Plejenet kalender 1.0//DA"
UTC = dt.UTC


@dataclass(frozen=True)
class Override:
    """A changed occurrence: moved (``start``/``end``) or cancelled."""

    recurrence_id: dt.datetime  # the original start, aware
    start: dt.datetime
    end: dt.datetime
    cancelled: bool = False
    last_modified: dt.datetime | None = None


@dataclass(frozen=True)
class EventText:
    summary: str
    location: str = ""
    description: str = ""
    url: str = ""


@dataclass(frozen=True)
class SeriesEvent:
    uid: str
    sequence: int
    tz: ZoneInfo
    dtstart: dt.datetime  # aware, local
    duration: dt.timedelta
    rrule: str
    text: EventText
    created: dt.datetime
    last_modified: dt.datetime
    exdates: tuple[dt.datetime, ...] = ()
    overrides: tuple[Override, ...] = ()
    cancelled: bool = False


@dataclass(frozen=True)
class SingleEvent:
    uid: str
    sequence: int
    tz: ZoneInfo
    start: dt.datetime | dt.date  # a date means an all-day event (milestones)
    end: dt.datetime | dt.date
    text: EventText
    created: dt.datetime
    last_modified: dt.datetime
    cancelled: bool = False


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""


@dataclass
class CalendarSpec:
    """Calendar-level properties; ``method`` is None for a subscribed feed."""

    name: str = ""
    method: str | None = None
    refresh_minutes: int | None = None
    timezone_name: str = "Europe/Copenhagen"
    extra: dict = field(default_factory=dict)


# --- Time zones ------------------------------------------------------------------------------------------------


def _eu_timezone(tzid: str) -> Timezone:
    tz = Timezone()
    tz.add("tzid", tzid)
    tz.add("x-lic-location", tzid)
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("tzoffsetfrom", dt.timedelta(hours=1))
    summer.add("tzoffsetto", dt.timedelta(hours=2))
    summer.add("dtstart", dt.datetime(1970, 3, 29, 2, 0, 0))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("tzoffsetfrom", dt.timedelta(hours=2))
    winter.add("tzoffsetto", dt.timedelta(hours=1))
    winter.add("dtstart", dt.datetime(1970, 10, 25, 3, 0, 0))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


# Zones that follow the EU summer-time rule with CET/CEST (1996 onwards).
EU_CET_ZONES = frozenset({
    "Europe/Copenhagen", "Europe/Berlin", "Europe/Oslo", "Europe/Stockholm", "Europe/Amsterdam",
    "Europe/Brussels", "Europe/Paris", "Europe/Vienna", "Europe/Rome", "Europe/Madrid", "Europe/Warsaw",
    "Europe/Prague", "Europe/Zurich", "Europe/Budapest", "Europe/Luxembourg",
})


@lru_cache(maxsize=16)
def vtimezone(tzid: str) -> Timezone:
    """The VTIMEZONE for ``tzid``, built once per process: shared, so callers must not change it."""
    if tzid in EU_CET_ZONES:
        return _eu_timezone(tzid)
    # Anything else: icalendar derives the transitions from the zone database for a wide window.
    return Timezone.from_tzid(tzid, first_date=dt.date(2000, 1, 1), last_date=dt.date(2045, 1, 1))


# --- Components ---------------------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def _local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return value.astimezone(tz).replace(microsecond=0)


def _text(event: Event, text: EventText, *, cancelled: bool, cancelled_prefix: str) -> None:
    summary = f"{cancelled_prefix}{text.summary}" if cancelled and cancelled_prefix else text.summary
    event.add("summary", summary)
    if text.location:
        event.add("location", text.location)
    if text.description:
        event.add("description", text.description)
    if text.url:
        event.add("url", text.url, parameters={"VALUE": "URI"})


def _common(event: Event, *, uid: str, sequence: int, last_modified: dt.datetime, dtstamp: dt.datetime | None,
            cancelled: bool) -> None:
    # Only what clients use: every line costs on every render of every feed (CREATED and TRANSP:OPAQUE,
    # the default, are left out).
    event.add("uid", uid)
    event.add("dtstamp", _utc(dtstamp or last_modified))
    event.add("last-modified", _utc(last_modified))
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    # Clients that share or publish calendars hide the details of private events.
    event.add("class", "PRIVATE")


def _people(event: Event, organizer: Attendee | None, attendees: Sequence[Attendee]) -> None:
    if organizer is not None:
        address = vCalAddress(f"mailto:{organizer.email}")
        if organizer.name:
            address.params["cn"] = vText(organizer.name)
        event.add("organizer", address)
    for person in attendees:
        address = vCalAddress(f"mailto:{person.email}")
        if person.name:
            address.params["cn"] = vText(person.name)
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("NEEDS-ACTION")
        address.params["rsvp"] = vText("FALSE")
        event.add("attendee", address)


def _rrule(rule: str, dtstart: dt.datetime) -> vRecur:
    recur = vRecur.from_ical(rule)
    if "WKST" not in recur:
        # The week phase of an every-N-weeks rule depends on the week start; ours is Monday.
        recur["WKST"] = ["MO"]
    return recur


def series_components(
    event: SeriesEvent, *, dtstamp: dt.datetime | None = None, cancelled_prefix: str = "",
    organizer: Attendee | None = None, attendees: Sequence[Attendee] = (),
    only_recurrence_id: dt.datetime | None = None,
) -> list[Event]:
    """The master VEVENT and its overrides (or, with ``only_recurrence_id``, just that instance)."""
    tz = event.tz
    out: list[Event] = []
    if only_recurrence_id is None:
        master = Event()
        _common(master, uid=event.uid, sequence=event.sequence,
                last_modified=event.last_modified, dtstamp=dtstamp, cancelled=event.cancelled)
        master.add("dtstart", _local(event.dtstart, tz))
        master.add("duration", event.duration)
        master.add("rrule", _rrule(event.rrule, event.dtstart))
        if event.exdates:
            master.add("exdate", [_local(d, tz) for d in sorted(event.exdates)])
        _text(master, event.text, cancelled=event.cancelled, cancelled_prefix=cancelled_prefix)
        _people(master, organizer, attendees)
        out.append(master)
    for override in event.overrides:
        if only_recurrence_id is not None and override.recurrence_id != only_recurrence_id:
            continue
        instance = Event()
        _common(instance, uid=event.uid, sequence=event.sequence,
                last_modified=override.last_modified or event.last_modified, dtstamp=dtstamp,
                cancelled=override.cancelled or event.cancelled)
        instance.add("recurrence-id", _local(override.recurrence_id, tz))
        instance.add("dtstart", _local(override.start, tz))
        instance.add("dtend", _local(override.end, tz))
        _text(instance, event.text, cancelled=override.cancelled or event.cancelled, cancelled_prefix=cancelled_prefix)
        _people(instance, organizer, attendees)
        out.append(instance)
    return out


def single_component(
    event: SingleEvent, *, dtstamp: dt.datetime | None = None, cancelled_prefix: str = "",
    organizer: Attendee | None = None, attendees: Sequence[Attendee] = (),
) -> Event:
    component = Event()
    _common(component, uid=event.uid, sequence=event.sequence,
            last_modified=event.last_modified, dtstamp=dtstamp, cancelled=event.cancelled)
    if isinstance(event.start, dt.datetime):
        component.add("dtstart", _local(event.start, event.tz))
        component.add("dtend", _local(event.end, event.tz))
    else:
        component.add("dtstart", event.start)
        component.add("dtend", event.end)
        component["transp"] = "TRANSPARENT"  # a deadline does not make anyone busy
    _text(component, event.text, cancelled=event.cancelled, cancelled_prefix=cancelled_prefix)
    _people(component, organizer, attendees)
    return component


# --- Calendars ----------------------------------------------------------------------------------------------------


def build_calendar(spec: CalendarSpec, components: Iterable[Event], zones: Iterable[str]) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if spec.method:
        cal.add("method", spec.method)
    if spec.name:
        cal.add("name", spec.name)
        cal.add("x-wr-calname", spec.name)
    if spec.timezone_name:
        cal.add("x-wr-timezone", spec.timezone_name)
    if spec.refresh_minutes:
        refresh = dt.timedelta(minutes=spec.refresh_minutes)
        cal.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(refresh))
    for key, value in spec.extra.items():
        cal.add(key, value)
    cal.zones = tuple(sorted(set(zones)))  # written by to_bytes from the cache below
    for component in components:
        cal.add_component(component)
    return cal


@lru_cache(maxsize=16)
def vtimezone_bytes(tzid: str) -> bytes:
    return vtimezone(tzid).to_ical()


def to_bytes(cal: Calendar) -> bytes:
    """CRLF line ends and lines folded at 75 octets, as icalendar writes them.

    The VTIMEZONEs are serialised once per process and put in front of the first event: they are
    a tenth of a small feed's lines, and the same in every feed.
    """
    body = cal.to_ical()
    zones = b"".join(vtimezone_bytes(tzid) for tzid in getattr(cal, "zones", ()))
    if not zones:
        return body
    at = body.find(b"BEGIN:VEVENT\r\n")
    if at < 0:
        at = body.rindex(b"END:VCALENDAR\r\n")
    return body[:at] + zones + body[at:]
