"""Proposing a session series from an accepted assignment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.recurrence import (
    Frequency,
    Interval,
    RecurrenceError,
    SeriesSpec,
    find_series_slot,
    ical_lines,
)

from .helpers import (
    CPH,
    FAR_30KM,
    FAR_60KM,
    HOME,
    booking,
    household,
    local,
    provider,
    weekdays,
    weekly_bookings,
)

TUE_THU_MORNINGS = weekdays("09:00", "12:00", days=(1, 3))


def spec(start: date = date(2026, 3, 2), per_week: float = 1, **kwargs) -> SeriesSpec:
    return SeriesSpec(
        duration_minutes=kwargs.pop("minutes", 60),
        frequency=Frequency.from_sessions_per_week(per_week),
        start_date=start,
        **kwargs,
    )


def local_dates(occurrences) -> list[date]:
    return [o.start.astimezone(CPH).date() for o in occurrences]


def test_first_slot_is_where_both_weekly_windows_overlap():
    result = find_series_slot(provider(), household(windows=TUE_THU_MORNINGS), spec())
    assert result.found
    assert result.dtstart == local(2026, 3, 3, 9)
    assert result.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU"
    assert result.rule.location == HOME
    assert len(result.occurrences) == 53  # twelve months of Tuesdays, none of them closed


def test_series_starts_on_its_start_date_and_after_now():
    home = household(windows=TUE_THU_MORNINGS)
    assert find_series_slot(provider(), home, spec(start=date(2026, 3, 4))).dtstart == local(2026, 3, 5, 9)
    # At 11:30 on Tuesday every Tuesday slot today has begun, so Thursday 09:00 is first.
    late = find_series_slot(provider(), home, spec(), now=local(2026, 3, 3, 11, 30))
    assert late.dtstart == local(2026, 3, 5, 9)


@pytest.mark.parametrize(
    "first_monday", [date(2026, 3, 16), date(2026, 10, 12), date(2027, 3, 15), date(2027, 10, 18)]
)
def test_series_keeps_local_time_across_dst(first_monday):
    home = household(windows=weekdays("10:00", "12:00", days=(0,)))
    result = find_series_slot(provider(), home, spec(start=first_monday), horizon_weeks=4)
    walls = [o.start.astimezone(CPH) for o in result.occurrences[:4]]
    assert [(w.hour, w.minute) for w in walls] == [(10, 0)] * 4
    utc_hours = [o.start.hour for o in result.occurrences[:4]]
    # Two weeks before the change, two after: the UTC hour moves by one.
    winter, summer = 9, 8
    assert utc_hours == (
        [winter] * 2 + [summer] * 2 if first_monday.month == 3 else [summer] * 2 + [winter] * 2
    )


def test_thursday_series_skips_ascension_day_2027_with_an_exdate():
    home = household(windows=weekdays("09:00", "12:00", days=(3,)))
    result = find_series_slot(provider(), home, spec(start=date(2027, 4, 1)))
    assert date(2027, 5, 6) not in local_dates(result.occurrences)
    assert [(s.local_date, s.reason, s.detail) for s in result.skipped] == [
        (date(2027, 5, 6), "holiday", "Kristi himmelfartsdag")
    ]
    assert ical_lines(result.rule)[-1] == "EXDATE;TZID=Europe/Copenhagen:20270506T090000"
    assert result.dtstart == local(2027, 4, 1, 9)


def test_first_slot_means_first_session_that_actually_happens():
    # Starting on Ascension Day: Thursday 09:00 would first meet a week later, Friday 13:00 tomorrow.
    windows = [*weekdays("09:00", "12:00", days=(3,)), *weekdays("13:00", "15:00", days=(4,))]
    result = find_series_slot(provider(), household(windows=windows), spec(start=date(2027, 5, 6)))
    assert result.dtstart == local(2027, 5, 7, 13)
    assert result.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=FR"


def test_monday_series_skips_easter_and_whit_monday():
    home = household(windows=weekdays("09:00", "12:00", days=(0,)))
    result = find_series_slot(provider(), home, spec(start=date(2026, 3, 30)))
    assert [s.local_date for s in result.skipped] == [date(2026, 4, 6), date(2026, 5, 25), date(2027, 3, 29)]
    assert {s.detail for s in result.skipped} == {"Anden påskedag", "Anden pinsedag"}
    assert not set(local_dates(result.occurrences)) & {s.local_date for s in result.skipped}


def test_in_person_session_leaves_travel_time_after_a_booking_30_km_away():
    # The provider is busy until 09:00 30 km away: 36 minutes at 50 km/h, so 09:45 on the grid.
    busy = weekly_bookings(local(2026, 3, 3, 8), 60, weeks=60, location=FAR_30KM, ref="other family")
    result = find_series_slot(provider(busy=busy), household(windows=TUE_THU_MORNINGS), spec())
    assert result.dtstart == local(2026, 3, 3, 9, 45)
    faster = find_series_slot(
        provider(busy=busy), household(windows=TUE_THU_MORNINGS), spec(), travel_speed_kmh=90
    )
    assert faster.dtstart == local(2026, 3, 3, 9, 30)  # 20 minutes of travel


def test_remote_session_needs_no_travel_time():
    busy = weekly_bookings(local(2026, 3, 3, 8), 60, weeks=60, location=FAR_30KM)
    result = find_series_slot(provider(busy=busy), household(windows=TUE_THU_MORNINGS), spec(remote=True))
    assert result.dtstart == local(2026, 3, 3, 9)
    assert result.rule.location is None


def test_recipients_own_bookings_and_travel_are_respected():
    # The family is at the hospital 60 km away until 08:30: 72 minutes home, so 09:45.
    busy = weekly_bookings(local(2026, 3, 3, 7, 30), 60, weeks=60, location=FAR_60KM, ref="hospital")
    result = find_series_slot(provider(), household(windows=TUE_THU_MORNINGS, busy=busy), spec())
    assert result.dtstart == local(2026, 3, 3, 9, 45)


def test_a_clash_within_the_evaluation_horizon_rejects_the_slot():
    one_off = booking(local(2026, 3, 31, 9), 60, HOME, "network meeting")
    home = household(windows=weekdays("09:00", "12:00", days=(1,)))
    result = find_series_slot(provider(busy=[one_off]), home, spec())
    assert result.dtstart == local(2026, 3, 3, 10)
    assert result.skipped == ()


def test_a_clash_after_the_evaluation_horizon_is_skipped_never_double_booked():
    later = booking(local(2026, 7, 7, 9), 60, HOME, "session:77")
    home = household(windows=weekdays("09:00", "12:00", days=(1,)))
    result = find_series_slot(provider(busy=[later]), home, spec())
    assert result.dtstart == local(2026, 3, 3, 9)
    assert [(s.local_date, s.reason) for s in result.skipped] == [(date(2026, 7, 7), "clash")]
    assert "session:77" in result.skipped[0].detail
    assert all(not o.as_interval().overlaps(later) for o in result.occurrences)


def test_provider_absence_skips_occurrences_but_keeps_the_slot():
    absence = Interval.local_days(date(2026, 4, 13), date(2026, 4, 24), ref="summer leave")
    home = household(windows=weekdays("09:00", "12:00", days=(1,)))
    result = find_series_slot(provider(absences=[absence]), home, spec())
    assert result.dtstart == local(2026, 3, 3, 9)
    assert [(s.local_date, s.reason) for s in result.skipped] == [
        (date(2026, 4, 14), "absence"),
        (date(2026, 4, 21), "absence"),
    ]
    assert "provider absent (summer leave)" in result.skipped[0].detail


def test_losing_too_many_sessions_rejects_every_slot():
    long_leave = Interval.local_days(date(2026, 3, 9), date(2026, 4, 19))  # 6 of the first 12 weeks
    result = find_series_slot(provider(absences=[long_leave]), household(windows=TUE_THU_MORNINGS), spec())
    assert not result.found
    assert result.code == "too_many_lost"
    relaxed = find_series_slot(
        provider(absences=[long_leave]), household(windows=TUE_THU_MORNINGS), spec(), max_lost_fraction=0.6
    )
    assert relaxed.found


def test_twice_a_week_uses_two_weekdays_that_are_not_adjacent():
    home = household(windows=weekdays("09:00", "12:00", days=(0, 1, 3)))
    result = find_series_slot(provider(), home, spec(per_week=2))
    assert result.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH"
    assert {o.start.astimezone(CPH).weekday() for o in result.occurrences} == {0, 3}
    first_week = [o for o in result.occurrences if o.start < local(2026, 3, 9)]
    assert local_dates(first_week) == [date(2026, 3, 2), date(2026, 3, 5)]


def test_spread_out_days_beat_an_earlier_start_on_adjacent_days():
    windows = [*weekdays("09:00", "12:00", days=(0, 1)), *weekdays("11:00", "13:00", days=(3,))]
    result = find_series_slot(provider(), household(windows=windows), spec(per_week=2))
    # Mon+Tue at 09:00 would start two hours earlier, but Mon+Thu at 11:00 spaces the sessions.
    assert result.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH"
    assert result.dtstart == local(2026, 3, 2, 11)


def test_twice_a_week_falls_back_to_adjacent_days():
    home = household(windows=weekdays("09:00", "12:00", days=(0, 1)))
    assert find_series_slot(provider(), home, spec(per_week=2)).rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU"


@pytest.mark.parametrize(("per_week", "interval"), [(0.5, 2), (0.25, 4)])
def test_every_two_and_four_weeks(per_week, interval):
    result = find_series_slot(provider(), household(windows=TUE_THU_MORNINGS), spec(per_week=per_week))
    assert result.rrule == f"FREQ=WEEKLY;INTERVAL={interval};BYDAY=TU"
    dates = local_dates(result.occurrences)
    assert {(b - a).days for a, b in zip(dates, dates[1:], strict=False)} == {7 * interval}


def test_end_date_bounds_the_series():
    result = find_series_slot(
        provider(), household(windows=TUE_THU_MORNINGS), spec(end_date=date(2026, 4, 30))
    )
    assert result.rrule.endswith("UNTIL=20260430T215959Z")
    assert local_dates(result.occurrences)[-1] == date(2026, 4, 28)


def test_no_overlapping_windows_is_reported_with_both_availabilities():
    result = find_series_slot(
        provider(windows=weekdays("08:00", "10:00")), household(windows=weekdays("14:00", "18:00")), spec()
    )
    assert not result.found
    assert result.code == "no_overlapping_windows"
    assert "provider: Mon 08:00-10:00" in result.details[0]
    assert "household: Mon 14:00-18:00" in result.details[1]


def test_twice_a_week_needs_two_shared_weekdays():
    home = household(windows=weekdays("09:00", "12:00", days=(2,)))
    result = find_series_slot(provider(), home, spec(per_week=2))
    assert result.code == "no_overlapping_windows"


def test_all_overlapping_slots_clash_is_reported():
    busy = [b for day in range(5) for b in weekly_bookings(local(2026, 3, 2 + day, 8), 8 * 60, weeks=13)]
    result = find_series_slot(provider(busy=busy), household(windows=TUE_THU_MORNINGS), spec())
    assert not result.found
    assert result.code == "all_slots_clash"
    assert any("provider's bookings" in d for d in result.details)


def test_in_person_series_without_a_place_is_refused():
    with pytest.raises(RecurrenceError) as err:
        find_series_slot(provider(), household(location=None), spec())
    assert err.value.code == "no_location"
    assert find_series_slot(provider(), household(location=None), spec(remote=True)).found


def test_occurrences_cover_the_materialisation_horizon():
    default = find_series_slot(provider(), household(windows=TUE_THU_MORNINGS), spec())
    assert local_dates(default.occurrences)[-1] == date(2027, 3, 2)  # twelve months from 3 March 2026
    short = find_series_slot(provider(), household(windows=TUE_THU_MORNINGS), spec(), materialise_months=3)
    assert local_dates(short.occurrences)[-1] == date(2026, 6, 2)
    assert short.occurrences[-1].start - short.occurrences[0].start < timedelta(days=92)
