"""Respite care (støtteophold): weekend blocks at a respite household within its places."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    Interval,
    Party,
    RecurrenceError,
    RespiteSpec,
    respite_blocks,
)

from .helpers import CPH, HOME, local

RESPITE = Party("respite household", location=HOME)


def weekend(friday: date, **kwargs) -> Interval:
    """The default block shape: Friday 16:00 to Sunday 18:00 local."""
    start = local(friday.year, friday.month, friday.day, 16)
    sunday = friday + timedelta(days=2)
    return Interval(start, local(sunday.year, sunday.month, sunday.day, 18), **kwargs)


def fridays(plan) -> list[date]:
    return [b.start.astimezone(CPH).date() for b in plan.blocks]


def test_default_block_is_friday_16_to_sunday_18_every_n_weeks():
    plan = respite_blocks(
        household=RESPITE,
        places=1,
        spec=RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2)),
        horizon_weeks=8,
    )
    assert plan.found
    assert plan.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
    first = plan.blocks[0]
    assert (first.start.astimezone(CPH), first.end.astimezone(CPH)) == (
        local(2026, 3, 6, 16),
        local(2026, 3, 8, 18),
    )
    assert fridays(plan) == [date(2026, 3, 6), date(2026, 3, 20), date(2026, 4, 3), date(2026, 4, 17)]
    assert first.location == HOME


def test_one_place_with_an_existing_block_starts_the_next_free_weekend():
    existing = [weekend(date(2026, 3, 6), ref="other child")]
    spec = RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2))
    one_place = respite_blocks(household=RESPITE, places=1, spec=spec, existing=existing, horizon_weeks=6)
    assert fridays(one_place)[:2] == [date(2026, 3, 13), date(2026, 3, 27)]
    two_places = respite_blocks(household=RESPITE, places=2, spec=spec, existing=existing, horizon_weeks=6)
    assert fridays(two_places)[0] == date(2026, 3, 6)


def test_capacity_counts_children_present_at_the_same_moment():
    # Two other children, one after the other: never more than one there at once.
    halves = [
        Interval(local(2026, 3, 6, 16), local(2026, 3, 7, 12)),
        Interval(local(2026, 3, 7, 12), local(2026, 3, 8, 18)),
    ]
    spec = RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2))
    assert fridays(
        respite_blocks(household=RESPITE, places=2, spec=spec, existing=halves, horizon_weeks=2)
    ) == [date(2026, 3, 6)]
    assert fridays(
        respite_blocks(household=RESPITE, places=1, spec=spec, existing=halves, horizon_weeks=2)
    ) == [date(2026, 3, 13)]
    siblings = RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2), children=2)
    assert fridays(
        respite_blocks(household=RESPITE, places=2, spec=siblings, existing=halves[:1], horizon_weeks=2)
    ) == [date(2026, 3, 13)]


def test_a_later_full_weekend_moves_to_the_next_free_one_before_the_following_block():
    existing = [weekend(date(2026, 3, 27))]
    spec = RespiteSpec(every_weeks=3, start_date=date(2026, 3, 2))
    plan = respite_blocks(household=RESPITE, places=1, spec=spec, existing=existing, horizon_weeks=9)
    assert fridays(plan) == [date(2026, 3, 6), date(2026, 4, 3), date(2026, 4, 17)]
    moved = [b for b in plan.blocks if b.moved]
    assert len(moved) == 1
    assert moved[0].original_start.astimezone(CPH) == local(2026, 3, 27, 16)
    assert plan.rule.overrides[0].reason.startswith("full")
    assert plan.skipped == ()


def test_a_full_weekend_is_skipped_when_there_is_no_room_to_move():
    existing = [weekend(date(2026, 3, 20))]
    plan = respite_blocks(
        household=RESPITE,
        places=1,
        spec=RespiteSpec(every_weeks=1, start_date=date(2026, 3, 2)),
        existing=existing,
        horizon_weeks=4,
    )
    assert fridays(plan) == [date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 27)]
    assert [(s.local_date, s.reason) for s in plan.skipped] == [(date(2026, 3, 20), "full")]


def test_household_absence_skips_the_weekend():
    away = Interval.local_days(date(2026, 3, 13), date(2026, 3, 15), ref="family holiday")
    household = Party("respite household", location=HOME, absences=[away])
    plan = respite_blocks(
        household=household,
        places=1,
        spec=RespiteSpec(every_weeks=1, start_date=date(2026, 3, 2)),
        horizon_weeks=3,
    )
    assert fridays(plan) == [date(2026, 3, 6), date(2026, 3, 20)]
    assert plan.skipped[0].reason == "absence"
    assert "family holiday" in plan.skipped[0].detail


@pytest.mark.parametrize(
    ("friday", "hours"), [(date(2026, 3, 27), 49), (date(2026, 10, 23), 51), (date(2027, 10, 29), 51)]
)
def test_dst_weekend_block_still_ends_sunday_18_local(friday, hours):
    plan = respite_blocks(
        household=RESPITE, places=1, spec=RespiteSpec(every_weeks=1, start_date=friday), horizon_weeks=1
    )
    block = plan.blocks[0]
    assert block.start.astimezone(CPH) == local(friday.year, friday.month, friday.day, 16)
    sunday = friday + timedelta(days=2)
    assert block.end.astimezone(CPH) == local(sunday.year, sunday.month, sunday.day, 18)
    assert block.end - block.start == timedelta(hours=hours)


def test_holidays_do_not_block_respite_unless_asked():
    spec = RespiteSpec(every_weeks=1, start_date=date(2026, 3, 30))  # Easter weekend is 3-5 April 2026
    assert fridays(respite_blocks(household=RESPITE, places=1, spec=spec, horizon_weeks=1)) == [
        date(2026, 4, 3)
    ]
    plan = respite_blocks(household=RESPITE, places=1, spec=spec, holidays=DANISH_HOLIDAYS, horizon_weeks=2)
    assert fridays(plan) == [date(2026, 4, 10)]


def test_no_free_weekend_is_reported_with_reasons():
    taken = [Interval(local(2026, 3, 1), local(2026, 6, 1))]
    result = respite_blocks(
        household=RESPITE,
        places=1,
        spec=RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2)),
        existing=taken,
        horizon_weeks=8,
    )
    assert not result.found
    assert result.code == "no_free_weekend"
    assert result.details == ("9 weekend(s): full",)


def test_blocks_never_start_in_the_past_and_stop_at_the_end_date():
    spec = RespiteSpec(every_weeks=1, start_date=date(2026, 3, 2), end_date=date(2026, 3, 31))
    plan = respite_blocks(household=RESPITE, places=1, spec=spec, now=local(2026, 3, 13, 17))
    assert fridays(plan) == [date(2026, 3, 20), date(2026, 3, 27)]
    assert plan.rrule.endswith("UNTIL=20260331T215959Z")


def test_more_children_than_places_is_not_possible():
    result = respite_blocks(
        household=RESPITE, places=1, spec=RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2), children=2)
    )
    assert result.code == "too_many_children"
    with pytest.raises(RecurrenceError):
        respite_blocks(
            household=RESPITE, places=0, spec=RespiteSpec(every_weeks=2, start_date=date(2026, 3, 2))
        )
