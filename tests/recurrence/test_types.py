"""Frequencies, intervals and input validation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from scheduler.recurrence import (
    Frequency,
    FrequencyError,
    Interval,
    Party,
    RecurrenceError,
    RespiteSpec,
    SeriesSpec,
    WeeklyWindow,
)

from .helpers import DST_ENDS_2026, DST_STARTS_2026, local, utc


@pytest.mark.parametrize(
    ("per_week", "interval", "days", "label"),
    [
        (2, 1, 2, "twice a week"),
        (1, 1, 1, "weekly"),
        (0.5, 2, 1, "every 2 weeks"),
        (0.25, 4, 1, "every 4 weeks"),
        (1.5, 1, 2, "twice a week"),  # nearest sensible: rounds half up
        (0.3, 3, 1, "every 3 weeks"),
        (0.75, 1, 1, "weekly"),
        (7, 1, 7, "7 times a week"),
    ],
)
def test_frequency_from_sessions_per_week(per_week, interval, days, label):
    frequency = Frequency.from_sessions_per_week(per_week)
    assert (frequency.interval_weeks, frequency.days_per_interval) == (interval, days)
    assert frequency.label == label


@pytest.mark.parametrize("nonsense", [0, -1, 7.6, 8, float("nan"), float("inf"), 0.05, True, "2"])
def test_nonsense_frequencies_are_clear_errors(nonsense):
    with pytest.raises(FrequencyError) as err:
        Frequency.from_sessions_per_week(nonsense)
    assert err.value.code == "bad_frequency"
    assert str(err.value)


def test_interval_is_stored_in_utc_and_must_be_aware_and_non_empty():
    interval = Interval(local(2026, 6, 1, 10), local(2026, 6, 1, 11))
    assert interval.start == utc(2026, 6, 1, 8)
    with pytest.raises(RecurrenceError):
        Interval(datetime(2026, 6, 1, 10), datetime(2026, 6, 1, 11))
    with pytest.raises(RecurrenceError):
        Interval(utc(2026, 6, 1, 10), utc(2026, 6, 1, 10))


def test_touching_intervals_do_not_overlap_unless_a_buffer_is_needed():
    a = Interval(utc(2026, 6, 1, 9), utc(2026, 6, 1, 10))
    b = Interval(utc(2026, 6, 1, 10), utc(2026, 6, 1, 11))
    assert not a.overlaps(b)
    assert a.overlaps(b, buffer=timedelta(minutes=1))


def test_local_days_span_23_and_25_hours_on_dst_days():
    assert Interval.local_days(DST_STARTS_2026, DST_STARTS_2026).duration == timedelta(hours=23)
    assert Interval.local_days(DST_ENDS_2026, DST_ENDS_2026).duration == timedelta(hours=25)
    week = Interval.local_days(date(2026, 3, 23), date(2026, 3, 29))
    assert week.start == utc(2026, 3, 22, 23)
    assert week.end == utc(2026, 3, 29, 22)


def test_window_and_spec_validation():
    assert WeeklyWindow.of(4, "16:00", "24:00") == WeeklyWindow(4, 960, 1440)
    with pytest.raises(RecurrenceError):
        WeeklyWindow(7, 0, 60)
    with pytest.raises(RecurrenceError):
        WeeklyWindow(0, 600, 600)
    with pytest.raises(RecurrenceError):
        SeriesSpec(0, Frequency(), date(2026, 1, 1))
    with pytest.raises(RecurrenceError):
        SeriesSpec(60, Frequency(), date(2026, 2, 1), end_date=date(2026, 1, 1))
    with pytest.raises(RecurrenceError):
        Party("p", tz="Europe/Atlantis")


def test_party_lists_become_sorted_tuples():
    late = Interval(utc(2026, 6, 2, 9), utc(2026, 6, 2, 10))
    early = Interval(utc(2026, 6, 1, 9), utc(2026, 6, 1, 10))
    party = Party("p", busy=[late, early])
    assert party.busy == (early, late)


def test_respite_block_length_is_nominal_days_plus_time():
    assert RespiteSpec(every_weeks=2, start_date=date(2026, 1, 2)).block_length == timedelta(days=2, hours=2)
    later_pickup = RespiteSpec(
        every_weeks=2, start_date=date(2026, 1, 2), start_minute=18 * 60, end_minute=16 * 60
    )
    assert later_pickup.block_length == timedelta(days=1, hours=22)
