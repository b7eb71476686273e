"""Finding free time: session series, respite weekends, meetings, and absence replacements.

Everything here is pure: parties come in as ``Party`` values with their weekly windows,
bookings (``busy``) and absences; results go out as frozen dataclasses. Nothing reads the
clock; pass ``now`` where "not in the past" matters.

The no-double-booking rule, used by every search and by ``detect_conflicts``:
two bookings of the same party conflict if they overlap, or if both are in person (both
have a location) and the gap between them is shorter than the travel time between the two
locations (``distance_km`` at ``travel_speed_kmh``, rounded up to whole minutes). Remote
bookings (no location) need no travel time on either side. Travel is checked pairwise, as
the issue asks; a remote session may therefore sit in the travel time between two
in-person ones.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from ..geo import distance_km
from .holidays_dk import DANISH_HOLIDAYS, ClosedDays
from .rrule import add_duration, expand, make_rule, rrule_string
from .types import (
    DEFAULT_TZ,
    MINUTES_PER_DAY,
    WEEKDAY_NAMES,
    Conflict,
    Interval,
    Location,
    MeetingResult,
    MeetingSlot,
    NoSlot,
    Occurrence,
    Override,
    Party,
    RecurrenceError,
    Replacement,
    RespitePlan,
    RespiteSpec,
    SeriesProposal,
    SeriesRule,
    SeriesSpec,
    SkippedOccurrence,
    Unavailable,
    WeeklyWindow,
    localize,
    zone,
)

DEFAULT_TRAVEL_SPEED_KMH = 50.0
WEEK_SECONDS = 7 * 24 * 3600


# --- conflicts and travel -----------------------------------------------------------------


def travel_minutes(
    a: Location | None, b: Location | None, *, speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH
) -> int:
    """Whole minutes to travel between two places; 0 if either side is remote (``None``)."""
    if speed_kmh <= 0:
        raise RecurrenceError("bad_speed", f"travel speed must be positive, got {speed_kmh}")
    if a is None or b is None:
        return 0
    km = distance_km(a.lat, a.lon, b.lat, b.lon)
    # The tiny epsilon keeps float noise (e.g. 36.000000001) from adding a whole minute.
    return max(0, math.ceil(km * 60 / speed_kmh - 1e-9))


def required_gap(
    a: Interval, b: Interval, *, travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH
) -> timedelta:
    """The gap two bookings of one person need between them: the travel time."""
    return timedelta(minutes=travel_minutes(a.location, b.location, speed_kmh=travel_speed_kmh))


def overlaps(a: Interval, b: Interval, *, travel_speed_kmh: float | None = None) -> bool:
    """Whether ``a`` and ``b`` overlap; with a travel speed, also when too close to travel between."""
    buffer = (
        timedelta(0) if travel_speed_kmh is None else required_gap(a, b, travel_speed_kmh=travel_speed_kmh)
    )
    return a.overlaps(b, buffer=buffer)


def _conflict(a: Interval, b: Interval, speed: float) -> Conflict | None:
    if a.overlaps(b):
        return Conflict(a, b, "overlap", travel_minutes(a.location, b.location, speed_kmh=speed))
    minutes = travel_minutes(a.location, b.location, speed_kmh=speed)
    if minutes and a.overlaps(b, buffer=timedelta(minutes=minutes)):
        return Conflict(a, b, "travel", minutes)
    return None


def _max_travel(locations: Iterable[Location], speed: float) -> timedelta:
    unique = list(dict.fromkeys(locations))
    if len(unique) < 2:
        return timedelta(0)
    # Bound via one pivot (triangle inequality): any pair is at most twice the farthest
    # distance from the pivot, plus a kilometre for distance_km's rounding.
    pivot = unique[0]
    farthest = max(distance_km(pivot.lat, pivot.lon, p.lat, p.lon) for p in unique)
    return timedelta(minutes=math.ceil((2 * farthest + 2) * 60 / speed))


def detect_conflicts(
    intervals: Iterable[Interval], *, travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH
) -> list[Conflict]:
    """Every pair among one party's bookings that cannot both happen, in start order.

    Use it on a party's existing bookings plus the ones about to be saved; an empty list
    means no double booking. Runs a sweep, so it stays fast for a year of sessions.
    """
    items = sorted(intervals, key=lambda i: (i.start, i.end))
    reach = _max_travel((i.location for i in items if i.location is not None), travel_speed_kmh)
    found: list[Conflict] = []
    for idx, a in enumerate(items):
        horizon = a.end + reach
        for b in items[idx + 1 :]:
            if b.start >= horizon:
                break
            conflict = _conflict(a, b, travel_speed_kmh)
            if conflict is not None:
                found.append(conflict)
    return found


class _Timeline:
    """Sorted intervals with fast "what is near this span" lookups."""

    def __init__(self, intervals: Iterable[Interval]):
        self.items = sorted(intervals, key=lambda i: (i.start, i.end))
        self.starts = [i.start for i in self.items]
        self.longest = max((i.duration for i in self.items), default=timedelta(0))
        self.locations = list(dict.fromkeys(i.location for i in self.items if i.location is not None))
        self._reach: dict[Location | None, timedelta] = {}

    def near(self, lo: datetime, hi: datetime) -> Iterator[Interval]:
        """Intervals with ``start < hi`` and ``end > lo``."""
        first = bisect_left(self.starts, lo - self.longest)
        last = bisect_left(self.starts, hi)
        for item in self.items[first:last]:
            if item.end > lo:
                yield item

    def reach(self, location: Location | None, speed: float) -> timedelta:
        """The longest travel time from ``location`` to any booking here."""
        if location not in self._reach:
            self._reach[location] = max(
                (timedelta(minutes=travel_minutes(location, p, speed_kmh=speed)) for p in self.locations),
                default=timedelta(0),
            )
        return self._reach[location]

    def add(self, interval: Interval) -> None:
        pos = bisect_right(self.starts, interval.start)
        self.items.insert(pos, interval)
        self.starts.insert(pos, interval.start)
        self.longest = max(self.longest, interval.duration)
        if interval.location is not None and interval.location not in self.locations:
            self.locations.append(interval.location)
            self._reach.clear()

    def first_conflict(self, candidate: Interval, speed: float) -> Conflict | None:
        reach = self.reach(candidate.location, speed)
        for other in self.near(candidate.start - reach, candidate.end + reach):
            conflict = _conflict(candidate, other, speed)
            if conflict is not None:
                return conflict
        return None


def clashes(
    candidate: Interval, busy: Iterable[Interval], *, travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH
) -> list[Conflict]:
    """The bookings in ``busy`` that ``candidate`` would double-book (incl. travel time)."""
    found = []
    for other in busy:
        conflict = _conflict(candidate, other, travel_speed_kmh)
        if conflict is not None:
            found.append(conflict)
    return found


# --- availability -------------------------------------------------------------------------


def _week_ranges(windows: Sequence[WeeklyWindow] | None) -> tuple[list[int], list[int]] | None:
    """Merged availability as second-of-week ranges over two weeks (so Sunday joins Monday)."""
    if windows is None:
        return None
    raw = []
    for w in windows:
        lo = (w.day * MINUTES_PER_DAY + w.start_minute) * 60
        hi = (w.day * MINUTES_PER_DAY + w.end_minute) * 60
        raw += [(lo, hi), (lo + WEEK_SECONDS, hi + WEEK_SECONDS)]
    raw.sort()
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in raw:
        if ends and lo <= ends[-1]:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def _covers(ranges: tuple[list[int], list[int]] | None, second_of_week: int, length: float) -> bool:
    if ranges is None:
        return True
    starts, ends = ranges
    idx = bisect_right(starts, second_of_week) - 1
    return idx >= 0 and ends[idx] >= second_of_week + length


@dataclass
class _PartyView:
    """A party prepared for many lookups (internal)."""

    party: Party
    tz: ZoneInfo
    ranges: tuple[list[int], list[int]] | None
    busy: _Timeline
    absences: _Timeline

    @classmethod
    def of(cls, party: Party) -> _PartyView:
        return cls(
            party,
            zone(party.tz),
            _week_ranges(party.windows),
            _Timeline(party.busy),
            _Timeline(party.absences),
        )

    def fits_windows(self, start: datetime, end: datetime) -> bool:
        local = start.astimezone(self.tz)
        local_end = end.astimezone(self.tz)
        wall_len = (local_end.replace(tzinfo=None) - local.replace(tzinfo=None)).total_seconds()
        # On the night the clocks go back the wall-clock span is shorter than the real one;
        # require the longer of the two so a session never leaves the window.
        length = max(wall_len, (end - start).total_seconds())
        second = local.weekday() * 86400 + local.hour * 3600 + local.minute * 60 + local.second
        return _covers(self.ranges, second, length)

    def fits_week_slot(self, day: int, minute: int, length_minutes: int) -> bool:
        return _covers(self.ranges, (day * MINUTES_PER_DAY + minute) * 60, length_minutes * 60)

    def absence_at(self, start: datetime, end: datetime) -> Interval | None:
        return next(self.absences.near(start, end), None)

    def unavailable(self, candidate: Interval, speed: float) -> tuple[str, str] | None:
        """``(reason, detail)`` if the party cannot take ``candidate``, else ``None``."""
        if not self.fits_windows(candidate.start, candidate.end):
            return "outside_availability", ""
        absence = self.absence_at(candidate.start, candidate.end)
        if absence is not None:
            return "absent", absence.ref
        conflict = self.busy.first_conflict(candidate, speed)
        if conflict is not None:
            return ("busy" if conflict.kind == "overlap" else "travel"), conflict.second.ref
        return None


def _closed(holidays: ClosedDays | None, day: date) -> str | None:
    return holidays.closed_reason(day) if holidays is not None else None


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time()), tz).astimezone(UTC)


def _wall_utc(day: date, minute: int, tz: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time(minute // 60, minute % 60)), tz).astimezone(UTC)


def _check_grid(grid_minutes: int) -> None:
    if not (1 <= grid_minutes <= MINUTES_PER_DAY):
        raise RecurrenceError("bad_grid", f"grid must be 1..1440 minutes, got {grid_minutes}")


# --- session series -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    tier: int  # 0: weekdays spread out (no two adjacent days), 1: adjacent days
    first_start: datetime
    spread_penalty: float
    weekdays: tuple[int, ...]
    minute: int
    first_date: date

    @property
    def key(self) -> tuple:
        return (self.tier, self.first_start, self.spread_penalty, self.weekdays, self.minute)


def _spread(days: tuple[int, ...]) -> tuple[int, float]:
    gaps = [(days[(i + 1) % len(days)] - days[i]) % 7 or 7 for i in range(len(days))]
    ideal = 7 / len(days)
    return (0 if min(gaps) >= 2 else 1), sum(abs(g - ideal) for g in gaps)


@dataclass(frozen=True)
class _Verdict:
    kept: tuple[Occurrence, ...] = ()
    skipped: tuple[SkippedOccurrence, ...] = ()
    rejection: str = ""  # "", "clash:<party>", "too_many_lost", "no_occurrences"


class _SeriesCheck:
    """Classifies occurrences of a candidate series against both parties (internal)."""

    def __init__(
        self, provider: Party, recipient: Party, tz: ZoneInfo, holidays: ClosedDays | None, speed: float
    ):
        self.views = [_PartyView.of(provider), _PartyView.of(recipient)]
        self.tz = tz
        self.holidays = holidays
        self.speed = speed

    def skip_reason(self, occ: Occurrence) -> SkippedOccurrence | None:
        local_date = occ.start.astimezone(self.tz).date()
        name = _closed(self.holidays, local_date)
        if name:
            return SkippedOccurrence(occ.original_start, local_date, "holiday", name)
        for view in self.views:
            absence = view.absence_at(occ.start, occ.end)
            if absence is not None:
                detail = f"{view.party.id} absent" + (f" ({absence.ref})" if absence.ref else "")
                return SkippedOccurrence(occ.original_start, local_date, "absence", detail)
        for view in self.views:
            if not view.fits_windows(occ.start, occ.end):
                return SkippedOccurrence(
                    occ.original_start,
                    local_date,
                    "outside_window",
                    f"outside {view.party.id}'s availability",
                )
        return None

    def clash(self, occ: Occurrence) -> tuple[str, Conflict] | None:
        candidate = occ.as_interval()
        for view in self.views:
            conflict = view.busy.first_conflict(candidate, self.speed)
            if conflict is not None:
                return view.party.id, conflict
        return None


def find_series_slot(
    provider: Party,
    recipient: Party,
    spec: SeriesSpec,
    *,
    travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH,
    holidays: ClosedDays | None = DANISH_HOLIDAYS,
    horizon_weeks: int = 12,
    grid_minutes: int = 15,
    max_lost_fraction: float = 0.25,
    materialise_months: int = 12,
    now: datetime | None = None,
) -> SeriesProposal | NoSlot:
    """Propose the first weekly slot both parties can keep, as an RRULE series.

    A candidate is a local start time on the ``grid_minutes`` grid plus the frequency's
    number of weekdays (twice a week: two different weekdays, preferring days that are not
    next to each other, then the most even spread). It must lie inside both parties' weekly
    windows on every such weekday, within one local day. Its occurrences over the first
    ``horizon_weeks`` are then checked:

    * a clash with either party's bookings (incl. travel time) rejects the candidate: a
      standing slot that collides with existing work is the wrong slot;
    * an occurrence on a closed day, during either party's absence, or (only possible across
      time zones or DST nights) outside a window is *skipped* with an EXDATE instead, unless
      more than ``max_lost_fraction`` (default a quarter) of them would be lost, which rejects
      the candidate: losing Easter or a two-week holiday is normal, losing every other
      session is not a series.

    The winner is the candidate whose first kept occurrence is earliest; the series' DTSTART
    is that occurrence. Beyond the evaluation horizon, up to ``materialise_months`` after
    DTSTART, occurrences that hit a closed day, an absence or a booking are skipped the same
    way (never double-booked) and listed in ``skipped`` with their reason, so the caller can
    flag them. Later months are the job of ``rrule.materialise`` plus the same checks.
    """
    _check_grid(grid_minutes)
    if horizon_weeks < 1 or materialise_months < 1:
        raise RecurrenceError("bad_horizon", "horizons must be at least one week / one month")
    if not (0 <= max_lost_fraction < 1):
        raise RecurrenceError("bad_fraction", "max_lost_fraction must be in [0, 1)")
    tz = zone(spec.tz)
    location = None if spec.remote else (spec.location or recipient.location)
    if not spec.remote and location is None:
        raise RecurrenceError(
            "no_location", "an in-person series needs a place: the recipient household has no location"
        )
    now = now.astimezone(UTC) if now is not None else None
    check = _SeriesCheck(provider, recipient, tz, holidays, travel_speed_kmh)
    duration = spec.duration_minutes
    k = spec.frequency.days_per_interval

    candidates: list[_Candidate] = []
    window_matches = 0
    earliest = spec.start_date
    if now is not None:
        earliest = max(earliest, now.astimezone(tz).date())
    for days in itertools.combinations(range(7), k):
        tier, penalty = _spread(days)
        for minute in range(0, MINUTES_PER_DAY - duration + 1, grid_minutes):
            if not all(
                view.fits_week_slot(day, minute, duration)
                for view in check.views
                if view.tz.key == tz.key
                for day in days
            ):
                continue
            window_matches += 1
            first = earliest
            while first.weekday() not in days or (now is not None and _wall_utc(first, minute, tz) < now):
                first += timedelta(days=1)
            if spec.end_date is not None and first > spec.end_date:
                continue
            candidates.append(_Candidate(tier, _wall_utc(first, minute, tz), penalty, days, minute, first))

    if window_matches == 0:
        how_often = f"on {k} different weekdays" if k > 1 else "on any weekday"
        return NoSlot(
            "no_overlapping_windows",
            f"{provider.id} and {recipient.id} are never both available for {duration} minutes {how_often}.",
            (_describe_windows(provider), _describe_windows(recipient)),
        )
    if not candidates:
        return NoSlot("no_occurrences", f"No occurrence fits between {spec.start_date} and {spec.end_date}.")

    candidates.sort(key=lambda c: c.key)
    eval_end = _day_start(earliest + timedelta(weeks=horizon_weeks), tz)
    rejections: dict[str, int] = {}
    best: tuple[tuple, _Candidate, _Verdict] | None = None
    for cand in candidates:
        if best is not None and (cand.tier > best[1].tier or cand.first_start > best[0][1]):
            break
        verdict = _evaluate(cand, spec, location, check, eval_end, max_lost_fraction)
        if verdict.rejection:
            rejections[verdict.rejection] = rejections.get(verdict.rejection, 0) + 1
            continue
        key = (cand.tier, verdict.kept[0].start, cand.spread_penalty, cand.weekdays, cand.minute)
        if best is None or key < best[0]:
            best = (key, cand, verdict)

    if best is None:
        return _no_slot_from(rejections, provider, recipient, horizon_weeks, max_lost_fraction)
    _, cand, verdict = best
    return _finalise(cand, verdict, spec, location, check, materialise_months)


def _rule_for(
    cand: _Candidate, spec: SeriesSpec, location: Location | None, first_date: date, minute: int
) -> SeriesRule:
    return make_rule(
        first_date=first_date,
        start_minute=minute,
        duration=spec.duration,
        weekdays=cand.weekdays,
        interval_weeks=spec.frequency.interval_weeks,
        until=spec.end_date,
        tz=spec.tz,
        location=location,
    )


def _evaluate(
    cand: _Candidate,
    spec: SeriesSpec,
    location: Location | None,
    check: _SeriesCheck,
    eval_end: datetime,
    max_lost_fraction: float,
) -> _Verdict:
    rule = _rule_for(cand, spec, location, cand.first_date, cand.minute)
    occurrences = expand(rule, start=cand.first_start, end=eval_end)
    if not occurrences:
        return _Verdict(rejection="no_occurrences")
    kept: list[Occurrence] = []
    skipped: list[SkippedOccurrence] = []
    for occ in occurrences:
        skip = check.skip_reason(occ)
        if skip is not None:
            skipped.append(skip)
            if len(skipped) > max_lost_fraction * len(occurrences):
                return _Verdict(rejection="too_many_lost")
            continue
        clash = check.clash(occ)
        if clash is not None:
            return _Verdict(rejection=f"clash:{clash[0]}")
        kept.append(occ)
    if not kept:
        return _Verdict(rejection="too_many_lost")
    return _Verdict(tuple(kept), tuple(skipped))


def _finalise(
    cand: _Candidate,
    verdict: _Verdict,
    spec: SeriesSpec,
    location: Location | None,
    check: _SeriesCheck,
    materialise_months: int,
) -> SeriesProposal:
    # Start the series at its first kept occurrence: it is an instance of the candidate's
    # rule (same weekdays, same week phase), so the later occurrences are unchanged.
    first = verdict.kept[0].start.astimezone(check.tz)
    rule = _rule_for(cand, spec, location, first.date(), cand.minute)
    horizon_end = _day_start(first.date(), check.tz) + relativedelta(months=materialise_months)
    skipped: list[SkippedOccurrence] = []
    for occ in expand(rule, start=verdict.kept[0].start, end=horizon_end):
        skip = check.skip_reason(occ)
        if skip is None:
            clash = check.clash(occ)
            if clash is not None:
                party, conflict = clash
                what = conflict.second.ref or "another booking"
                detail = f"{party}: {what}" + (" (travel time)" if conflict.kind == "travel" else "")
                local_date = occ.start.astimezone(check.tz).date()
                skip = SkippedOccurrence(occ.original_start, local_date, "clash", detail)
        if skip is not None:
            skipped.append(skip)
    rule = replace(rule, exdates=frozenset(s.original_start for s in skipped))
    occurrences = tuple(expand(rule, start=verdict.kept[0].start, end=horizon_end))
    return SeriesProposal(
        rule=rule,
        rrule=rrule_string(rule),
        dtstart=rule.dtstart,
        occurrences=occurrences,
        skipped=tuple(skipped),
    )


def _describe_windows(party: Party) -> str:
    if party.windows is None:
        return f"{party.id}: no restriction"
    if not party.windows:
        return f"{party.id}: no availability"
    spans = ", ".join(
        f"{WEEKDAY_NAMES[w.day][:3]} {w.start_minute // 60:02d}:{w.start_minute % 60:02d}-"
        f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}"
        for w in sorted(party.windows, key=lambda w: (w.day, w.start_minute))
    )
    return f"{party.id}: {spans}"


def _no_slot_from(
    rejections: dict[str, int],
    provider: Party,
    recipient: Party,
    horizon_weeks: int,
    max_lost_fraction: float,
) -> NoSlot:
    details = []
    clashes_total = 0
    for key, count in sorted(rejections.items()):
        if key.startswith("clash:"):
            clashes_total += count
            details.append(
                f"{count} slot(s) clash with {key.removeprefix('clash:')}'s bookings (incl. travel time)"
            )
        elif key == "too_many_lost":
            details.append(
                f"{count} slot(s) lose more than {max_lost_fraction:.0%} of sessions to holidays or absences"
            )
        elif key == "no_occurrences":
            details.append(f"{count} slot(s) have no session before the end date")
    if clashes_total:
        code = "all_slots_clash"
        message = (
            f"Every slot where {provider.id} and {recipient.id} are both available clashes with other "
            f"bookings in the first {horizon_weeks} weeks."
        )
    elif "too_many_lost" in rejections:
        code = "too_many_lost"
        message = "Every shared slot loses too many sessions to holidays or absences."
    else:
        code = "no_occurrences"
        message = "No shared slot has a session before the end date."
    return NoSlot(code, message, tuple(details))


# --- respite care -------------------------------------------------------------------------


def _max_concurrent(intervals: Iterable[Interval], within: Interval) -> int:
    events: list[tuple[datetime, int]] = []
    for iv in intervals:
        lo, hi = max(iv.start, within.start), min(iv.end, within.end)
        if lo < hi:
            events += [(lo, 1), (hi, -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def respite_blocks(
    *,
    household: Party,
    places: int,
    spec: RespiteSpec,
    existing: Sequence[Interval] = (),
    holidays: ClosedDays | None = None,
    now: datetime | None = None,
    horizon_weeks: int = 52,
) -> RespitePlan | NoSlot:
    """Weekend respite blocks every ``spec.every_weeks`` weeks at a respite household.

    ``existing`` holds the blocks already booked at the household, one interval per child.
    A weekend fits if, at every moment of the block, the children already there plus
    ``spec.children`` stay within ``places``, the household is not absent, its windows (if
    any) allow it and, only if ``holidays`` is given, no day of the block is closed. By
    default closed days do not block respite: Easter, Whitsun (Pinsedag is always a Sunday)
    and Christmas weekends are when respite is used, not avoided.

    The series starts at the first weekend on or after ``spec.start_date`` that fits and then
    repeats every N weeks (RRULE). A later weekend that does not fit moves to the next
    weekend that does before the following block (a moved occurrence); if none does, it is
    skipped with an EXDATE and its reason. Blocks are planned ``horizon_weeks`` ahead.
    """
    if places < 1:
        raise RecurrenceError("bad_capacity", f"a respite household needs at least one place, got {places}")
    if spec.children > places:
        return NoSlot("too_many_children", f"{spec.children} children do not fit in {places} place(s).")
    tz = zone(spec.tz)
    view = _PartyView.of(household)
    taken = _Timeline(existing)
    length = spec.block_length
    earliest = spec.start_date
    if now is not None:
        earliest = max(earliest, now.astimezone(tz).date())
    first = earliest + timedelta(days=(spec.start_day - earliest.weekday()) % 7)
    last_start = first + timedelta(weeks=horizon_weeks)
    if spec.end_date is not None:
        last_start = min(last_start, spec.end_date)

    def block_at(day: date) -> Interval:
        start = _wall_utc(day, spec.start_minute, tz)
        return Interval(start, add_duration(start, length, tz), household.location, "respite")

    def problem(block: Interval) -> tuple[str, str] | None:
        if now is not None and block.start < now:
            return "past", ""
        day = block.start.astimezone(tz).date()
        while holidays is not None and day <= (block.end - timedelta(microseconds=1)).astimezone(tz).date():
            name = _closed(holidays, day)
            if name:
                return "holiday", name
            day += timedelta(days=1)
        absence = view.absence_at(block.start, block.end)
        if absence is not None:
            return "absence", f"{household.id} absent" + (f" ({absence.ref})" if absence.ref else "")
        if not view.fits_windows(block.start, block.end):
            return "outside_window", f"outside {household.id}'s availability"
        there = _max_concurrent(taken.near(block.start, block.end), block)
        if there + spec.children > places:
            return "full", f"{there} of {places} place(s) taken"
        return None

    reasons: dict[str, int] = {}
    anchor = first
    while anchor <= last_start:
        issue = problem(block_at(anchor))
        if issue is None:
            break
        reasons[issue[0]] = reasons.get(issue[0], 0) + 1
        anchor += timedelta(weeks=1)
    else:
        summary = tuple(f"{count} weekend(s): {reason}" for reason, count in sorted(reasons.items()))
        return NoSlot(
            "no_free_weekend",
            f"No weekend from {first} to {last_start} fits at {household.id} ({places} place(s)).",
            summary,
        )

    rule = make_rule(
        first_date=anchor,
        start_minute=spec.start_minute,
        duration=length,
        weekdays=(spec.start_day,),
        interval_weeks=spec.every_weeks,
        until=spec.end_date,
        tz=spec.tz,
        location=household.location,
    )
    horizon_end = _day_start(first + timedelta(weeks=horizon_weeks), tz)
    skipped: list[SkippedOccurrence] = []
    moves: list[Override] = []
    for occ in expand(rule, start=_day_start(anchor, tz), end=horizon_end):
        block = occ.as_interval("respite")
        issue = problem(block)
        if issue is None:
            for _ in range(spec.children):
                taken.add(block)
            continue
        nominal = occ.start.astimezone(tz).date()
        moved_to = None
        for shift in range(1, spec.every_weeks):
            day = nominal + timedelta(weeks=shift)
            if spec.end_date is not None and day > spec.end_date:
                break
            alternative = block_at(day)
            if problem(alternative) is None:
                moved_to = alternative
                break
        if moved_to is not None:
            moves.append(
                Override(occ.original_start, moved_to.start, moved_to.end, f"{issue[0]}: {issue[1]}".strip())
            )
            for _ in range(spec.children):
                taken.add(moved_to)
        else:
            skipped.append(SkippedOccurrence(occ.original_start, nominal, issue[0], issue[1]))
    rule = replace(rule, exdates=frozenset(s.original_start for s in skipped), overrides=tuple(moves))
    blocks = tuple(expand(rule, start=_day_start(anchor, tz), end=horizon_end))
    return RespitePlan(rule=rule, rrule=rrule_string(rule), blocks=blocks, skipped=tuple(skipped))


# --- meetings -----------------------------------------------------------------------------


def _grid_starts(
    first_day: date, last_day: date, tz: ZoneInfo, grid_minutes: int, holidays: ClosedDays | None
) -> Iterator[datetime]:
    """UTC starts on the local grid, day by day, skipping closed days and duplicate instants."""
    seen: set[datetime] = set()
    day = first_day
    while day <= last_day:
        if _closed(holidays, day) is None:
            for minute in range(0, MINUTES_PER_DAY, grid_minutes):
                start = _wall_utc(day, minute, tz)
                if start not in seen:  # 02:30 in the March gap is the same instant as 03:30
                    seen.add(start)
                    yield start
        day += timedelta(days=1)


def find_meeting_slot(
    parties: Sequence[Party],
    duration_minutes: int,
    window_start: datetime,
    window_end: datetime,
    *,
    grid_minutes: int = 15,
    required_ids: Iterable[str] | None = None,
    optional_ids: Iterable[str] = (),
    holidays: ClosedDays | None = DANISH_HOLIDAYS,
    tz: str = DEFAULT_TZ,
    location: Location | None = None,
    travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH,
    max_alternatives: int = 5,
) -> MeetingResult:
    """The earliest slot in ``[window_start, window_end)`` where every required party is free.

    Free means inside their weekly windows, not absent, and not double-booked (with travel
    time if the meeting has a ``location``; ``None`` is an online meeting). Slots start on
    the local ``grid_minutes`` grid and never on closed days. ``required_ids`` defaults to
    every party not listed in ``optional_ids`` (e.g. the child); when it is given, parties
    in neither list are optional.

    ``alternatives`` is always filled, ranked by fewest required parties missing, then
    fewest optional ones, then earliest, keeping the earliest slot per local day and set of
    absentees so the list offers real choices rather than 10:00, 10:15, 10:30.
    """
    _check_grid(grid_minutes)
    if duration_minutes <= 0:
        raise RecurrenceError("bad_duration", "a meeting needs a positive duration")
    start_utc = window_start.astimezone(UTC)
    end_utc = window_end.astimezone(UTC)
    if end_utc <= start_utc:
        raise RecurrenceError("bad_window", "the search window must end after it starts")
    ids = [p.id for p in parties]
    if len(set(ids)) != len(ids):
        raise RecurrenceError("duplicate_party", "each party may be invited once")
    optional = set(optional_ids)
    required = set(required_ids) if required_ids is not None else set(ids) - optional
    unknown = (optional | required) - set(ids)
    if unknown:
        raise RecurrenceError("unknown_party", f"unknown party id(s): {sorted(unknown)}")
    if optional & required:
        raise RecurrenceError(
            "bad_party", f"parties cannot be both required and optional: {sorted(optional & required)}"
        )
    optional = set(ids) - required

    zi = zone(tz)
    views = [_PartyView.of(p) for p in parties]
    length = timedelta(minutes=duration_minutes)
    slots: list[MeetingSlot] = []
    for start in _grid_starts(
        start_utc.astimezone(zi).date(), end_utc.astimezone(zi).date(), zi, grid_minutes, holidays
    ):
        end = start + length
        if start < start_utc or end > end_utc:
            continue
        candidate = Interval(start, end, location, "meeting")
        available: list[str] = []
        missing: list[Unavailable] = []
        for view in views:
            problem = view.unavailable(candidate, travel_speed_kmh)
            if problem is None:
                available.append(view.party.id)
            else:
                missing.append(Unavailable(view.party.id, problem[0], view.party.id in required, problem[1]))
        slots.append(MeetingSlot(candidate, tuple(available), tuple(missing)))

    if not slots:
        return MeetingResult(None, (), "No possible start in the window (closed days or window too short).")
    chosen = next((s for s in slots if not s.missing_required), None)

    def rank(s: MeetingSlot) -> tuple:
        return (len(s.missing_required), len(s.missing_optional), s.interval.start)

    alternatives: list[MeetingSlot] = []
    seen: set[tuple[date, frozenset[str]]] = set()
    if chosen is not None:
        seen.add(_alt_key(chosen, zi))
    for slot in sorted(slots, key=rank):
        if len(alternatives) >= max_alternatives:
            break
        key = _alt_key(slot, zi)
        if key in seen or len(slot.available) == 0:
            continue
        seen.add(key)
        alternatives.append(slot)
    if chosen is not None:
        message = "All required parties can attend."
        if chosen.missing_optional:
            message += " Cannot attend: " + ", ".join(chosen.missing_optional) + "."
    else:
        message = "No slot in the window suits every required party; alternatives name who cannot attend."
    return MeetingResult(chosen, tuple(alternatives), message)


def _alt_key(slot: MeetingSlot, tz: ZoneInfo) -> tuple[date, frozenset[str]]:
    return slot.interval.start.astimezone(tz).date(), frozenset(u.party_id for u in slot.unavailable)


# --- absences -----------------------------------------------------------------------------


def affected_by_absence(occurrences: Iterable[Occurrence], absence: Interval) -> list[Occurrence]:
    """The occurrences that overlap the absence, in start order: these get flagged."""
    return sorted(
        (o for o in occurrences if o.start < absence.end and absence.start < o.end), key=lambda o: o.start
    )


def propose_replacements(
    *,
    affected: Sequence[Occurrence],
    provider: Party,
    recipient: Party,
    now: datetime,
    absence: Interval | None = None,
    series: Sequence[Occurrence] = (),
    tz: str = DEFAULT_TZ,
    holidays: ClosedDays | None = DANISH_HOLIDAYS,
    grid_minutes: int = 15,
    travel_speed_kmh: float = DEFAULT_TRAVEL_SPEED_KMH,
    search_weeks: int = 4,
) -> tuple[Replacement, ...]:
    """A new slot for each flagged occurrence: in the same week if possible, else the next free.

    The search runs day by day from the Monday of the occurrence's local week for
    ``search_weeks`` weeks, earliest first, from ``now`` on. A replacement keeps the
    occurrence's length and place, lies within both parties' windows, avoids closed days,
    both parties' absences (``absence`` is added to the provider's), their bookings with
    travel time, the series' other occurrences (``series``) and the replacements already
    proposed, and is never on a local day that already has a session of this series.
    ``proposed`` is ``None`` when nothing is free in the search window.
    """
    _check_grid(grid_minutes)
    if search_weeks < 1:
        raise RecurrenceError("bad_horizon", "search_weeks must be at least 1")
    zi = zone(tz)
    now = now.astimezone(UTC)
    if absence is not None:
        provider = replace(provider, absences=(*provider.absences, absence))
    views = [_PartyView.of(provider), _PartyView.of(recipient)]
    flagged = {o.original_start for o in affected}
    own = _Timeline(o.as_interval("series") for o in series if o.original_start not in flagged)
    session_days = {o.start.astimezone(zi).date() for o in series if o.original_start not in flagged}

    out: list[Replacement] = []
    for occ in sorted(affected, key=lambda o: o.start):
        length = occ.end - occ.start
        local = occ.start.astimezone(zi)
        monday = local.date() - timedelta(days=local.weekday())
        last_day = monday + timedelta(weeks=search_weeks) - timedelta(days=1)
        proposed: Interval | None = None
        for start in _grid_starts(monday, last_day, zi, grid_minutes, holidays):
            day = start.astimezone(zi).date()
            if start < now or day in session_days:
                continue
            end = start + length
            if end.astimezone(zi).date() != day and end.astimezone(zi).time() != time(0):
                continue  # a session stays within one local day
            candidate = Interval(start, end, occ.location, "replacement")
            if any(view.unavailable(candidate, travel_speed_kmh) for view in views):
                continue
            if own.first_conflict(candidate, travel_speed_kmh) is not None:
                continue
            proposed = candidate
            break
        if proposed is None:
            out.append(Replacement(occ, None, "no_free_slot"))
        else:
            own.add(proposed)
            session_days.add(proposed.start.astimezone(zi).date())
            out.append(Replacement(occ, proposed, "absence"))
    return tuple(out)
