"""RRULE building, expansion in local wall time, and series changes."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from dateutil.rrule import rrulestr
from icalendar import Event, vRecur

from scheduler.recurrence import (
    RecurrenceError,
    cancel_occurrence,
    duration_string,
    end_series,
    exclude,
    expand,
    ical_lines,
    is_occurrence,
    make_rule,
    materialise,
    move_occurrence,
    rrule_string,
    split_series,
)

from .helpers import CPH, DST_SUNDAYS, local, utc

HOUR = timedelta(hours=1)


def weekly(first: date, minute: int = 10 * 60, **kwargs):
    kwargs.setdefault("duration", HOUR)
    return make_rule(first_date=first, start_minute=minute, **kwargs)


@pytest.mark.parametrize("dst_sunday", DST_SUNDAYS, ids=str)
def test_weekly_10_oclock_session_stays_at_10_local_across_dst(dst_sunday):
    # A Sunday series hits the changeover day itself; a Monday series the day after.
    for day_offset in (0, 1):
        first = dst_sunday - timedelta(weeks=2) + timedelta(days=day_offset)
        rule = weekly(first)
        occurrences = expand(
            rule, start=local(*first.timetuple()[:3]), end=local(*first.timetuple()[:3]) + timedelta(weeks=4)
        )
        assert len(occurrences) == 4
        walls = [o.start.astimezone(CPH) for o in occurrences]
        assert all((w.hour, w.minute) == (10, 0) for w in walls)
        before, after = occurrences[1], occurrences[2]  # the weeks either side of the change
        utc_shift = (after.start - before.start) - timedelta(weeks=1)
        expected = -HOUR if dst_sunday.month == 3 else HOUR  # summer time starts: UTC an hour earlier
        assert utc_shift == expected
        assert all(o.end - o.start == HOUR for o in occurrences)


def test_utc_times_of_the_march_2026_change_are_an_hour_apart():
    rule = weekly(date(2026, 3, 22))  # Sunday
    first, second = expand(rule, start=utc(2026, 3, 22), end=utc(2026, 3, 30))
    assert first.start == utc(2026, 3, 22, 9)  # 10:00 CET
    assert second.start == utc(2026, 3, 29, 8)  # 10:00 CEST


def test_nonexistent_local_time_is_read_with_the_offset_before_the_gap():
    # 02:30 does not exist on 29 March 2026: RFC 5545 reads it as 03:30 summer time.
    rule = weekly(date(2026, 3, 22), minute=2 * 60 + 30)
    occurrences = expand(rule, start=utc(2026, 3, 22), end=utc(2026, 4, 6))
    assert [o.start for o in occurrences] == [
        utc(2026, 3, 22, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 4, 5, 0, 30),
    ]
    assert occurrences[1].start.astimezone(CPH).strftime("%H:%M") == "03:30"


def test_ambiguous_local_time_means_its_first_occurrence():
    # 02:30 happens twice on 25 October 2026: the first one (summer time) is meant.
    rule = weekly(date(2026, 10, 18), minute=2 * 60 + 30)
    occurrences = expand(rule, start=utc(2026, 10, 18), end=utc(2026, 11, 2))
    assert occurrences[1].start == utc(2026, 10, 25, 0, 30)
    assert occurrences[1].start.astimezone(CPH).utcoffset() == 2 * HOUR
    assert occurrences[2].start == utc(2026, 11, 1, 1, 30)


def test_a_two_day_block_ends_at_the_same_wall_time_on_the_dst_weekend():
    # RFC 5545 DURATION: whole days are nominal, so Friday 16:00 + 2 days 2 hours is Sunday 18:00.
    block = timedelta(days=2, hours=2)
    march = expand(
        weekly(date(2026, 3, 27), 16 * 60, duration=block), start=utc(2026, 3, 27), end=utc(2026, 3, 30)
    )[0]
    october = expand(
        weekly(date(2026, 10, 23), 16 * 60, duration=block), start=utc(2026, 10, 23), end=utc(2026, 10, 26)
    )[0]
    assert march.end.astimezone(CPH) == local(2026, 3, 29, 18)
    assert march.end - march.start == timedelta(hours=49)
    assert october.end.astimezone(CPH) == local(2026, 10, 25, 18)
    assert october.end - october.start == timedelta(hours=51)


def test_rrule_string_has_interval_weekdays_and_utc_until():
    rule = weekly(date(2026, 3, 2), weekdays=(0, 3), interval_weeks=2, until=date(2026, 12, 31))
    # The last second of 31 December local time (CET, +01:00) is 22:59:59 UTC.
    assert rrule_string(rule) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20261231T225959Z"
    assert ical_lines(rule)[0] == "DTSTART;TZID=Europe/Copenhagen:20260302T100000"


@pytest.mark.parametrize(
    ("interval", "days"),
    [(1, (0,)), (2, (2,)), (4, (4,)), (1, (1, 3)), (1, (0, 2, 4))],
)
def test_rrule_parses_back_with_dateutil_to_the_same_occurrences(interval, days):
    first = date(2026, 3, 2)
    while first.weekday() != days[0]:
        first += timedelta(days=1)
    rule = weekly(first, weekdays=days, interval_weeks=interval, until=date(2027, 11, 30))
    some = expand(rule, start=utc(2026, 3, 1), end=utc(2026, 6, 1))
    rule = exclude(rule, [some[1].start, some[3].start])
    ours = [o.start for o in expand(rule, start=utc(2026, 1, 1), end=utc(2028, 1, 1))]
    parsed = rrulestr("\n".join(ical_lines(rule)), forceset=True)
    theirs = [d.astimezone(UTC) for d in parsed]
    assert theirs == ours
    assert some[1].start not in theirs
    # The series crosses four DST changes and still sits at 10:00 local every time.
    assert {d.astimezone(CPH).strftime("%H:%M") for d in parsed} == {"10:00"}


def test_rrule_parses_with_icalendar_vrecur_and_round_trips_in_an_event():
    rule = weekly(date(2026, 3, 5), weekdays=(3,), interval_weeks=4, until=date(2027, 6, 30))
    recur = vRecur.from_ical(rrule_string(rule))
    assert recur["FREQ"] == ["WEEKLY"]
    assert recur["INTERVAL"] == [4]
    assert recur["BYDAY"] == ["TH"]
    assert recur["UNTIL"][0] == utc(2027, 6, 30, 21, 59, 59)  # CEST, +02:00
    text = "\r\n".join(
        ["BEGIN:VEVENT", *ical_lines(rule), "DURATION:" + duration_string(rule.duration), "END:VEVENT"]
    )
    event = Event.from_ical(text)
    assert event.decoded("dtstart") == local(2026, 3, 5, 10)
    assert event.get("rrule")["INTERVAL"] == [4]
    assert event.decoded("duration") == HOUR


def test_exdate_line_uses_local_wall_time_after_dst():
    rule = weekly(date(2026, 3, 23))
    summer = expand(rule, start=utc(2026, 4, 6), end=utc(2026, 4, 7))[0]
    rule = exclude(rule, [summer.start])
    assert ical_lines(rule)[-1] == "EXDATE;TZID=Europe/Copenhagen:20260406T100000"


def test_every_two_and_four_weeks_are_spaced_accordingly():
    for interval in (2, 4):
        rule = weekly(date(2026, 3, 2), interval_weeks=interval)
        starts = [o.start.astimezone(CPH) for o in expand(rule, start=utc(2026, 3, 1), end=utc(2026, 12, 1))]
        gaps = {(b.date() - a.date()).days for a, b in zip(starts, starts[1:], strict=False)}
        assert gaps == {7 * interval}


def test_cancel_and_move_one_occurrence():
    rule = weekly(date(2026, 3, 2))
    second, third = expand(rule, start=utc(2026, 3, 8), end=utc(2026, 3, 20))
    rule = cancel_occurrence(rule, original_start=second.start, reason="sick")
    rule = move_occurrence(
        rule, original_start=third.start, new_start=third.start + timedelta(days=1, hours=4)
    )
    occurrences = expand(rule, start=utc(2026, 3, 1), end=utc(2026, 3, 31))
    assert second.start not in [o.original_start for o in occurrences]
    moved = [o for o in occurrences if o.moved]
    assert len(moved) == 1
    assert moved[0].original_start == third.start
    assert moved[0].start.astimezone(CPH) == local(2026, 3, 17, 14)
    assert moved[0].end - moved[0].start == HOUR
    assert "EXDATE;TZID=Europe/Copenhagen:20260309T100000" in ical_lines(rule)


def test_moved_occurrence_is_found_in_the_range_it_moved_to():
    rule = weekly(date(2026, 3, 2))
    first = expand(rule, start=utc(2026, 3, 2), end=utc(2026, 3, 3))[0]
    rule = move_occurrence(rule, original_start=first.start, new_start=utc(2026, 3, 20, 9))
    assert expand(rule, start=utc(2026, 3, 2), end=utc(2026, 3, 3)) == []
    assert [o.start for o in expand(rule, start=utc(2026, 3, 20), end=utc(2026, 3, 21))] == [
        utc(2026, 3, 20, 9)
    ]


def test_changing_a_time_that_is_not_an_occurrence_is_refused():
    rule = weekly(date(2026, 3, 2))
    with pytest.raises(RecurrenceError) as err:
        cancel_occurrence(rule, original_start=utc(2026, 3, 3, 9))
    assert err.value.code == "not_an_occurrence"
    assert not is_occurrence(rule, utc(2026, 3, 3, 9))
    assert is_occurrence(rule, utc(2026, 3, 9, 9))


def test_split_series_from_a_date_keeps_phase_and_drops_stale_exceptions():
    rule = weekly(date(2026, 3, 2), interval_weeks=2)  # Mondays 2, 16, 30 March, 13 April ...
    occ = {
        o.start.astimezone(CPH).date(): o for o in expand(rule, start=utc(2026, 3, 1), end=utc(2026, 5, 1))
    }
    rule = cancel_occurrence(rule, original_start=occ[date(2026, 3, 2)].start)
    rule = exclude(rule, [occ[date(2026, 4, 13)].start])
    before, after = split_series(rule, from_date=date(2026, 3, 20), start_minute=14 * 60)
    assert before.until == date(2026, 3, 19)
    assert [o.start.date() for o in expand(before, start=utc(2026, 1, 1), end=utc(2027, 1, 1))] == [
        date(2026, 3, 16)
    ]
    assert len(before.overrides) == 1  # the March 2 cancellation stays with the old series
    assert after.dtstart == local(2026, 3, 30, 14)  # the old phase, the new time (and summer time)
    # 13 April was excluded at 10:00; at 14:00 that EXDATE no longer names an occurrence.
    assert after.exdates == frozenset()
    starts = [o.start.astimezone(CPH) for o in expand(after, start=utc(2026, 3, 20), end=utc(2026, 5, 1))]
    assert [s.date() for s in starts] == [date(2026, 3, 30), date(2026, 4, 13), date(2026, 4, 27)]
    assert {s.hour for s in starts} == {14}


def test_split_series_to_new_weekday_starts_on_first_matching_day():
    rule = weekly(date(2026, 3, 2))
    before, after = split_series(rule, from_date=date(2026, 3, 2), weekdays=(3,))
    assert before is None
    assert after.dtstart == local(2026, 3, 5, 10)


def test_end_series_stops_occurrences_and_sets_until():
    rule = weekly(date(2026, 3, 2))
    ended = end_series(rule, last_date=date(2026, 3, 16))
    assert [
        o.start.astimezone(CPH).day for o in expand(ended, start=utc(2026, 1, 1), end=utc(2027, 1, 1))
    ] == [2, 9, 16]
    assert rrule_string(ended).endswith("UNTIL=20260316T225959Z")
    with pytest.raises(RecurrenceError):
        end_series(rule, last_date=date(2026, 3, 1))


def test_materialise_rolls_twelve_months_ahead_from_now():
    rule = weekly(date(2026, 3, 2))
    now = utc(2026, 6, 10, 12)
    occurrences = materialise(rule, now=now)
    assert occurrences[0].start.astimezone(CPH) == local(2026, 6, 15, 10)
    assert occurrences[-1].start < utc(2027, 6, 10, 12) <= occurrences[-1].start + timedelta(weeks=1)
    assert len(occurrences) == 52
    assert len(materialise(rule, now=now, months=3)) == 13


@pytest.mark.parametrize(
    ("duration", "text"),
    [(timedelta(minutes=90), "PT1H30M"), (timedelta(days=2, hours=2), "P2DT2H"), (timedelta(days=1), "P1D")],
)
def test_duration_string(duration, text):
    assert duration_string(duration) == text
