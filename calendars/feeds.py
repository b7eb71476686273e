"""What each feed contains, its HTTP validators, and rendering it.

Who sees what:

* a **household** (foster or birth parents): the active and ended session series it receives or,
  for a respite family, hosts; the meetings it is invited to; and (a foster family) its own
  ledger milestones, what it is owed (``calendars.milestones``);
* a **provider**: its session series and the meetings it is invited to;
* a **consultant**: the meetings about their cases (and those they are invited to), and their
  cases' milestones (``calendars.milestones``);
* a **team**: the meetings about the cases of the team's consultants and team leads.

Proposed series are left out until the consultant confirms them; declined and replaced ones
are gone. Events that ended more than ``CALENDAR_FEED_HISTORY_DAYS`` ago are left out.

**Validators without rendering, without queries.** Every change a feed shows goes through
``calendars.publish.changed``, which bumps ``Feed.content_version`` of every feed that shows it, in
the same transaction. The ETag is a hash of that version, the feed's own settings and today's date
(a cancelled occurrence leaves the feed 30 days later, so the content also changes with the
calendar day); consultant and household feeds add their milestones, which change outside the
scheduler (a household's as subqueries of the token lookup). So a conditional GET that matches is
answered 304 from the feed row alone (one query; two for a consultant). What the hook does not see (a household renamed, a provider's new address) reaches
clients with the next day's ETag. Rendering loads everything in a fixed number of queries,
whatever the number of events (a test holds it to that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.http import http_date

from calendars import events, ical
from calendars import milestones as cal_milestones
from calendars.conf import setting
from calendars.models import Feed, FeedKind
from scheduler.models import (
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    OccurrenceStatus,
    SessionOccurrence,
    SessionSeries,
)
from support.models import HouseholdKind, Membership
from support.roles import STAFF_ROLES

# Bump when the rendering changes, so every client fetches the new form once.
FORMAT_VERSION = "2"  # 2: birth families no longer see a foster home as a meeting place
STAFF_FEEDS = (FeedKind.CONSULTANT, FeedKind.TEAM)


def _today_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(events.ZoneInfo(events.setting_zone()))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def series_for(feed: Feed, now: dt.datetime) -> QuerySet[SessionSeries]:
    if feed.kind == FeedKind.HOUSEHOLD:
        q = Q(household_id=feed.household_id) | Q(host_household_id=feed.household_id)
    elif feed.kind == FeedKind.PROVIDER:
        q = Q(provider_id=feed.provider_id)
    else:
        return SessionSeries.objects.none()
    oldest = (now - dt.timedelta(days=setting("CALENDAR_FEED_HISTORY_DAYS"))).date()
    return SessionSeries.objects.filter(q, status__in=events.LIVE_SERIES).filter(
        Q(until__isnull=True) | Q(until__gte=oldest)
    )


def meetings_for(feed: Feed, now: dt.datetime) -> QuerySet[Meeting]:
    invited = MeetingParticipant.objects.values("meeting_id")
    # A household or provider is a participant of a meeting at most once (one party per meeting),
    # so a plain join cannot repeat a meeting; it is also the cheapest query to build.
    if feed.kind == FeedKind.HOUSEHOLD:
        q = Q(participants__household_id=feed.household_id)
    elif feed.kind == FeedKind.PROVIDER:
        q = Q(participants__provider_id=feed.provider_id)
    elif feed.kind == FeedKind.CONSULTANT:
        q = Q(placement__consultant_id=feed.user_id) | Q(pk__in=invited.filter(user_id=feed.user_id))
    else:
        members = Membership.objects.filter(team_id=feed.team_id, role__in=STAFF_ROLES).values("user_id")
        q = Q(placement__consultant_id__in=members)
    oldest = now - dt.timedelta(days=setting("CALENDAR_FEED_HISTORY_DAYS"))
    shown = Q(status=MeetingStatus.SCHEDULED) | Q(status=MeetingStatus.CANCELLED,
                                                   updated_at__gte=events.keep_cancelled_since(now))
    return Meeting.objects.filter(q, shown, end__gte=oldest)


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(events.ZoneInfo(events.setting_zone())).date()


def milestones_for(feed: Feed, now: dt.datetime) -> list[cal_milestones.MilestoneItem]:
    """Deadlines shown as all-day events: a consultant's cases', a foster family's own (calendars.milestones)."""
    if feed.kind == FeedKind.CONSULTANT:
        return cal_milestones.for_consultant(feed.user_id, today=local_today(now), language=feed.language)
    if feed.kind == FeedKind.HOUSEHOLD:
        return cal_milestones.for_household(feed.household_id, today=local_today(now), language=feed.language)
    return []


def household_milestone_state(feed: Feed, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """(how many, newest change) of a household feed's milestones: from the annotations of the view's
    lookup (calendars.milestones.household_fingerprint) when present, else one query."""
    if hasattr(feed, "milestones_shown"):
        return feed.milestones_shown, feed.milestones_changed_at
    row = Feed.objects.filter(pk=feed.pk).annotate(**cal_milestones.household_fingerprint(local_today(now))).values_list(
        "milestones_shown", "milestones_changed_at").first()
    return row if row is not None else (0, None)


# --- Validators ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: dt.datetime

    @property
    def etag_header(self) -> str:
        return f'"{self.etag}"'

    @property
    def last_modified_header(self) -> str:
        return http_date(self.last_modified.timestamp())


def validators(feed: Feed, now: dt.datetime, *, milestones: list | None = None) -> Validators:
    today = _today_start(now)
    parts: list = [FORMAT_VERSION, feed.pk, feed.kind, feed.detailed, feed.language, feed.updated_at.isoformat(),
                   feed.content_version, today.date().isoformat()]
    newest = [feed.updated_at, today]
    if feed.content_changed_at is not None:
        newest.append(feed.content_changed_at)
    if feed.kind == FeedKind.CONSULTANT:
        items = milestones if milestones is not None else milestones_for(feed, now)
        parts.append(hashlib.sha256(repr([(i.uid, i.title, i.date, i.sequence) for i in items]).encode()).hexdigest())
        newest += [i.last_modified for i in items]
    elif feed.kind == FeedKind.HOUSEHOLD:
        # Milestones change outside the scheduler hook: their count and newest change name them.
        count, changed_at = household_milestone_state(feed, now)
        parts += [count, changed_at.isoformat() if changed_at else ""]
        if changed_at is not None:
            newest.append(changed_at)
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return Validators(etag=digest, last_modified=max(newest).replace(microsecond=0))


def affected(*, series: SessionSeries | None = None, meeting: Meeting | None = None) -> Q:
    """Which feeds show this series or meeting (for ``publish.changed`` to bump)."""
    q = Q(pk__in=[])
    if series is not None:
        households = [h for h in (series.household_id, series.host_household_id) if h]
        q |= Q(household_id__in=households) | Q(provider_id=series.provider_id)
    if meeting is not None:
        invited = list(meeting.participants.values_list("household_id", "provider_id", "user_id"))
        q |= Q(household_id__in=[h for h, _p, _u in invited if h])
        q |= Q(provider_id__in=[p for _h, p, _u in invited if p])
        users = {u for _h, _p, u in invited if u}
        consultant_id = meeting.placement.consultant_id
        if consultant_id:
            users.add(consultant_id)
            teams = Membership.objects.filter(user_id=consultant_id, role__in=STAFF_ROLES, team__isnull=False)
            q |= Q(team_id__in=teams.values("team_id"))
        q |= Q(user_id__in=users)
    return q


# --- Rendering --------------------------------------------------------------------------------------------------


def feed_name(feed: Feed) -> str:
    da = feed.language != "en"
    subject = feed.subject
    if feed.kind == FeedKind.HOUSEHOLD or feed.kind == FeedKind.PROVIDER:
        label = subject.name
    elif feed.kind == FeedKind.CONSULTANT:
        label = (subject.get_full_name() or subject.username) + (" (sager)" if da else " (cases)")
    else:
        label = subject.name
    return f"Plejenet — {label}"


SERIES_RELATED = ("provider", "household", "host_household", "need__service", "child")
# What a feed event needs (calendars.events); fewer columns make the joined query cheaper to build and read.
SERIES_FIELDS = (
    "uid", "status", "kind", "sequence", "rrule", "first_date", "start_minute", "time_zone", "duration", "exdates",
    "weekdays", "interval_weeks", "until", "remote", "created_at", "updated_at", "municipality_id",
    "provider__name", "provider__languages", "need__service__code", "need__service__name_da",
    "need__service__name_en", "child__display_name",
    *[f"{home}__{field}" for home in ("household", "host_household") for field in ("name", "street", "postcode", "city")],
)


def load_series(query: QuerySet[SessionSeries]) -> tuple[list[SessionSeries], dict[int, list[SessionOccurrence]]]:
    """The series with what their text needs, and their moved/cancelled occurrences: two queries."""
    series = list(query.select_related(*SERIES_RELATED).only(*SERIES_FIELDS).order_by("first_date", "pk"))
    overrides: dict[int, list[SessionOccurrence]] = {s.pk: [] for s in series}
    if series:
        rows = SessionOccurrence.objects.filter(
            series_id__in=list(overrides), status__in=[OccurrenceStatus.MOVED, OccurrenceStatus.CANCELLED]
        ).only("series_id", "original_start", "start", "end", "status", "updated_at")
        for occ in rows:
            overrides[occ.series_id].append(occ)
    return series, overrides


def render(feed: Feed, now: dt.datetime, *, milestones: list | None = None) -> bytes:
    """The whole feed as RFC 5545 bytes."""
    language = feed.language
    detailed = feed.detailed and feed.kind == FeedKind.HOUSEHOLD
    components = []
    zones = {events.setting_zone()}
    if feed.kind not in STAFF_FEEDS:
        series, overrides = load_series(series_for(feed, now))
        for s in series:
            event = events.series_event(s, overrides[s.pk], language=language, now=now, detailed=detailed)
            zones.add(s.time_zone)
            components += ical.series_components(event, cancelled_prefix=events.words(language)["cancelled"])
    meetings = meetings_for(feed, now).order_by("start", "pk")
    if detailed:
        meetings = meetings.select_related("placement__child")
    # A birth family's feed names a meeting's place only when it is their own home (calendars.events).
    birth_side = feed.kind == FeedKind.HOUSEHOLD and feed.household.kind == HouseholdKind.BIRTH
    birth_household_ids = {feed.household_id} if birth_side else None
    for meeting in meetings:
        event = events.meeting_event(
            meeting, language=language, detailed=detailed, staff=feed.kind in STAFF_FEEDS,
            birth_household_ids=birth_household_ids,
        )
        components.append(ical.single_component(event, cancelled_prefix=events.words(language)["cancelled"]))
    if feed.kind in (FeedKind.CONSULTANT, FeedKind.HOUSEHOLD):
        items = milestones if milestones is not None else milestones_for(feed, now)
        components += [ical.single_component(events.milestone_event(i, language=language)) for i in items]
    spec = ical.CalendarSpec(name=feed_name(feed), method="PUBLISH",
                             refresh_minutes=setting("CALENDAR_FEED_REFRESH_MINUTES"),
                             timezone_name=events.setting_zone())
    return ical.to_bytes(ical.build_calendar(spec, components, zones))
