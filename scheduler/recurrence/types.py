"""The vocabulary of the recurrence core: frozen dataclasses in, frozen dataclasses out.

Conventions used throughout the package:

* Every ``datetime`` we hand out is timezone-aware. Instants (``Interval``, ``Occurrence``,
  EXDATEs, overrides) are normalised to UTC, which is what the database stores. The one
  exception is ``SeriesRule.dtstart``, which is deliberately *local* (aware, in the series'
  zone): a recurrence is defined in wall-clock time so that a 10:00 session stays at 10:00
  across daylight-saving changes.
* Weekly availability (``WeeklyWindow``) is wall-clock time in the party's own zone.
* Weekdays are ``0 = Monday .. 6 = Sunday`` (``date.weekday()``).
* Half-open intervals: ``[start, end)``. A session ending at 11:00 and one starting at 11:00
  do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/Copenhagen"
MINUTES_PER_DAY = 24 * 60
MAX_INTERVAL_WEEKS = 12  # less often than this is single meetings, not a series
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RecurrenceError(ValueError):
    """Invalid input to the recurrence core; ``code`` is stable, the message is for people.

    Services translate it into their own ``DomainError``; the core stays free of Django.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FrequencyError(RecurrenceError):
    pass


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise RecurrenceError("naive_datetime", f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecurrenceError("naive_datetime", f"{name} must be timezone-aware (got {value.isoformat()})")
    return value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for a zone name, with an error that names the bad value."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise RecurrenceError("unknown_timezone", f"unknown time zone {name!r}") from exc


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a wall-clock time, resolving DST edge cases the way RFC 5545 does.

    ``fold=0`` gives exactly the RFC 5545 (section 3.3.5) reading of a local DATE-TIME:
    an *ambiguous* time (the repeated hour when clocks go back in October) means its first
    occurrence, i.e. summer time; a *nonexistent* time (the skipped hour in March) is read
    with the UTC offset from before the gap, so 02:30 becomes 03:30 summer time. Calendar
    clients that read our RRULEs therefore show the same instants we book.
    """
    return naive.replace(tzinfo=tz, fold=0)


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    return localize(naive, tz).astimezone(UTC)


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lon <= 180.0):
            raise RecurrenceError("bad_location", f"not a coordinate: ({self.lat}, {self.lon})")


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring span of availability, e.g. Monday 09:00-15:00, in the party's local time.

    ``end_minute`` may be 1440 (midnight at the end of the day); a window that should run past
    midnight is written as two windows, which the availability check joins up again.
    """

    day: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if self.day not in range(7):
            raise RecurrenceError("bad_window", f"day must be 0 (Monday) .. 6 (Sunday), got {self.day}")
        if not (0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY):
            raise RecurrenceError(
                "bad_window",
                f"window minutes must satisfy 0 <= start < end <= 1440, got {self.start_minute}-{self.end_minute}",
            )

    @classmethod
    def of(cls, day: int, start: str | time, end: str | time) -> WeeklyWindow:
        """``WeeklyWindow.of(0, "09:00", "15:00")``; ``"24:00"`` is allowed as an end."""
        return cls(day, _minute_of(start), _minute_of(end))


def _minute_of(value: str | time) -> int:
    if isinstance(value, time):
        return value.hour * 60 + value.minute
    hours, _, minutes = value.partition(":")
    return int(hours) * 60 + int(minutes or 0)


@dataclass(frozen=True)
class Interval:
    """An aware span of time, stored in UTC.

    ``location`` is where the party physically is during the interval; ``None`` means remote
    (or nowhere in particular), and such intervals never need travel time around them.
    ``ref`` is an opaque label for the caller (e.g. ``"session:42"``) so conflicts can be named.
    """

    start: datetime
    end: datetime
    location: Location | None = None
    ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _require_aware(self.start, "Interval.start"))
        object.__setattr__(self, "end", _require_aware(self.end, "Interval.end"))
        if self.end <= self.start:
            raise RecurrenceError(
                "empty_interval", f"interval must end after it starts ({self.start} .. {self.end})"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval, *, buffer: timedelta = timedelta(0)) -> bool:
        """True if the two intervals are closer than ``buffer`` (half-open: touching is fine)."""
        return self.start < other.end + buffer and other.start < self.end + buffer

    @classmethod
    def local_days(cls, first: date, last: date, tz: str = DEFAULT_TZ, *, ref: str = "") -> Interval:
        """Whole local days ``first..last`` inclusive, e.g. an absence entered as dates."""
        if last < first:
            raise RecurrenceError("empty_interval", f"last day {last} is before first day {first}")
        zi = zone(tz)
        start = local_to_utc(datetime.combine(first, time()), zi)
        end = local_to_utc(datetime.combine(last + timedelta(days=1), time()), zi)
        return cls(start, end, ref=ref)


def _as_tuple(items: Iterable[Interval] | None, name: str) -> tuple[Interval, ...]:
    result = tuple(items or ())
    for item in result:
        if not isinstance(item, Interval):
            raise RecurrenceError(
                "bad_interval", f"{name} must hold Interval objects, got {type(item).__name__}"
            )
    return tuple(sorted(result, key=lambda i: (i.start, i.end)))


@dataclass(frozen=True)
class Party:
    """Someone whose time we schedule: a provider, a household, a consultant.

    ``windows`` is weekly availability in local time (``tz``). ``None`` means "no
    restriction" (e.g. a birth parent whose availability we do not know); an empty tuple means
    "never available". ``busy`` holds other bookings (with their locations, for travel time);
    ``absences`` holds holidays, sick leave and the like. Lists are accepted and stored as
    sorted tuples so the party stays immutable.
    """

    id: str
    windows: tuple[WeeklyWindow, ...] | None = None
    busy: tuple[Interval, ...] = ()
    absences: tuple[Interval, ...] = ()
    location: Location | None = None
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        if self.windows is not None:
            object.__setattr__(self, "windows", tuple(self.windows))
            if not all(isinstance(w, WeeklyWindow) for w in self.windows):
                raise RecurrenceError("bad_window", f"{self.id}: windows must be WeeklyWindow objects")
        object.__setattr__(self, "busy", _as_tuple(self.busy, "busy"))
        object.__setattr__(self, "absences", _as_tuple(self.absences, "absences"))
        zone(self.tz)


@dataclass(frozen=True)
class Frequency:
    """How often a series meets: ``days_per_interval`` weekdays every ``interval_weeks`` weeks."""

    interval_weeks: int = 1
    days_per_interval: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.interval_weeks <= MAX_INTERVAL_WEEKS):
            raise FrequencyError(
                "bad_frequency", f"interval must be 1..{MAX_INTERVAL_WEEKS} weeks, got {self.interval_weeks}"
            )
        if not (1 <= self.days_per_interval <= 7):
            raise FrequencyError(
                "bad_frequency", f"days per interval must be 1..7, got {self.days_per_interval}"
            )
        if self.interval_weeks > 1 and self.days_per_interval > 1:
            # Expressible in RRULE, but not something a need asks for; keep the search simple.
            raise FrequencyError(
                "bad_frequency", "several days per interval is only supported for weekly series"
            )

    @classmethod
    def from_sessions_per_week(cls, value: float) -> Frequency:
        """Map a need's ``sessions_per_week`` to a series frequency.

        2 -> twice a week (two different weekdays), 1 -> weekly, 0.5 -> every 2 weeks,
        0.25 -> every 4 weeks. Other values go to the nearest sensible frequency: at least
        one a week rounds half up to whole sessions a week (1.5 -> 2); below one a week the
        interval ``1/value`` rounds half up to whole weeks (0.3 -> every 3 weeks). Zero,
        negative, non-finite, more than 7 a week (one a day) and less often than every
        ``MAX_INTERVAL_WEEKS`` weeks are errors.
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FrequencyError("bad_frequency", f"sessions per week must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise FrequencyError(
                "bad_frequency", f"sessions per week must be a positive number, got {value!r}"
            )
        if number > 7:
            raise FrequencyError(
                "bad_frequency",
                f"{value} sessions per week is more than one a day; a series has at most 7 a week",
            )
        if number >= 1:
            return cls(interval_weeks=1, days_per_interval=min(7, math.floor(number + 0.5)))
        weeks = math.floor(1 / number + 0.5)
        if weeks > MAX_INTERVAL_WEEKS:
            raise FrequencyError(
                "bad_frequency",
                f"{value} sessions per week is less often than every {MAX_INTERVAL_WEEKS} weeks; "
                "book single meetings instead of a series",
            )
        return cls(interval_weeks=weeks, days_per_interval=1)

    @property
    def sessions_per_week(self) -> float:
        return self.days_per_interval / self.interval_weeks

    @property
    def label(self) -> str:
        if self.interval_weeks == 1:
            return {1: "weekly", 2: "twice a week"}.get(
                self.days_per_interval, f"{self.days_per_interval} times a week"
            )
        return f"every {self.interval_weeks} weeks"


@dataclass(frozen=True)
class SeriesSpec:
    """What a session series needs, taken from the accepted assignment and its need.

    ``location`` is where in-person sessions happen; ``None`` means "at the recipient
    household". Remote series have no location and need no travel time.
    """

    duration_minutes: int
    frequency: Frequency
    start_date: date
    end_date: date | None = None
    remote: bool = False
    tz: str = DEFAULT_TZ
    location: Location | None = None

    def __post_init__(self) -> None:
        if not (0 < self.duration_minutes <= MINUTES_PER_DAY):
            raise RecurrenceError(
                "bad_duration", f"session length must be 1..1440 minutes, got {self.duration_minutes}"
            )
        if self.end_date is not None and self.end_date < self.start_date:
            raise RecurrenceError(
                "bad_dates", f"end date {self.end_date} is before start date {self.start_date}"
            )
        zone(self.tz)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class Override:
    """A change to one occurrence, keyed by its original start (the iCalendar RECURRENCE-ID).

    ``start is None`` means the occurrence is cancelled; otherwise it moved to ``start..end``.
    """

    original_start: datetime
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "original_start", _require_aware(self.original_start, "original_start"))
        if (self.start is None) != (self.end is None):
            raise RecurrenceError("bad_override", "a moved occurrence needs both a start and an end")
        if self.start is not None:
            object.__setattr__(self, "start", _require_aware(self.start, "Override.start"))
            object.__setattr__(self, "end", _require_aware(self.end, "Override.end"))
            if self.end <= self.start:
                raise RecurrenceError("bad_override", "a moved occurrence must end after it starts")

    @property
    def cancelled(self) -> bool:
        return self.start is None


@dataclass(frozen=True)
class SeriesRule:
    """A weekly recurrence anchored in local wall time, plus its exceptions.

    ``dtstart`` is aware and *local* (``tzinfo`` is the series' ``ZoneInfo``): it fixes the
    time of day and the week phase. ``until`` is the last local date (inclusive).
    ``duration`` follows RFC 5545 DURATION semantics: whole days are nominal (wall clock),
    the rest is exact. So a 60-minute session is always 60 real minutes, and a respite block
    of ``2 days 2 hours`` from Friday 16:00 always ends Sunday 18:00 local even on the
    weekend the clocks change. ``exdates`` are UTC original starts that do not happen.
    """

    dtstart: datetime
    duration: timedelta
    weekdays: tuple[int, ...]
    interval_weeks: int = 1
    until: date | None = None
    location: Location | None = None
    exdates: frozenset[datetime] = field(default_factory=frozenset)
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.dtstart, datetime) or not isinstance(self.dtstart.tzinfo, ZoneInfo):
            raise RecurrenceError("bad_dtstart", "dtstart must be a local datetime with a ZoneInfo tzinfo")
        days = tuple(sorted(set(self.weekdays)))
        if not days or any(d not in range(7) for d in days):
            raise RecurrenceError(
                "bad_weekdays", f"weekdays must be a non-empty subset of 0..6, got {self.weekdays}"
            )
        if self.dtstart.weekday() not in days:
            raise RecurrenceError(
                "bad_dtstart",
                f"dtstart {self.dtstart.date()} is a {WEEKDAY_NAMES[self.dtstart.weekday()]}, "
                f"not one of the series' weekdays",
            )
        if self.duration <= timedelta(0):
            raise RecurrenceError("bad_duration", "duration must be positive")
        if not (1 <= self.interval_weeks <= 52):
            raise RecurrenceError("bad_frequency", f"interval must be 1..52 weeks, got {self.interval_weeks}")
        if self.until is not None and self.until < self.dtstart.date():
            raise RecurrenceError("bad_dates", f"until {self.until} is before the first occurrence")
        object.__setattr__(self, "weekdays", days)
        object.__setattr__(self, "exdates", frozenset(_require_aware(d, "exdate") for d in self.exdates))
        seen: dict[datetime, Override] = {}
        for override in self.overrides:
            seen[override.original_start] = override  # the last change to an occurrence wins
        object.__setattr__(self, "overrides", tuple(sorted(seen.values(), key=lambda o: o.original_start)))

    @property
    def tz(self) -> ZoneInfo:
        return self.dtstart.tzinfo  # type: ignore[return-value]

    @property
    def tz_name(self) -> str:
        return self.tz.key

    @property
    def remote(self) -> bool:
        return self.location is None


@dataclass(frozen=True)
class Occurrence:
    """One materialised instance of a series, in UTC.

    ``original_start`` identifies it (RECURRENCE-ID) even after it has been moved.
    """

    original_start: datetime
    start: datetime
    end: datetime
    location: Location | None = None
    moved: bool = False

    def as_interval(self, ref: str = "") -> Interval:
        return Interval(self.start, self.end, self.location, ref)


@dataclass(frozen=True)
class SkippedOccurrence:
    """An occurrence the proposal leaves out (as an EXDATE), and why.

    ``reason`` is a code (``holiday``, ``absence``, ``clash``, ``outside_window``, ``full``);
    ``detail`` says which holiday or whose absence, in words.
    """

    original_start: datetime
    local_date: date
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class SeriesProposal:
    rule: SeriesRule
    rrule: str
    dtstart: datetime
    occurrences: tuple[Occurrence, ...]
    skipped: tuple[SkippedOccurrence, ...] = ()

    found = True


@dataclass(frozen=True)
class NoSlot:
    """No slot fits. ``code`` is stable; ``message`` and ``details`` are for people."""

    code: str
    message: str
    details: tuple[str, ...] = ()

    found = False


@dataclass(frozen=True)
class RespiteSpec:
    """Respite care (støtteophold): a weekend block every ``every_weeks`` weeks.

    Defaults to Friday 16:00 to Sunday 18:00 local time. ``children`` is how many of the
    household's places one block takes.
    """

    every_weeks: int
    start_date: date
    end_date: date | None = None
    start_day: int = 4
    start_minute: int = 16 * 60
    end_day: int = 6
    end_minute: int = 18 * 60
    children: int = 1
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        if not (1 <= self.every_weeks <= 52):
            raise RecurrenceError("bad_frequency", f"every_weeks must be 1..52, got {self.every_weeks}")
        if self.start_day not in range(7) or self.end_day not in range(7):
            raise RecurrenceError("bad_window", "start_day and end_day must be 0 (Monday) .. 6 (Sunday)")
        if not (0 <= self.start_minute < MINUTES_PER_DAY and 0 <= self.end_minute <= MINUTES_PER_DAY):
            raise RecurrenceError("bad_window", "block times must be minutes within a day")
        if self.block_length <= timedelta(0):
            raise RecurrenceError("bad_window", "a respite block must end after it starts")
        if self.children < 1:
            raise RecurrenceError("bad_capacity", f"a block needs at least one place, got {self.children}")
        if self.end_date is not None and self.end_date < self.start_date:
            raise RecurrenceError(
                "bad_dates", f"end date {self.end_date} is before start date {self.start_date}"
            )
        zone(self.tz)

    @property
    def block_length(self) -> timedelta:
        """Nominal length: whole days (wall clock) plus the time-of-day difference.

        Friday 16:00 -> Sunday 18:00 is ``2 days 2 hours``. When the end time of day is
        earlier than the start time the difference borrows from the days.
        """
        days = (self.end_day - self.start_day) % 7
        return timedelta(days=days, minutes=self.end_minute - self.start_minute)


@dataclass(frozen=True)
class RespitePlan:
    rule: SeriesRule
    rrule: str
    blocks: tuple[Occurrence, ...]
    skipped: tuple[SkippedOccurrence, ...] = ()

    found = True


@dataclass(frozen=True)
class Unavailable:
    """Who cannot attend and why: ``reason`` is ``closed``, ``outside_availability``,
    ``absent``, ``busy`` or ``travel``; ``detail`` names the booking or absence if known."""

    party_id: str
    reason: str
    required: bool = True
    detail: str = ""


@dataclass(frozen=True)
class MeetingSlot:
    interval: Interval
    available: tuple[str, ...]
    unavailable: tuple[Unavailable, ...] = ()

    @property
    def missing_required(self) -> tuple[str, ...]:
        return tuple(u.party_id for u in self.unavailable if u.required)

    @property
    def missing_optional(self) -> tuple[str, ...]:
        return tuple(u.party_id for u in self.unavailable if not u.required)


@dataclass(frozen=True)
class MeetingResult:
    """``slot`` is the earliest time every required party can come, or ``None``.

    ``alternatives`` is ranked: fewest required parties missing, then fewest optional parties
    missing, then earliest; one entry per local day and set of absentees.
    """

    slot: MeetingSlot | None
    alternatives: tuple[MeetingSlot, ...] = ()
    message: str = ""

    @property
    def found(self) -> bool:
        return self.slot is not None


@dataclass(frozen=True)
class Conflict:
    """Two bookings that cannot both happen: they overlap, or leave too little travel time."""

    first: Interval
    second: Interval
    kind: str  # "overlap" or "travel"
    travel_minutes: int = 0


@dataclass(frozen=True)
class Replacement:
    """A flagged occurrence and the slot proposed instead (``None`` if nothing was free)."""

    original: Occurrence
    proposed: Interval | None
    reason: str = ""
