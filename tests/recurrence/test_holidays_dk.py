"""Danish public holidays and configurable closed days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    PUBLIC_HOLIDAYS_ONLY,
    DanishHolidays,
    RecurrenceError,
    expand,
    make_rule,
)

from .helpers import CPH, DST_STARTS_2027, utc


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 5, 6), "Kristi himmelfartsdag"),
        (date(2026, 4, 6), "Anden påskedag"),
        (date(2027, 3, 29), "Anden påskedag"),
        (date(2026, 4, 2), "Skærtorsdag"),
        (date(2026, 5, 25), "Anden pinsedag"),
        (date(2026, 12, 26), "Anden juledag"),
    ],
)
def test_official_public_holidays_are_closed(day, name):
    assert PUBLIC_HOLIDAYS_ONLY.closed_reason(day) == name
    assert DANISH_HOLIDAYS.closed_reason(day) == name


def test_ordinary_days_are_open():
    assert DANISH_HOLIDAYS.closed_reason(date(2027, 5, 5)) is None
    assert not DANISH_HOLIDAYS.is_closed(date(2026, 3, 10))


def test_great_prayer_day_was_abolished_from_2024():
    assert PUBLIC_HOLIDAYS_ONLY.closed_reason(date(2023, 5, 5)) == "Store bededag"
    assert PUBLIC_HOLIDAYS_ONLY.closed_reason(date(2024, 4, 26)) is None


def test_customary_days_are_closed_by_default_but_can_be_switched_off():
    for day, name in [
        (date(2026, 12, 24), "Juleaftensdag"),
        (date(2026, 12, 31), "Nytårsaftensdag"),
        (date(2026, 6, 5), "Grundlovsdag"),
    ]:
        assert DANISH_HOLIDAYS.closed_reason(day) == name
        assert PUBLIC_HOLIDAYS_ONLY.closed_reason(day) is None
    # 1 May is off only under some agreements, so it is opt-in.
    assert DANISH_HOLIDAYS.closed_reason(date(2026, 5, 1)) is None
    assert DanishHolidays(customary=("workers_day",)).closed_reason(date(2026, 5, 1)) == "1. maj"


def test_extra_closed_days_and_english_names():
    calendar = DanishHolidays(customary=(), extra_days={date(2026, 7, 20): "Sommerlukning"}, language="en_US")
    assert calendar.closed_reason(date(2026, 7, 20)) == "Sommerlukning"
    assert calendar.closed_reason(date(2027, 5, 6)) == "Ascension Day"
    assert DanishHolidays(extra_days=[date(2026, 8, 3)]).is_closed(date(2026, 8, 3))


def test_unknown_customary_day_is_an_error():
    with pytest.raises(RecurrenceError) as err:
        DanishHolidays(customary=("midsummer",))
    assert err.value.code == "unknown_closed_day"


def test_easter_sunday_2027_is_both_a_holiday_and_the_dst_change():
    # 28 March 2027 is Easter Sunday and the night summer time starts.
    assert DST_STARTS_2027.weekday() == 6
    assert DANISH_HOLIDAYS.closed_reason(DST_STARTS_2027) == "Påskedag"
    rule = make_rule(first_date=date(2027, 3, 14), start_minute=10 * 60, duration=timedelta(hours=1))
    kept = [
        o
        for o in expand(rule, start=utc(2027, 3, 14), end=utc(2027, 4, 5))
        if not DANISH_HOLIDAYS.is_closed(o.start.astimezone(CPH).date())
    ]
    assert [o.start.astimezone(CPH).date() for o in kept] == [
        date(2027, 3, 14),
        date(2027, 3, 21),
        date(2027, 4, 4),
    ]
    assert [o.start.hour for o in kept] == [9, 9, 8]  # UTC; 10:00 local throughout
