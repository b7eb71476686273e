"""Parties, locks and bookings: the one place that decides whether time is free.

Used by ``scheduler.services.sessions`` and ``scheduler.services.meetings``. A *party* is anyone
whose time can be taken, named by a key: ``provider:12``, ``household:5``, ``user:7`` (a
consultant), ``child:3``, and ``place:9:2`` for place 2 of respite household 9 (so a household's
approved places are guaranteed by the same rule as everything else: a place is never taken twice).

How a write stays free of double bookings, on every database:

1. ``booking_transaction(keys)`` opens a transaction and locks each party's ``BookingParty`` row
   (sorted, so two writers never deadlock); it yields their ids. A second writer for the same
   party waits here.
2. The caller loads the parties' active bookings (``load_busy``) and checks its candidate times
   with the recurrence core's rule (overlap, or too little travel time between two in-person
   bookings), then writes its ``Booking`` rows.
3. On PostgreSQL the exclusion constraint ``booking_no_overlap`` rejects any overlapping active
   booking of a party, whatever the code above did; that ``IntegrityError`` becomes a
   ``support.errors.Conflict`` with a clear message.

On SQLite the lock-row insert is the transaction's first write, which takes SQLite's single
write lock, so writers are serialised there too.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Q

from scheduler.models import Booking, BookingParty
from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    DEFAULT_TRAVEL_SPEED_KMH,
    Interval,
    Location,
    WeeklyWindow,
    clashes,
)
from scheduler.recurrence import (
    Conflict as CoreConflict,
)
from support.errors import Conflict
from support.models import WEEKDAYS, ProviderAbsence, WeeklyAvailability

# How far around a candidate we look for bookings that could need travel time: 12 hours covers
# any two places in Denmark at the default 50 km/h.
LOOKAROUND = timedelta(hours=12)

# A party with no weekly availability on record: ordinary daytime hours on weekdays. The other
# party's windows do the real narrowing; without any default a session could land at 00:00.
DEFAULT_SESSION_WINDOWS = tuple(WeeklyWindow.of(day, "08:00", "20:00") for day in range(5))
# Consultants have no availability table: office hours.
OFFICE_HOURS = tuple(WeeklyWindow.of(day, "08:00", "16:00") for day in range(5))

OVERLAP_CONSTRAINT = "booking_no_overlap"


def travel_speed_kmh() -> float:
    return float(getattr(settings, "SESSION_TRAVEL_SPEED_KMH", DEFAULT_TRAVEL_SPEED_KMH))


def horizon_months() -> int:
    return int(getattr(settings, "SESSION_HORIZON_MONTHS", 12))


def closed_reason(day: date) -> str | None:
    """Why ``day`` has no sessions (a Danish public holiday or customary closed day), or None."""
    return DANISH_HOLIDAYS.closed_reason(day)


# --- Party keys --------------------------------------------------------------------------------------


def key(kind: str, *ids: int) -> str:
    """``key("provider", 12)`` -> ``"provider:12"``; ``key("place", 9, 2)`` -> ``"place:9:2"``."""
    return ":".join([kind, *(str(i) for i in ids)])


def place_keys(household_id: int, places: int) -> list[str]:
    return [key("place", household_id, n) for n in range(1, places + 1)]


def windows_from(rows: Iterable, *, default: tuple[WeeklyWindow, ...] | None) -> tuple[WeeklyWindow, ...] | None:
    """``WeeklyAvailability`` rows as core windows; ``default`` when there are none."""
    windows = tuple(WeeklyWindow(WEEKDAYS.index(r.day), r.start_minute, r.end_minute) for r in rows)
    return windows or default


def weekly_windows(*, provider_ids: Iterable[int] = (), household_ids: Iterable[int] = ()) -> dict[str, tuple[WeeklyWindow, ...]]:
    """Weekly availability of several providers and households in one query, by party key."""
    out: dict[str, list[WeeklyWindow]] = defaultdict(list)
    rows = WeeklyAvailability.objects.filter(
        Q(provider_id__in=list(provider_ids)) | Q(household_id__in=list(household_ids))
    ).values_list("provider_id", "household_id", "day", "start_minute", "end_minute")
    for provider_id, household_id, day, start, end in rows:
        owner = key("provider", provider_id) if provider_id else key("household", household_id)
        out[owner].append(WeeklyWindow(WEEKDAYS.index(day), start, end))
    return {k: tuple(v) for k, v in out.items()}


def location_of(obj) -> Location | None:
    lat, lon = getattr(obj, "latitude", None), getattr(obj, "longitude", None)
    return None if lat is None or lon is None else Location(lat, lon)


# --- Locks and transactions ----------------------------------------------------------------------


def lock_parties(keys: Iterable[str]) -> dict[str, int]:
    """Lock every party's row (creating missing ones), in a fixed order; returns their ids by key."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    BookingParty.objects.bulk_create([BookingParty(key=k) for k in ordered], ignore_conflicts=True)
    return dict(
        BookingParty.objects.select_for_update().filter(key__in=ordered).order_by("key").values_list("key", "id")
    )


def is_overlap_violation(exc: IntegrityError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "23P01" or OVERLAP_CONSTRAINT in str(exc)


DOUBLE_BOOKING_MESSAGE = (
    "Someone else booked the same time for the same person or household a moment ago, "
    "so this slot is no longer free. Nothing was saved; choose another time."
)


@contextmanager
def booking_transaction(keys: Iterable[str]) -> Iterator[dict[str, int]]:
    """An atomic block holding the parties' locks (yields their ids by key).

    The database's overlap veto (an ``IntegrityError`` from ``booking_no_overlap``) becomes a
    ``Conflict`` with a message a person understands.
    """
    try:
        with transaction.atomic():
            yield lock_parties(keys)
    except IntegrityError as exc:
        if is_overlap_violation(exc):
            raise Conflict(DOUBLE_BOOKING_MESSAGE, code="double_booking") from exc
        raise


# --- Reading busy time ---------------------------------------------------------------------------------


def load_busy(
    keys: Iterable[str],
    *,
    start: datetime,
    end: datetime,
    exclude_occurrences: Iterable[int] = (),
    exclude_meetings: Iterable[int] = (),
) -> dict[str, list[Interval]]:
    """Each party's active bookings touching ``[start - LOOKAROUND, end + LOOKAROUND)``, one query."""
    keys = list(dict.fromkeys(keys))
    out: dict[str, list[Interval]] = {k: [] for k in keys}
    if not keys:
        return out
    query = Booking.objects.filter(
        party__key__in=keys, active=True, start__lt=end + LOOKAROUND, end__gt=start - LOOKAROUND
    )
    skip_occ, skip_meet = list(exclude_occurrences), list(exclude_meetings)
    if skip_occ:
        query = query.exclude(occurrence_id__in=skip_occ)
    if skip_meet:
        query = query.exclude(meeting_id__in=skip_meet)
    rows = query.values_list("party__key", "start", "end", "latitude", "longitude", "occurrence_id", "meeting_id")
    for party, b_start, b_end, lat, lon, occ_id, meeting_id in rows:
        loc = None if lat is None else Location(lat, lon)
        ref = f"occurrence:{occ_id}" if occ_id else f"meeting:{meeting_id}"
        out[party].append(Interval(b_start, b_end, loc, ref))
    return out


def provider_absences(provider_ids: Iterable[int], *, start: datetime, end: datetime) -> dict[int, list[Interval]]:
    out: dict[int, list[Interval]] = defaultdict(list)
    rows = ProviderAbsence.objects.filter(
        provider_id__in=list(provider_ids), starts_at__lt=end, ends_at__gt=start
    ).values_list("provider_id", "starts_at", "ends_at", "reason", "pk")
    for provider_id, a_start, a_end, reason, pk in rows:
        out[provider_id].append(Interval(a_start, a_end, None, f"absence:{pk} ({reason})"))
    return out


class BusyIndex:
    """One party's bookings, sorted, for fast "does this clash?" questions (incl. travel time)."""

    def __init__(self, intervals: Iterable[Interval] = ()):
        self.items = sorted(intervals, key=lambda i: (i.start, i.end))
        self.starts = [i.start for i in self.items]
        self.longest = max((i.duration for i in self.items), default=timedelta(0))

    def near(self, start: datetime, end: datetime) -> list[Interval]:
        lo = bisect.bisect_left(self.starts, start - LOOKAROUND - self.longest)
        hi = bisect.bisect_left(self.starts, end + LOOKAROUND)
        return self.items[lo:hi]

    def clash(self, candidate: Interval, speed: float) -> CoreConflict | None:
        found = clashes(candidate, self.near(candidate.start, candidate.end), travel_speed_kmh=speed)
        return found[0] if found else None

    def overlapping(self, start: datetime, end: datetime) -> list[Interval]:
        return [i for i in self.near(start, end) if i.start < end and start < i.end]

    def add(self, interval: Interval) -> None:
        pos = bisect.bisect_right(self.starts, interval.start)
        self.items.insert(pos, interval)
        self.starts.insert(pos, interval.start)
        self.longest = max(self.longest, interval.duration)


@dataclass
class PartyBook:
    """The parties a write touches, with their labels and bookings, loaded under their locks."""

    labels: dict[str, str]
    busy: dict[str, BusyIndex] = field(default_factory=dict)
    speed: float = DEFAULT_TRAVEL_SPEED_KMH

    def load(self, *, start: datetime, end: datetime, **exclude) -> PartyBook:
        loaded = load_busy(self.labels, start=start, end=end, **exclude)
        self.busy = {k: BusyIndex(v) for k, v in loaded.items()}
        return self

    def first_clash(self, candidate: Interval, keys: Iterable[str] | None = None) -> tuple[str, CoreConflict] | None:
        for k in keys if keys is not None else self.labels:
            conflict = self.busy[k].clash(candidate, self.speed)
            if conflict is not None:
                return k, conflict
        return None

    def add(self, keys: Iterable[str], interval: Interval) -> None:
        for k in keys:
            self.busy[k].add(interval)

    def describe(self, party: str, conflict: CoreConflict, tz: ZoneInfo) -> str:
        return describe_clash(self.labels.get(party, party), conflict, tz)


def describe_clash(label: str, conflict: CoreConflict, tz: ZoneInfo) -> str:
    other = conflict.second
    when = f"{other.start.astimezone(tz):%d.%m.%Y %H:%M}–{other.end.astimezone(tz):%H:%M}"
    if conflict.kind == "travel":
        return (
            f"{label} is booked {when} elsewhere and needs {conflict.travel_minutes} minutes to travel "
            "between the two places"
        )
    return f"{label} is already booked {when}"


def new_bookings(
    keys: Iterable[str], *, party_ids: dict[str, int], start: datetime, end: datetime, location: Location | None,
    **source,
) -> list[Booking]:
    lat, lon = (location.lat, location.lon) if location else (None, None)
    return [
        Booking(party_id=party_ids[k], start=start, end=end, latitude=lat, longitude=lon, **source) for k in keys
    ]


def fast_insert(model, fields: list[str], rows: list[tuple], *, returning: tuple[str, ...] = ()) -> list[tuple]:
    """Insert many rows of ``model``; returns the ``returning`` fields of each inserted row.

    On PostgreSQL this is one ``INSERT ... SELECT * FROM unnest(%b::type[], ...)`` statement with
    the arrays sent in binary (a server-side binding cursor, wrapped by Django so errors and
    execute wrappers behave as usual): no model instance and no quoted literal per row, which
    matters for a year of sessions for 2,000 assignments (200,000 bookings). Elsewhere it is
    ``bulk_create``. ``fields`` are field names (a foreign key takes the related primary key).
    Constraints, including the no-overlap one, apply as usual.
    """
    if not rows:
        return []
    meta = model._meta
    if connection.vendor != "postgresql":
        objects = [model(**{meta.get_field(f).attname: v for f, v in zip(fields, row, strict=True)}) for row in rows]
        model.objects.bulk_create(objects)
        return [tuple(getattr(o, meta.get_field(f).attname) for f in returning) for o in objects]
    import psycopg

    quote = connection.ops.quote_name
    columns = [meta.get_field(f) for f in fields]
    # Identifiers come from the model's metadata (quoted); every value is a parameter.
    names = ", ".join(quote(c.column) for c in columns)
    arrays = ", ".join(f"%b::{c.db_type(connection)}[]" for c in columns)
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
    if returning:
        sql += " RETURNING " + ", ".join(quote(meta.get_field(f).column) for f in returning)
    connection.ensure_connection()
    with CursorWrapper(psycopg.Cursor(connection.connection), connection) as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        return [tuple(r) for r in cursor.fetchall()] if returning else []


def actor_label(by) -> str:
    return getattr(by, "username", "") or "system"


def actor(by):
    return by if getattr(by, "is_authenticated", False) else None
