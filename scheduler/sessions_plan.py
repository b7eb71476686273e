"""Planning a series' occurrences against its parties, and storing them (used by the sessions service).

A ``SeriesContext`` is a series' parties under their locks: which party keys every occurrence
books, the respite places to choose from, everybody's bookings (a ``PartyBook``, possibly shared
by a batch of series so that one series' new bookings are seen by the next) and the provider's
absences. ``plan_occurrences`` decides for each occurrence of a rule: book it, or skip it (closed
day, absence, clash, full) as an EXDATE with its reason. ``write_plan`` stores the result: all
occurrence rows and all bookings of many series in two statements on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.models import Booking, OccurrenceStatus, SessionOccurrence, SessionSeries
from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    Interval,
    Occurrence,
    Party,
    SeriesRule,
    expand,
    localize,
    occurrence_end,
    propose_replacements,
)
from scheduler.sessions_booking import (
    DEFAULT_SESSION_WINDOWS,
    BusyIndex,
    PartyBook,
    closed_reason,
    fast_insert,
    key,
    location_of,
    place_keys,
    provider_absences,
    travel_speed_kmh,
    weekly_windows,
)
from support.errors import Conflict


@dataclass
class SeriesContext:
    """A series' parties under their locks: who to book, what is busy, when the provider is away."""

    series: SessionSeries
    book: PartyBook
    absences: BusyIndex
    fixed: list[str]  # booked for every occurrence
    places: list[str] = field(default_factory=list)  # respite: pick ``children`` free ones
    children: int = 1

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.series.time_zone)

    def fit(
        self, start: datetime, end: datetime, location, *, closed_days: bool
    ) -> tuple[list[str], int | None, tuple[str, str] | None]:
        """``(keys to book, place, None)`` if the time is free, else ``([], None, (code, detail))``."""
        tz = self.tz
        if closed_days and not self.series.is_respite:
            name = closed_reason(start.astimezone(tz).date())
            if name:
                return [], None, ("holiday", name)
        absent = self.absences.overlapping(start, end)
        if absent:
            return [], None, ("absence", f"{self.series.provider.name} absent ({absent[0].ref})")
        hit = self.book.first_clash(Interval(start, end, location, "candidate"), self.fixed)
        if hit is not None:
            return [], None, ("clash", self.book.describe(*hit, tz))
        keys = list(self.fixed)
        place = None
        if self.places:
            free = [k for k in self.places if not self.book.busy[k].overlapping(start, end)]
            if len(free) < self.children:
                host = self.series.host_household
                return [], None, ("full", f"{len(self.places)} of {len(self.places)} place(s) at {host.name} taken")
            keys += free[: self.children]
            place = int(free[0].rsplit(":", 1)[1])
        return keys, place, None


def series_labels(series: SessionSeries) -> tuple[dict[str, str], list[str], list[str]]:
    """``(labels by party key, keys every occurrence books, respite place keys)`` for a series."""
    if series.is_respite:
        host = series.host_household
        places = place_keys(host.pk, host.approved_places)
        labels = {key("child", series.child_id): series.child.display_name}
        labels.update({k: f"{host.name}, place {k.rsplit(':', 1)[1]}" for k in places})
        return labels, [key("child", series.child_id)], places
    labels = {
        key("provider", series.provider_id): series.provider.name,
        key("household", series.household_id): series.household.name,
    }
    return labels, list(labels), []


def series_party_keys(series: SessionSeries) -> list[str]:
    return list(series_labels(series)[0])


def context_in(series: SessionSeries, book: PartyBook, absences: Iterable[Interval]) -> SeriesContext:
    """A context on an already loaded (possibly shared) book."""
    _labels, fixed, places = series_labels(series)
    return SeriesContext(series, book, BusyIndex(absences), fixed, places, series.children)


def load_context(series: SessionSeries, *, start: datetime, end: datetime, **exclude) -> SeriesContext:
    """Load one series' parties' bookings and the provider's absences around ``start..end``."""
    labels, _fixed, _places = series_labels(series)
    book = PartyBook(labels, speed=travel_speed_kmh()).load(start=start, end=end, **exclude)
    absences = provider_absences([series.provider_id], start=start - timedelta(days=1), end=end + timedelta(days=1))
    return context_in(series, book, absences.get(series.provider_id, []))


# --- Planning and writing ----------------------------------------------------------------------------------


@dataclass
class Plan:
    """What materialising will write: occurrence rows, the parties each books, new EXDATEs."""

    rows: list[tuple] = field(default_factory=list)  # (original_start, start, end, status, reason, place)
    keys: list[list[str]] = field(default_factory=list)  # parties to book, per row ([] for skipped)
    exdates: list[datetime] = field(default_factory=list)
    location: object = None

    @property
    def booked(self) -> int:
        return sum(1 for k in self.keys if k)

    @property
    def skipped(self) -> list[tuple[datetime, str]]:
        return [(r[0], r[4]) for r in self.rows if r[3] == OccurrenceStatus.SKIPPED]

    def add_exdates_to(self, series: SessionSeries) -> None:
        if self.exdates:
            series.exdates = sorted(set(series.exdates) | {d.astimezone(UTC).isoformat() for d in self.exdates})


def plan_occurrences(
    ctx: SeriesContext,
    rule: SeriesRule,
    *,
    start: datetime,
    end: datetime,
    existing: Iterable[datetime] = (),
    known_skips: Iterable[tuple[datetime, str]] = (),
    strict_until: datetime | None = None,
) -> Plan:
    """Decide, for each of the rule's occurrences in ``[start, end)`` not stored yet, book or skip.

    Each is checked against closed days, the provider's absences and every party's bookings
    (with travel time); one that does not fit is *skipped* and becomes an EXDATE, unless it
    clashes before ``strict_until``, which refuses the whole write (``Conflict``). Booked ones are
    added to the context's book at once, so later plans on the same book see them.
    """
    seen = set(existing)
    reasons = {o.original_start: o.reason for o in rule.overrides}
    plan = Plan(location=rule.location)
    for original_start, reason in known_skips:
        if original_start in seen or not (start <= original_start < end):
            continue
        seen.add(original_start)
        plan.rows.append((original_start, original_start, occurrence_end(rule, original_start),
                          OccurrenceStatus.SKIPPED, reason[:300], None))
        plan.keys.append([])
    for occ in expand(rule, start=start, end=end):
        if occ.original_start in seen:
            continue
        seen.add(occ.original_start)
        keys, place, problem = ctx.fit(occ.start, occ.end, occ.location, closed_days=not occ.moved)
        if problem is not None:
            code, detail = problem
            if code == "clash" and strict_until is not None and occ.start < strict_until:
                local = occ.start.astimezone(ctx.tz)
                raise Conflict(f"The session on {local:%d.%m.%Y %H:%M} clashes: {detail}.", code="clash")
            plan.rows.append((occ.original_start, occ.start, occ.end, OccurrenceStatus.SKIPPED,
                              f"{code}: {detail}"[:300], None))
            plan.keys.append([])
            plan.exdates.append(occ.original_start)
            continue
        status = OccurrenceStatus.MOVED if occ.moved else OccurrenceStatus.SCHEDULED
        plan.rows.append((occ.original_start, occ.start, occ.end, status,
                          reasons.get(occ.original_start, "")[:300], place))
        plan.keys.append(keys)
        ctx.book.add(keys, Interval(occ.start, occ.end, occ.location, "new"))
    return plan


OCCURRENCE_FIELDS = ["series", "original_start", "start", "end", "status", "reason", "place", "sequence",
                     "needs_attention", "flag_reason", "created_at", "updated_at"]
BOOKING_FIELDS = ["party", "start", "end", "active", "occurrence", "latitude", "longitude"]


def write_plans(items: Iterable[tuple[SessionSeries, Plan]], now: datetime, party_ids: dict[str, int]) -> None:
    """Store the planned occurrences and bookings of saved series (two statements on PostgreSQL)."""
    items = list(items)
    rows = [(series.pk, *row, 0, False, "", now, now) for series, plan in items for row in plan.rows]
    inserted = fast_insert(SessionOccurrence, OCCURRENCE_FIELDS, rows, returning=("id", "series", "original_start"))
    ids = {(series_id, start): pk for pk, series_id, start in inserted}
    bookings = []
    for series, plan in items:
        lat, lon = (plan.location.lat, plan.location.lon) if plan.location else (None, None)
        for row, keys in zip(plan.rows, plan.keys, strict=True):
            occurrence_id = ids[(series.pk, row[0])] if keys else None
            bookings += [(party_ids[party], row[1], row[2], True, occurrence_id, lat, lon) for party in keys]
    fast_insert(Booking, BOOKING_FIELDS, bookings)


# --- Replacements for an absence -------------------------------------------------------------------------


def _core_occurrence(row: SessionOccurrence, location) -> Occurrence:
    return Occurrence(row.original_start, row.start, row.end, location, moved=row.status == OccurrenceStatus.MOVED)


def _ref_id(interval: Interval) -> int | None:
    kind, _, pk = interval.ref.partition(":")
    return int(pk) if kind == "occurrence" and pk.isdigit() else None


def session_replacements(
    ctx: SeriesContext, rows: list[SessionOccurrence], absence: Interval, taken: list[Interval], *,
    now: datetime, start: datetime, end: datetime,
) -> dict[int, Interval]:
    """The core's ``propose_replacements`` for a sessions series, fed from the database.

    The series' own bookings go in as ``series`` (so the core keeps one session a day); the
    parties' busy time is everything else, plus ``taken``: replacements already proposed for the
    provider's other series, so two proposals never collide.
    """
    series = ctx.series
    provider_key, household_key = ctx.fixed
    own = list(series.occurrences.booked().filter(start__lt=end, end__gt=start))
    own_ids = {o.pk for o in own}
    windows = weekly_windows(provider_ids=[series.provider_id], household_ids=[series.household_id])
    provider = Party(
        provider_key, windows=windows.get(provider_key, DEFAULT_SESSION_WINDOWS),
        busy=tuple([i for i in ctx.book.busy[provider_key].items if _ref_id(i) not in own_ids] + taken),
        absences=tuple(ctx.absences.items), location=location_of(series.provider), tz=series.provider.time_zone,
    )
    household = Party(
        household_key, windows=windows.get(household_key, DEFAULT_SESSION_WINDOWS),
        busy=tuple(i for i in ctx.book.busy[household_key].items if _ref_id(i) not in own_ids),
        location=location_of(series.household), tz=series.household.time_zone,
    )
    by_start = {r.original_start: r for r in rows}
    replacements = propose_replacements(
        affected=[_core_occurrence(r, series.location) for r in rows], provider=provider, recipient=household,
        now=now, absence=absence, series=[_core_occurrence(o, series.location) for o in own],
        tz=series.time_zone, holidays=DANISH_HOLIDAYS, travel_speed_kmh=ctx.book.speed,
    )
    return {by_start[r.original.original_start].pk: r.proposed for r in replacements if r.proposed is not None}


def respite_replacements(ctx: SeriesContext, rows: list[SessionOccurrence], *, now: datetime) -> dict[int, Interval]:
    """The same weekend slot one to four weeks later, where the host is back and a place is free."""
    tz, series = ctx.tz, ctx.series
    rule = series.base_rule()
    out: dict[int, Interval] = {}
    for row in rows:
        wall = row.start.astimezone(tz).replace(tzinfo=None)
        for shift in range(1, 5):
            start = localize(wall + timedelta(weeks=shift), tz).astimezone(UTC)
            end = occurrence_end(rule, start)
            if start < now:
                continue
            keys, _place, problem = ctx.fit(start, end, series.location, closed_days=False)
            if problem is None:
                out[row.pk] = Interval(start, end, series.location, "replacement")
                ctx.book.add(keys, out[row.pk])
                break
    return out
