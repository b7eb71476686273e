"""iMIP (RFC 6047) invitations: a readable text and HTML body plus the text/calendar part.

The calendar part carries ``METHOD:REQUEST`` or ``METHOD:CANCEL`` (also as the MIME
``method`` parameter, which Outlook and Gmail look for), ORGANIZER, one ATTENDEE (the
recipient only: listing everyone would hand each family the other families' and the
providers' addresses), the feed's UID and the current SEQUENCE, so calendar apps update the
event in place. Bodies follow the same privacy rules as feeds (``calendars.events``): no child
names, reasons or other free text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from html import escape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEText

from calendars import events, ical
from calendars.conf import organizer_email
from scheduler.recurrence import add_duration

DAYS = {
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
TEXT = {
    "da": {
        "new": "Invitation", "update": "Ændret", "cancel": "Aflyst",
        "invited": "Du er inviteret til: {summary}.",
        "changed": "Denne aftale er ændret: {summary}.",
        "cancelled": "Denne aftale er aflyst: {summary}.",
        "cancelled_once": "Én gang er aflyst: {summary}, {when}.",
        "when": "Tid", "where": "Sted", "repeats": "Gentages", "first": "Første gang",
        "weekly": "hver uge", "every_n": "hver {n}. uge", "on": "om", "until": "til og med {date}",
        "at": "kl.", "details": "Se detaljer i Plejenet",
        "footer": "Invitationen opdaterer sig selv i din kalender, når aftalen ændres. "
                  "Svar ikke på denne mail; kontakt jeres konsulent, hvis noget ikke passer.",
    },
    "en": {
        "new": "Invitation", "update": "Updated", "cancel": "Cancelled",
        "invited": "You are invited to: {summary}.",
        "changed": "This appointment has changed: {summary}.",
        "cancelled": "This appointment is cancelled: {summary}.",
        "cancelled_once": "One occurrence is cancelled: {summary}, {when}.",
        "when": "When", "where": "Where", "repeats": "Repeats", "first": "First time",
        "weekly": "every week", "every_n": "every {n} weeks", "on": "on", "until": "until {date}",
        "at": "", "details": "Details in Plejenet",
        "footer": "This invitation updates itself in your calendar when the appointment changes. "
                  "Please do not reply to this email; contact your consultant if something is wrong.",
    },
}


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    language: str = "da"
    # Set for the birth family's people: their households (a meeting's place is named only when it
    # is one of these; calendars.events.meeting_place).
    birth_household_ids: frozenset[int] | None = None


def _lang(language: str) -> str:
    return language if language in TEXT else "da"


def format_date(day: dt.date, language: str) -> str:
    lang = _lang(language)
    if lang == "da":
        return f"{DAYS[lang][day.weekday()]} {day.day}. {MONTHS[lang][day.month - 1]} {day.year}"
    return f"{DAYS[lang][day.weekday()]} {day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def _clock(value: dt.datetime, language: str) -> str:
    return value.strftime("%H.%M" if _lang(language) == "da" else "%H:%M")


def format_span(start: dt.datetime, end: dt.datetime, tz: ZoneInfo, language: str) -> str:
    start, end = start.astimezone(tz), end.astimezone(tz)
    at = TEXT[_lang(language)]["at"]
    prefix = f"{at} " if at else ""
    if start.date() == end.date():
        return f"{format_date(start.date(), language)} {prefix}{_clock(start, language)}–{_clock(end, language)}"
    return (f"{format_date(start.date(), language)} {prefix}{_clock(start, language)} – "
            f"{format_date(end.date(), language)} {prefix}{_clock(end, language)}")


def _repeats(series, language: str) -> str:
    t = TEXT[_lang(language)]
    every = t["weekly"] if series.interval_weeks == 1 else t["every_n"].format(n=series.interval_weeks)
    days = ", ".join(DAYS[_lang(language)][d] for d in sorted(series.weekdays))
    line = f"{every} {t['on']} {days}"
    if series.until:
        line += ", " + t["until"].format(date=format_date(series.until, language))
    return line


def _organizer(municipality_name: str) -> ical.Attendee:
    return ical.Attendee(email=organizer_email(), name=f"Plejenet ({municipality_name})")


def _calendar(method: str, components, zones) -> str:
    spec = ical.CalendarSpec(method=method, timezone_name="")
    return ical.to_bytes(ical.build_calendar(spec, components, zones)).decode()


def _payload(method: str, subject: str, lines: list[str], url: str, ics: str, language: str) -> dict:
    t = TEXT[_lang(language)]
    text = "\n".join([*lines, "", f"{t['details']}: {url}", "", t["footer"], ""])
    html = (
        "<!doctype html><html><body style=\"font-family: sans-serif\">"
        + "".join(f"<p>{escape(line)}</p>" for line in lines)
        + f"<p><a href=\"{escape(url)}\">{escape(t['details'])}</a></p>"
        + f"<p style=\"color:#555;font-size:small\">{escape(t['footer'])}</p></body></html>"
    )
    return {"subject": subject, "text": text, "html": html, "ics": ics, "language": language, "method": method}


def series_invitation(series, overrides, *, recipient: Recipient, method: str, now: dt.datetime,
                      occurrence=None) -> dict:
    """REQUEST (the whole series, cancelled occurrences as EXDATEs), CANCEL of the series, or
    CANCEL of one occurrence (``occurrence``, with its RECURRENCE-ID)."""
    lang = _lang(recipient.language)
    t = TEXT[lang]
    event = events.series_event(series, overrides, language=lang, now=now)
    tz = event.tz
    summary = event.text.summary
    organizer = _organizer(series.municipality.name)
    attendee = [ical.Attendee(email=recipient.email, name=recipient.name)]
    if method == "CANCEL" and occurrence is not None:
        override = ical.Override(recurrence_id=occurrence.original_start, start=occurrence.start, end=occurrence.end,
                                 cancelled=True, last_modified=occurrence.updated_at)
        event = replace(event, overrides=(override,))
        components = ical.series_components(event, dtstamp=now, organizer=organizer, attendees=attendee,
                                            only_recurrence_id=occurrence.original_start)
        when = format_span(occurrence.start, occurrence.end, tz, lang)
        subject = f"{t['cancel']}: {summary}, {when}"
        lines = [t["cancelled_once"].format(summary=summary, when=when)]
    else:
        if method == "REQUEST":
            # In an invitation a cancelled occurrence is simply not there (an EXDATE).
            gone = tuple(o.recurrence_id for o in event.overrides if o.cancelled)
            event = replace(event, exdates=tuple(sorted({*event.exdates, *gone})),
                            overrides=tuple(o for o in event.overrides if not o.cancelled))
        else:
            event = replace(event, overrides=(), cancelled=True)
        components = ical.series_components(event, dtstamp=now, organizer=organizer, attendees=attendee)
        first_end = add_duration(event.dtstart, series.duration, tz)
        lines = [
            t["cancelled" if method == "CANCEL" else ("changed" if series.sequence else "invited")].format(summary=summary),
            f"{t['first']}: {format_span(event.dtstart, first_end, tz, lang)}",
            f"{t['repeats']}: {_repeats(series, lang)}",
        ]
        if event.text.location:
            lines.append(f"{t['where']}: {event.text.location}")
        head = t["cancel"] if method == "CANCEL" else (t["update"] if series.sequence else t["new"])
        subject = f"{head}: {summary}"
    ics = _calendar(method, components, {series.time_zone})
    return _payload(method, subject, lines, event.text.url, ics, lang)


def meeting_invitation(meeting, *, recipient: Recipient, method: str, now: dt.datetime) -> dict:
    lang = _lang(recipient.language)
    t = TEXT[lang]
    event = events.meeting_event(meeting, language=lang, birth_household_ids=recipient.birth_household_ids)
    if method == "CANCEL":
        event = replace(event, cancelled=True)
    component = ical.single_component(
        event, dtstamp=now, organizer=_organizer(meeting.municipality.name),
        attendees=[ical.Attendee(email=recipient.email, name=recipient.name)],
    )
    summary = event.text.summary
    when = format_span(meeting.start, meeting.end, event.tz, lang)
    key = "cancelled" if method == "CANCEL" else ("changed" if meeting.sequence else "invited")
    lines = [t[key].format(summary=summary), f"{t['when']}: {when}"]
    if event.text.location:
        lines.append(f"{t['where']}: {event.text.location}")
    head = t["cancel"] if method == "CANCEL" else (t["update"] if meeting.sequence else t["new"])
    ics = _calendar(method, [component], {events.setting_zone()})
    return _payload(method, f"{head}: {summary}, {when}", lines, event.text.url, ics, lang)


# --- The email --------------------------------------------------------------------------------------------------


class InvitationEmail(EmailMultiAlternatives):
    """Django's multipart/alternative email, with the iMIP ``method`` parameter on the calendar part."""

    def _create_mime_attachment(self, content, mimetype):
        if mimetype.startswith("text/calendar"):
            part = SafeMIMEText(content, "calendar", "utf-8")
            for param in mimetype.split(";")[1:]:
                name, _, value = param.strip().partition("=")
                if name.lower() == "method":
                    part.set_param("method", value)
            return part
        return super()._create_mime_attachment(content, mimetype)


def message_id(outbox_id: int) -> str:
    """The same Message-ID on every attempt, so a resend after a crash is recognisably the same mail."""
    domain = organizer_email().rpartition("@")[2] or "plejenet.invalid"
    return f"<calendar-outbox-{outbox_id}@{domain}>"


def build_email(*, outbox_id: int, recipient: str, payload: dict) -> InvitationEmail:
    email = InvitationEmail(
        subject=payload["subject"], body=payload["text"], from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient],
        headers={"Message-ID": message_id(outbox_id), "Auto-Submitted": "auto-generated",
                 "X-Auto-Response-Suppress": "All"},
    )
    email.attach_alternative(payload["html"], "text/html")
    email.attach_alternative(payload["ics"], f"text/calendar;method={payload['method']}")
    return email
