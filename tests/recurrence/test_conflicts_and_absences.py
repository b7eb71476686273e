"""No double booking (with travel time), and replacing sessions hit by a provider absence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.recurrence import (
    Interval,
    RecurrenceError,
    affected_by_absence,
    clashes,
    detect_conflicts,
    expand,
    make_rule,
    overlaps,
    propose_replacements,
    travel_minutes,
)

from .helpers import CPH, FAR_30KM, FAR_60KM, HOME, booking, household, local, provider, utc, weekdays


def test_travel_time_between_places_30_km_apart_at_50_kmh_is_36_minutes():
    assert travel_minutes(HOME, FAR_30KM) == 36
    assert travel_minutes(HOME, FAR_30KM, speed_kmh=30) == 60
    assert travel_minutes(HOME, FAR_60KM) == 72
    assert travel_minutes(HOME, HOME) == 0
    assert travel_minutes(HOME, None) == 0
    with pytest.raises(RecurrenceError):
        travel_minutes(HOME, FAR_30KM, speed_kmh=0)


def test_two_in_person_sessions_30_km_apart_cannot_be_back_to_back():
    first = booking(local(2026, 6, 1, 9), 60, HOME, "a")
    second = booking(local(2026, 6, 1, 10), 60, FAR_30KM, "b")
    [conflict] = detect_conflicts([second, first])
    assert (conflict.first.ref, conflict.second.ref, conflict.kind, conflict.travel_minutes) == (
        "a",
        "b",
        "travel",
        36,
    )
    assert overlaps(first, second, travel_speed_kmh=50)
    assert not overlaps(first, second)


def test_exactly_the_travel_time_is_enough_one_minute_less_is_not():
    first = booking(local(2026, 6, 1, 9), 60, HOME)
    assert detect_conflicts([first, booking(local(2026, 6, 1, 10, 36), 60, FAR_30KM)]) == []
    assert len(detect_conflicts([first, booking(local(2026, 6, 1, 10, 35), 60, FAR_30KM)])) == 1


def test_remote_sessions_and_sessions_at_the_same_place_can_be_back_to_back():
    first = booking(local(2026, 6, 1, 9), 60, HOME)
    assert detect_conflicts([first, booking(local(2026, 6, 1, 10), 60, None)]) == []
    assert detect_conflicts([first, booking(local(2026, 6, 1, 10), 60, HOME)]) == []


def test_overlapping_bookings_conflict_even_when_remote():
    first = booking(local(2026, 6, 1, 9), 60)
    second = booking(local(2026, 6, 1, 9, 30), 60)
    assert [c.kind for c in detect_conflicts([first, second])] == ["overlap"]


def test_detect_conflicts_finds_the_one_clash_in_a_year_across_dst():
    rule = make_rule(
        first_date=date(2026, 1, 5), start_minute=9 * 60, duration=timedelta(hours=1), location=HOME
    )
    year = [
        o.as_interval(f"s{i}") for i, o in enumerate(expand(rule, start=utc(2026, 1, 1), end=utc(2027, 1, 1)))
    ]
    # Another family 30 km away at 10:15 on the Monday after the October change: 15 minutes is too little.
    intruder = booking(local(2026, 10, 26, 10, 15), 60, FAR_30KM, "intruder")
    conflicts = detect_conflicts([*year, intruder])
    assert [(c.first.start.astimezone(CPH), c.second.ref) for c in conflicts] == [
        (local(2026, 10, 26, 9), "intruder")
    ]


def test_clashes_lists_what_a_candidate_would_double_book():
    busy = [
        booking(local(2026, 6, 1, 8), 60, FAR_30KM, "early"),
        booking(local(2026, 6, 1, 13), 60, HOME, "late"),
    ]
    candidate = booking(local(2026, 6, 1, 9, 15), 60, HOME)
    assert [c.second.ref for c in clashes(candidate, busy)] == ["early"]
    assert clashes(booking(local(2026, 6, 1, 9, 45), 60, HOME), busy) == []


def thursdays(first: date = date(2026, 6, 4), weeks: int = 8):
    rule = make_rule(first_date=first, start_minute=10 * 60, duration=timedelta(hours=1), location=HOME)
    start = local(first.year, first.month, first.day)
    return expand(rule, start=start, end=start + timedelta(weeks=weeks))


def test_absence_flags_the_occurrences_it_touches():
    series = thursdays()
    absence = Interval.local_days(date(2026, 6, 10), date(2026, 6, 12))
    assert [o.start.astimezone(CPH).date() for o in affected_by_absence(series, absence)] == [
        date(2026, 6, 11)
    ]
    partly = Interval(local(2026, 6, 18, 8), local(2026, 6, 18, 10, 30))
    assert [o.start.astimezone(CPH).date() for o in affected_by_absence(series, partly)] == [
        date(2026, 6, 18)
    ]
    assert affected_by_absence(series, Interval(local(2026, 6, 18, 8), local(2026, 6, 18, 10))) == []


def replacements(series, absence, now, **kwargs):
    kwargs.setdefault("provider", provider())
    kwargs.setdefault("recipient", household(windows=weekdays("09:00", "12:00")))
    return propose_replacements(
        affected=affected_by_absence(series, absence), absence=absence, series=series, now=now, **kwargs
    )


def test_replacement_is_proposed_in_the_same_week_after_now():
    series = thursdays()
    absence = Interval.local_days(date(2026, 6, 11), date(2026, 6, 11), ref="sick")
    [replacement] = replacements(series, absence, now=local(2026, 6, 8, 8))
    assert replacement.original.start.astimezone(CPH) == local(2026, 6, 11, 10)
    assert replacement.proposed.start == local(2026, 6, 8, 9)
    assert replacement.proposed.duration == timedelta(hours=1)
    assert replacement.proposed.location == HOME
    [late] = replacements(series, absence, now=local(2026, 6, 11, 7))
    assert late.proposed.start == local(2026, 6, 12, 9)  # Friday, after the one-day absence


def test_replacement_goes_to_the_next_week_when_this_week_is_full():
    series = thursdays()
    absence = Interval.local_days(date(2026, 6, 11), date(2026, 6, 11))
    busy_week = [booking(local(2026, 6, 8 + d, 9), 180, HOME, "other") for d in range(5)]
    [replacement] = replacements(
        series,
        absence,
        now=local(2026, 6, 8, 8),
        recipient=household(windows=weekdays("09:00", "12:00"), busy=busy_week),
    )
    assert replacement.proposed.start == local(2026, 6, 15, 9)


def test_replacement_respects_travel_time_from_the_providers_previous_visit():
    series = thursdays()
    absence = Interval.local_days(date(2026, 6, 11), date(2026, 6, 11))
    visit = booking(local(2026, 6, 8, 8), 60, FAR_60KM, "visit")  # 72 minutes away
    [replacement] = replacements(series, absence, now=local(2026, 6, 8, 7), provider=provider(busy=[visit]))
    assert replacement.proposed.start == local(2026, 6, 8, 10, 15)


def test_several_replacements_never_double_book_or_share_a_day_with_the_series():
    rule = make_rule(
        first_date=date(2026, 6, 2),
        start_minute=10 * 60,
        duration=timedelta(hours=1),
        weekdays=(1, 3),
        location=HOME,
    )
    series = expand(rule, start=local(2026, 6, 1), end=local(2026, 7, 27))  # twice a week: Tue + Thu
    absence = Interval.local_days(date(2026, 6, 9), date(2026, 6, 11))
    home = household(windows=weekdays("09:00", "10:00"))  # one hour a day
    result = replacements(series, absence, now=local(2026, 6, 1, 8), recipient=home)
    assert [r.original.start.astimezone(CPH).date() for r in result] == [date(2026, 6, 9), date(2026, 6, 11)]
    proposed = [r.proposed for r in result]
    # Monday goes to the first; the second may not share Monday, and Tue-Thu are the absence.
    assert [p.start for p in proposed] == [local(2026, 6, 8, 9), local(2026, 6, 12, 9)]
    kept = [
        o.as_interval() for o in series if o.original_start not in {r.original.original_start for r in result}
    ]
    assert detect_conflicts([*kept, *proposed]) == []
    series_days = {o.start.astimezone(CPH).date() for o in kept}
    assert not series_days & {p.start.astimezone(CPH).date() for p in proposed}


def test_no_free_slot_is_said_plainly():
    series = thursdays()
    absence = Interval.local_days(date(2026, 6, 1), date(2026, 7, 31))
    [replacement] = propose_replacements(
        affected=affected_by_absence(series, absence)[:1],
        provider=provider(),
        recipient=household(windows=weekdays("09:00", "12:00")),
        absence=absence,
        series=series,
        now=local(2026, 6, 1),
    )
    assert replacement.proposed is None
    assert replacement.reason == "no_free_slot"


def test_replacement_in_the_week_after_dst_ends_keeps_local_time():
    series = thursdays(first=date(2026, 10, 15), weeks=4)
    absence = Interval.local_days(date(2026, 10, 29), date(2026, 10, 29))
    [replacement] = replacements(series, absence, now=local(2026, 10, 26, 7))
    assert replacement.proposed.start == utc(2026, 10, 26, 8)  # 09:00 CET
    assert replacement.original.start == utc(2026, 10, 29, 9)  # 10:00 CET
