"""RFC 5545 weekly recurrences in local wall time, and the changes a series goes through.

A series is stored as a ``SeriesRule``: DTSTART in local time (Europe/Copenhagen by default),
a weekly RRULE, EXDATEs and per-occurrence overrides (moved or cancelled, keyed by the
original start like an iCalendar RECURRENCE-ID). Expansion runs ``dateutil.rrule`` on *naive*
local datetimes and only then attaches the zone, so a 10:00 session stays at 10:00 when the
clocks change and its UTC time shifts by an hour instead.

DST edge cases (documented once here, implemented in ``types.localize``): a wall time in the
hour skipped in March is read with the offset from before the gap (02:30 -> 03:30 summer
time); a wall time in the hour repeated in October means its first occurrence (summer time).
That is the RFC 5545 section 3.3.5 reading, so calendar clients agree with what we book.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MO, WEEKLY, rrule, weekday

from .types import (
    DEFAULT_TZ,
    Location,
    Occurrence,
    Override,
    RecurrenceError,
    SeriesRule,
    localize,
    zone,
)

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_KEEP = object()


# --- building ---------------------------------------------------------------------------


def make_rule(
    *,
    first_date: date,
    start_minute: int,
    duration: timedelta,
    weekdays: Iterable[int] | None = None,
    interval_weeks: int = 1,
    until: date | None = None,
    tz: str = DEFAULT_TZ,
    location: Location | None = None,
) -> SeriesRule:
    """A rule whose first occurrence is ``first_date`` at ``start_minute`` local time.

    ``weekdays`` defaults to the weekday of ``first_date``.
    """
    if not (0 <= start_minute < 24 * 60):
        raise RecurrenceError("bad_time", f"start minute must be 0..1439, got {start_minute}")
    wall = datetime.combine(first_date, time(start_minute // 60, start_minute % 60))
    days = tuple(weekdays) if weekdays is not None else (first_date.weekday(),)
    return SeriesRule(
        dtstart=localize(wall, zone(tz)),
        duration=duration,
        weekdays=days,
        interval_weeks=interval_weeks,
        until=until,
        location=location,
    )


# --- rendering ----------------------------------------------------------------------------


def _wall(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def until_utc(rule: SeriesRule) -> datetime | None:
    """The UNTIL instant: the last second of the ``until`` date in local time, in UTC.

    RFC 5545 requires UNTIL in UTC when DTSTART carries a TZID.
    """
    if rule.until is None:
        return None
    return localize(datetime.combine(rule.until, time(23, 59, 59)), rule.tz).astimezone(UTC)


def rrule_string(rule: SeriesRule) -> str:
    """The RRULE value, e.g. ``FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20271231T225959Z``."""
    parts = [
        "FREQ=WEEKLY",
        f"INTERVAL={rule.interval_weeks}",
        "BYDAY=" + ",".join(WEEKDAY_CODES[d] for d in rule.weekdays),
    ]
    until = until_utc(rule)
    if until is not None:
        parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def dtstart_line(rule: SeriesRule) -> str:
    return f"DTSTART;TZID={rule.tz_name}:{_wall(rule.dtstart)}"


def ical_lines(rule: SeriesRule) -> list[str]:
    """DTSTART, RRULE and EXDATE content lines (cancelled overrides count as EXDATEs).

    Moved occurrences are not expressible in these lines; a calendar feed writes them as
    separate VEVENTs with a RECURRENCE-ID equal to ``Occurrence.original_start``.
    """
    lines = [dtstart_line(rule), "RRULE:" + rrule_string(rule)]
    excluded = set(rule.exdates) | {o.original_start for o in rule.overrides if o.cancelled}
    if excluded:
        walls = ",".join(_wall(d.astimezone(rule.tz)) for d in sorted(excluded))
        lines.append(f"EXDATE;TZID={rule.tz_name}:{walls}")
    return lines


def duration_string(duration: timedelta) -> str:
    """RFC 5545 DURATION, e.g. ``PT1H30M`` or ``P2DT2H`` (days nominal, the rest exact)."""
    if duration <= timedelta(0):
        raise RecurrenceError("bad_duration", "duration must be positive")
    days, seconds = duration.days, duration.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return out + ("T" + clock if clock else "")


# --- expansion ----------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _dateutil_rule(
    naive_start: datetime, interval: int, weekdays: tuple[int, ...], until: date | None
) -> rrule:
    return rrule(
        WEEKLY,
        dtstart=naive_start,
        interval=interval,
        byweekday=[weekday(d) for d in weekdays],
        wkst=MO,
        until=datetime.combine(until, time.max) if until is not None else None,
        cache=True,
    )


def _base(rule: SeriesRule) -> rrule:
    return _dateutil_rule(rule.dtstart.replace(tzinfo=None), rule.interval_weeks, rule.weekdays, rule.until)


def add_duration(start: datetime, duration: timedelta, tz: ZoneInfo) -> datetime:
    """``start + duration`` with RFC 5545 DURATION semantics, in UTC.

    Whole days are added in wall-clock time (nominal), the remainder exactly: 60 minutes is
    always 60 real minutes, and Friday 16:00 plus ``2 days 2 hours`` is Sunday 18:00 local
    even on the weekend the clocks change (49 or 51 real hours).
    """
    end = start
    if duration.days:
        wall = start.astimezone(tz).replace(tzinfo=None) + timedelta(days=duration.days)
        end = localize(wall, tz)
    return (end + (duration - timedelta(days=duration.days))).astimezone(UTC)


def occurrence_end(rule: SeriesRule, start: datetime) -> datetime:
    """End of the occurrence that starts at ``start`` (see ``add_duration``)."""
    return add_duration(start, rule.duration, rule.tz)


def base_starts(rule: SeriesRule, *, start: datetime, end: datetime) -> list[datetime]:
    """UTC starts of the bare recurrence (no EXDATEs, no overrides) that may touch ``start..end``.

    Starts from one duration (plus a day of slack) before ``start`` are included so callers
    can find occurrences already in progress; callers filter precisely.
    """
    tz = rule.tz
    lo = start.astimezone(tz).replace(tzinfo=None) - rule.duration - timedelta(days=1)
    hi = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    return [localize(w, tz).astimezone(UTC) for w in _base(rule).between(lo, hi, inc=True)]


def is_occurrence(rule: SeriesRule, original_start: datetime) -> bool:
    """Whether ``original_start`` is an instance of the bare recurrence."""
    original_start = original_start.astimezone(UTC)
    window_end = original_start + timedelta(seconds=1)
    return original_start in base_starts(rule, start=original_start, end=window_end)


def expand(rule: SeriesRule, *, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences overlapping ``[start, end)``, in UTC, with EXDATEs and overrides applied.

    Cancelled and excluded occurrences are left out; moved ones appear at their new time
    (with ``moved=True``) if that time overlaps the range, wherever they came from.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise RecurrenceError("naive_datetime", "expand() needs aware start and end")
    overrides = {o.original_start: o for o in rule.overrides}
    out: list[Occurrence] = []
    for s in base_starts(rule, start=start, end=end):
        if s in rule.exdates or s in overrides:
            continue
        e = occurrence_end(rule, s)
        if e > start and s < end:
            out.append(Occurrence(s, s, e, rule.location))
    for o in overrides.values():
        if o.cancelled or o.original_start in rule.exdates:
            continue
        if o.end > start and o.start < end and is_occurrence(rule, o.original_start):
            out.append(Occurrence(o.original_start, o.start, o.end, rule.location, moved=True))
    out.sort(key=lambda occ: (occ.start, occ.original_start))
    return out


def materialise(rule: SeriesRule, *, now: datetime, months: int = 12) -> list[Occurrence]:
    """The occurrences to store now: everything not yet over, up to ``months`` ahead.

    Run it again later (a daily task) to roll the horizon forward; occurrences are keyed by
    ``original_start``, so storing them is idempotent.
    """
    if months < 1:
        raise RecurrenceError("bad_horizon", f"horizon must be at least one month, got {months}")
    now = now.astimezone(UTC)
    return expand(rule, start=now, end=now + relativedelta(months=months))


# --- changes ------------------------------------------------------------------------------


def _check_occurrence(rule: SeriesRule, original_start: datetime) -> datetime:
    original_start = original_start.astimezone(UTC)
    if not is_occurrence(rule, original_start) or original_start in rule.exdates:
        local = original_start.astimezone(rule.tz)
        raise RecurrenceError("not_an_occurrence", f"the series has no occurrence at {local:%Y-%m-%d %H:%M}")
    return original_start


def exclude(rule: SeriesRule, original_starts: Iterable[datetime]) -> SeriesRule:
    """Add EXDATEs (e.g. holidays); each must be an occurrence of the rule."""
    starts = {_check_occurrence(rule, s) for s in original_starts}
    return replace(rule, exdates=rule.exdates | starts)


def cancel_occurrence(rule: SeriesRule, *, original_start: datetime, reason: str = "") -> SeriesRule:
    original_start = _check_occurrence(rule, original_start)
    return replace(rule, overrides=(*rule.overrides, Override(original_start, reason=reason)))


def move_occurrence(
    rule: SeriesRule,
    *,
    original_start: datetime,
    new_start: datetime,
    new_end: datetime | None = None,
    reason: str = "",
) -> SeriesRule:
    """Move one occurrence; it keeps its length unless ``new_end`` is given.

    This only rewrites the rule. Whether the new time is free is the caller's check
    (``slots.clashes`` / ``slots.detect_conflicts``), which the scheduling service runs
    before saving so nothing is ever double-booked.
    """
    original_start = _check_occurrence(rule, original_start)
    if new_end is None:
        new_end = new_start + (occurrence_end(rule, original_start) - original_start)
    override = Override(original_start, new_start, new_end, reason)
    return replace(rule, overrides=(*rule.overrides, override))


def _local_date(rule: SeriesRule, instant: datetime) -> date:
    return instant.astimezone(rule.tz).date()


def end_series(rule: SeriesRule, *, last_date: date) -> SeriesRule:
    """End the series after ``last_date`` (local, inclusive); later exceptions are dropped."""
    if last_date < rule.dtstart.date():
        raise RecurrenceError(
            "ends_before_start", f"{last_date} is before the first occurrence; cancel the series instead"
        )
    until = last_date if rule.until is None else min(rule.until, last_date)
    return replace(
        rule,
        until=until,
        exdates=frozenset(d for d in rule.exdates if _local_date(rule, d) <= until),
        overrides=tuple(o for o in rule.overrides if _local_date(rule, o.original_start) <= until),
    )


def split_series(
    rule: SeriesRule,
    *,
    from_date: date,
    start_minute: int | None = None,
    weekdays: Iterable[int] | None = None,
    duration: timedelta | None = None,
    interval_weeks: int | None = None,
    location: Location | None | object = _KEEP,
) -> tuple[SeriesRule | None, SeriesRule]:
    """Change the series from ``from_date`` (local) on: returns ``(before, after)``.

    ``before`` is the old series ending the day before (``None`` if nothing was left before
    ``from_date``). ``after`` starts at the first occurrence on or after ``from_date``:
    if the weekdays and interval are unchanged it keeps the old week phase (an every-2-weeks
    series stays on its weeks), otherwise it starts on the first matching day. Exceptions
    (EXDATEs, moves, cancellations) dated from ``from_date`` on carry over only if the same
    original start is still an occurrence of the new rule; anything else no longer applies.
    """
    new_days = tuple(sorted(set(weekdays))) if weekdays is not None else rule.weekdays
    new_interval = interval_weeks if interval_weeks is not None else rule.interval_weeks
    new_minute = start_minute if start_minute is not None else rule.dtstart.hour * 60 + rule.dtstart.minute
    if rule.until is not None and from_date > rule.until:
        raise RecurrenceError("series_ended", f"the series ends {rule.until}, before {from_date}")

    if new_days == rule.weekdays and new_interval == rule.interval_weeks:
        lo = localize(datetime.combine(max(from_date, rule.dtstart.date()), time()), rule.tz)
        candidates = base_starts(rule, start=lo, end=lo + timedelta(weeks=new_interval + 1))
        first_dates = [_local_date(rule, s) for s in candidates if _local_date(rule, s) >= from_date]
        if not first_dates:
            raise RecurrenceError("series_ended", f"the series has no occurrence on or after {from_date}")
        first = first_dates[0]
    else:
        first = max(from_date, rule.dtstart.date())
        while first.weekday() not in new_days:
            first += timedelta(days=1)
    if rule.until is not None and first > rule.until:
        raise RecurrenceError("series_ended", f"the series has no occurrence on or after {from_date}")

    after = make_rule(
        first_date=first,
        start_minute=new_minute,
        duration=duration if duration is not None else rule.duration,
        weekdays=new_days,
        interval_weeks=new_interval,
        until=rule.until,
        tz=rule.tz_name,
        location=rule.location if location is _KEEP else location,  # type: ignore[arg-type]
    )
    carried_ex = frozenset(
        d for d in rule.exdates if _local_date(rule, d) >= from_date and is_occurrence(after, d)
    )
    carried_ov = tuple(
        o
        for o in rule.overrides
        if _local_date(rule, o.original_start) >= from_date and is_occurrence(after, o.original_start)
    )
    after = replace(after, exdates=carried_ex, overrides=carried_ov)

    before: SeriesRule | None = None
    last_before = from_date - timedelta(days=1)
    if last_before >= rule.dtstart.date():
        before = end_series(rule, last_date=last_before)
    return before, after
