"""Properties that must hold for any input: no double booking, wall time kept across DST."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, time, timedelta

from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.geo import distance_km
from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    Frequency,
    Interval,
    Party,
    SeriesSpec,
    WeeklyWindow,
    detect_conflicts,
    expand,
    find_series_slot,
    ical_lines,
    make_rule,
)

from .helpers import CPH, FAR_30KM, FAR_60KM, HOME

PLACES = [HOME, FAR_30KM, FAR_60KM, None]
# Weeks that contain a DST change, so every example crosses one.
START_DATES = [date(2026, 3, 16), date(2026, 10, 12), date(2027, 3, 15), date(2027, 10, 18)]
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def independent_gap(a, b) -> timedelta:
    """Travel time computed here, not by the code under test."""
    if a is None or b is None:
        return timedelta(0)
    return timedelta(minutes=math.ceil(distance_km(a.lat, a.lon, b.lat, b.lon) * 60 / 50 - 1e-9))


@st.composite
def windows(draw):
    days = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    start = draw(st.integers(6, 12)) * 60
    end = draw(st.integers(13, 20)) * 60
    return [WeeklyWindow(d, start, end) for d in sorted(days)]


@st.composite
def bookings(draw, first: date, max_size: int = 60):
    out = []
    for offset, quarter, quarters, place in draw(
        st.lists(
            st.tuples(st.integers(0, 69), st.integers(24, 80), st.integers(1, 12), st.sampled_from(PLACES)),
            max_size=max_size,
        )
    ):
        wall = datetime.combine(first + timedelta(days=offset), time()) + timedelta(minutes=15 * quarter)
        start = wall.replace(tzinfo=CPH)
        out.append(Interval(start, start + timedelta(minutes=15 * quarters), place, f"b{len(out)}"))
    return out


@st.composite
def scenarios(draw):
    first = draw(st.sampled_from(START_DATES))
    provider = Party(
        "provider",
        windows=draw(windows()),
        busy=draw(bookings(first)),
        absences=draw(bookings(first, max_size=2)),
        location=FAR_30KM,
    )
    recipient = Party(
        "household", windows=draw(windows()), busy=draw(bookings(first, max_size=8)), location=HOME
    )
    spec = SeriesSpec(
        duration_minutes=draw(st.sampled_from([30, 45, 60, 90])),
        frequency=Frequency.from_sessions_per_week(draw(st.sampled_from([2, 1, 0.5]))),
        start_date=first,
        remote=draw(st.booleans()),
    )
    return provider, recipient, spec


def shared_days(provider: Party, recipient: Party, minutes: int) -> int:
    """Weekdays on which both windows overlap for ``minutes`` (one window per day here)."""
    count = 0
    for day in range(7):
        a = [w for w in provider.windows if w.day == day]
        b = [w for w in recipient.windows if w.day == day]
        if (
            a
            and b
            and min(a[0].end_minute, b[0].end_minute) - max(a[0].start_minute, b[0].start_minute) >= minutes
        ):
            count += 1
    return count


def in_windows(party: Party, occ) -> bool:
    lo, hi = occ.start.astimezone(CPH), occ.end.astimezone(CPH)
    start = lo.hour * 60 + lo.minute
    end = start + (occ.end - occ.start).seconds // 60
    return lo.date() == hi.date() and any(
        w.day == lo.weekday() and w.start_minute <= start and end <= w.end_minute for w in party.windows
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_no_proposed_occurrence_is_double_booked_closed_or_outside_windows(scenario):
    provider, recipient, spec = scenario
    result = find_series_slot(
        provider, recipient, spec, horizon_weeks=4, materialise_months=2, grid_minutes=30
    )
    enough_days = shared_days(provider, recipient, spec.duration_minutes) >= spec.frequency.days_per_interval
    if not result.found:
        assert (result.code == "no_overlapping_windows") == (not enough_days)
        return
    assert enough_days
    assert result.occurrences
    for occ in result.occurrences:
        for b in (*provider.busy, *recipient.busy):
            gap = independent_gap(b.location, occ.location)
            assert not (occ.start < b.end + gap and b.start < occ.end + gap), (occ, b)
        for absence in (*provider.absences, *recipient.absences):
            assert not (occ.start < absence.end and absence.start < occ.end)
        assert not DANISH_HOLIDAYS.is_closed(occ.start.astimezone(CPH).date())
        assert in_windows(provider, occ) and in_windows(recipient, occ)
    new = [o.as_interval("new") for o in result.occurrences]
    assert not [c for c in detect_conflicts([*provider.busy, *new]) if "new" in (c.first.ref, c.second.ref)]
    # The stored rule, read back by another RFC 5545 implementation, gives the same sessions.
    first, last = result.occurrences[0].start, result.occurrences[-1].start
    parsed = [
        d.astimezone(UTC)
        for d in rrulestr("\n".join(ical_lines(result.rule)), forceset=True).between(first, last, inc=True)
    ]
    assert parsed == [o.start for o in result.occurrences]


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 3 * 24 * 4), st.integers(1, 16), st.sampled_from(PLACES)),
        min_size=2,
        max_size=30,
    )
)
def test_detect_conflicts_finds_exactly_the_pairs_a_brute_force_check_finds(raw):
    base = datetime(2026, 10, 24, tzinfo=CPH)  # a weekend with a DST change
    items = [
        Interval(base + timedelta(minutes=15 * q), base + timedelta(minutes=15 * (q + n)), place, str(i))
        for i, (q, n, place) in enumerate(raw)
    ]
    expected = set()
    for a, b in itertools.combinations(items, 2):
        gap = independent_gap(a.location, b.location)
        if a.start < b.end + gap and b.start < a.end + gap:
            expected.add(frozenset((a.ref, b.ref)))
    found = {frozenset((c.first.ref, c.second.ref)) for c in detect_conflicts(items)}
    assert found == expected


@PROPERTY_SETTINGS
@given(
    first=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    minute=st.integers(0, 24 * 4 - 1).map(lambda q: q * 15),
    interval=st.sampled_from([1, 2, 4]),
)
def test_every_occurrence_keeps_the_wall_clock_time(first, minute, interval):
    rule = make_rule(
        first_date=first, start_minute=minute, duration=timedelta(minutes=45), interval_weeks=interval
    )
    start = datetime.combine(first, time(), tzinfo=CPH)
    for occ in expand(rule, start=start, end=start + timedelta(weeks=60)):
        wall = occ.start.astimezone(CPH)
        wanted = datetime.combine(wall.date(), time(minute // 60, minute % 60))
        offset_before = wanted.replace(tzinfo=CPH, fold=0).utcoffset()
        exists = wanted.replace(tzinfo=CPH).astimezone(UTC).astimezone(CPH).replace(tzinfo=None) == wanted
        if exists:
            assert wall.replace(tzinfo=None) == wanted
        else:  # inside the March gap: read with the offset before it, i.e. one hour later
            assert wall.replace(tzinfo=None) == wanted + timedelta(hours=1)
            assert occ.start == (wanted - offset_before).replace(tzinfo=UTC)
        assert occ.end - occ.start == timedelta(minutes=45)
        assert (wall.date() - first).days % (7 * interval) == 0
