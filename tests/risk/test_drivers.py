"""Each driver's normalisation, at the band edges, and its staleness window."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from support.risk import (
    DEFAULT_CONFIG,
    AbsenceMonth,
    CheckIn,
    ChildView,
    Period,
    SdqReport,
    SystemSignals,
    config_from_dict,
)
from support.risk.drivers import (
    KNOWN,
    NOT_APPLICABLE,
    UNKNOWN,
    behaviour,
    carer_strain,
    child_view,
    commitment,
    school,
    system,
    system_stressors,
)

from .factories import TODAY, absence_months, bare, days_ago

C = DEFAULT_CONFIG


def s_of(reading):
    assert reading.status == KNOWN, reading
    return reading.s


# --- D1 behaviour ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("total", "expected"), [(0, 0), (13, 0), (14, 0.33), (16, 0.33), (17, 0.67), (19, 0.67), (20, 1), (40, 1)])
def test_carer_sdq_total_follows_the_uk_parent_bands(total, expected):
    inputs = bare(sdq=(SdqReport(days_ago(10), "parent", total),))
    assert s_of(behaviour(inputs, day=TODAY, config=C)) == expected


@pytest.mark.parametrize(("total", "expected"), [(11, 0), (12, 0.33), (15, 0.33), (16, 0.67), (18, 0.67), (19, 1)])
def test_teacher_sdq_total_follows_the_teacher_bands(total, expected):
    inputs = bare(sdq=(SdqReport(days_ago(10), "teacher", total),))
    assert s_of(behaviour(inputs, day=TODAY, config=C)) == expected


@pytest.mark.parametrize(("counts", "expected"), [([6], 0), ([7], 0.5), ([9], 0.5), ([10], 1), ([6, 8], 0.5), ([5, 6], 0)])
def test_problem_behaviour_count_is_averaged_over_two_weeks_and_banded(counts, expected):
    checkins = tuple(CheckIn(days_ago(7 * i), stress=0, problem_behaviours=c) for i, c in enumerate(counts))
    assert s_of(behaviour(bare(checkins=checkins), day=TODAY, config=C)) == expected


def test_behaviour_takes_the_worst_source_not_the_sum():
    mild_sdq = SdqReport(days_ago(10), "parent", 14)  # .33
    severe_pdr = CheckIn(days_ago(1), stress=0, problem_behaviours=10)  # 1
    assert s_of(behaviour(bare(sdq=(mild_sdq,), checkins=(severe_pdr,)), day=TODAY, config=C)) == 1
    calm_pdr = CheckIn(days_ago(1), stress=0, problem_behaviours=0)
    assert s_of(behaviour(bare(sdq=(mild_sdq,), checkins=(calm_pdr,)), day=TODAY, config=C)) == 0.33


def test_the_newest_carer_sdq_counts_not_the_worst_one():
    reports = (SdqReport(days_ago(100), "parent", 25), SdqReport(days_ago(10), "parent", 12))
    assert s_of(behaviour(bare(sdq=reports), day=TODAY, config=C)) == 0


def test_self_report_sdq_feeds_the_childs_view_not_behaviour():
    inputs = bare(sdq=(SdqReport(days_ago(10), "self", 30),))
    assert behaviour(inputs, day=TODAY, config=C).status == UNKNOWN
    assert s_of(child_view(inputs, day=TODAY, config=C)) == 1


def test_sdq_is_fresh_for_two_cadences_then_unknown():
    fresh = bare(sdq=(SdqReport(days_ago(182), "parent", 20),))
    stale = bare(sdq=(SdqReport(days_ago(183), "parent", 20),))
    assert s_of(behaviour(fresh, day=TODAY, config=C)) == 1
    assert behaviour(stale, day=TODAY, config=C).status == UNKNOWN


def test_conflicts_are_shown_but_not_scored():
    checkins = (CheckIn(days_ago(1), stress=0, problem_behaviours=0, conflicts=9),)
    reading = behaviour(bare(checkins=checkins), day=TODAY, config=C)
    assert reading.s == 0
    assert any("not scored" in e.en and "9 conflict" in e.en for e in reading.evidence)


# --- D2 carer strain ----------------------------------------------------------------------------

@pytest.mark.parametrize(("stress", "expected"), [(0, 0), (3, 0), (4, 0.33), (5, 0.33), (6, 0.67), (7, 0.67), (8, 1), (10, 1)])
def test_checkin_stress_band_mapping(stress, expected):
    inputs = bare(checkins=(CheckIn(days_ago(2), stress=stress),))
    assert s_of(carer_strain(inputs, day=TODAY, config=C)) == expected


def test_stress_is_the_mean_of_the_last_two_weeks():
    checkins = (CheckIn(days_ago(15), stress=10), CheckIn(days_ago(8), stress=3), CheckIn(days_ago(1), stress=5))
    # 15 days ago is outside the window; mean(3, 5) = 4 -> .33
    assert s_of(carer_strain(bare(checkins=checkins), day=TODAY, config=C)) == 0.33


@pytest.mark.parametrize(("impact", "expected"), [(0, 0), (1, 0.5), (2, 1), (10, 1)])
def test_carer_sdq_impact_bands(impact, expected):
    inputs = bare(sdq=(SdqReport(days_ago(20), "parent", 5, impact=impact),))
    assert s_of(carer_strain(inputs, day=TODAY, config=C)) == expected


def test_carer_strain_takes_the_worse_of_stress_and_impact():
    inputs = bare(checkins=(CheckIn(days_ago(2), stress=6),), sdq=(SdqReport(days_ago(20), "parent", 5, impact=1),))
    assert s_of(carer_strain(inputs, day=TODAY, config=C)) == 0.67


def test_checkin_is_fresh_for_fourteen_days_then_unknown():
    assert carer_strain(bare(checkins=(CheckIn(days_ago(14), stress=9),)), day=TODAY, config=C).s == 1
    assert carer_strain(bare(checkins=(CheckIn(days_ago(15), stress=9),)), day=TODAY, config=C).status == UNKNOWN


def test_reports_after_the_scored_day_are_ignored():
    inputs = bare(checkins=(CheckIn(TODAY, stress=9),))
    assert carer_strain(inputs, day=days_ago(1), config=C).status == UNKNOWN


# --- D3 school ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pct", "expected"), [(0, 0), (4.9, 0), (5, 0.33), (9.9, 0.33), (10, 0.67), (14.9, 0.67), (15, 1), (60, 1)])
def test_absence_bands_over_the_rolling_quarter(pct, expected):
    assert s_of(school(bare(absence=absence_months(pct)), day=TODAY, config=C)) == expected


def test_absence_is_the_mean_of_the_last_three_complete_months():
    months = (
        AbsenceMonth(date(2025, 11, 1), 40),  # outside the quarter
        AbsenceMonth(date(2025, 12, 1), 2),
        AbsenceMonth(date(2026, 1, 1), 4),
        AbsenceMonth(date(2026, 2, 1), 9),
        AbsenceMonth(date(2026, 3, 1), 50),  # March is not over yet
    )
    assert s_of(school(bare(absence=months), day=TODAY, config=C)) == 0.33  # mean(2, 4, 9) = 5


def test_school_absence_goes_unknown_when_two_months_are_missing():
    assert school(bare(absence=absence_months(last=date(2026, 1, 1))), day=TODAY, config=C).status == KNOWN
    assert school(bare(absence=absence_months(last=date(2025, 12, 1))), day=TODAY, config=C).status == UNKNOWN


def test_unlawful_absence_at_the_warning_level_sets_a_floor_when_total_bands_are_raised():
    # With the default tables the floor is implied (unlawful <= total); a municipality that raises
    # the total bands still keeps unlawful absence at the school's legal warning level at .67.
    lenient = config_from_dict({"version": "test-lenient", "tables": {"absence_total": [[0, 0], [12, 0.33], [20, 0.67], [30, 1]]}})
    inputs = bare(absence=absence_months(11, unlawful=10))
    assert s_of(school(inputs, day=TODAY, config=lenient)) == 0.67
    assert s_of(school(bare(absence=absence_months(11, unlawful=9)), day=TODAY, config=lenient)) == 0


def test_school_does_not_apply_to_a_child_out_of_school():
    reading = school(bare(attends_school=False, absence=absence_months(30)), day=TODAY, config=C)
    assert reading.status == NOT_APPLICABLE and reading.s is None


# --- D4 commitment --------------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "expected"), [(10, 0), (9, 0.1), (7, 0.3), (5, 0.5), (4, 1), (0, 1)])
def test_commitment_is_inverted_and_four_or_less_counts_fully(answer, expected):
    inputs = bare(checkins=(CheckIn(days_ago(3), stress=0, commitment=answer),))
    assert s_of(commitment(inputs, day=TODAY, config=C)) == pytest.approx(expected)


def test_commitment_is_unknown_without_an_answer():
    inputs = bare(checkins=(CheckIn(days_ago(3), stress=0),))
    assert commitment(inputs, day=TODAY, config=C).status == UNKNOWN


# --- D5 child's view ------------------------------------------------------------------------------

@pytest.mark.parametrize(("wellbeing", "expected"), [(5, 0), (4, 0.25), (3, 0.5), (2, 0.75), (1, 1)])
def test_childs_wellbeing_maps_linearly(wellbeing, expected):
    inputs = bare(child_views=(ChildView(days_ago(5), wellbeing),))
    assert s_of(child_view(inputs, day=TODAY, config=C)) == expected


@pytest.mark.parametrize(("total", "expected"), [(14, 0), (15, 0.33), (17, 0.33), (18, 0.67), (19, 0.67), (20, 1)])
def test_self_report_sdq_bands(total, expected):
    inputs = bare(sdq=(SdqReport(days_ago(5), "self", total),))
    assert s_of(child_view(inputs, day=TODAY, config=C)) == expected


def test_the_childs_latest_answer_counts():
    views = (ChildView(days_ago(30), 1), ChildView(days_ago(2), 5))
    assert s_of(child_view(bare(child_views=views), day=TODAY, config=C)) == 0


def test_childs_view_does_not_apply_under_seven_and_is_unknown_when_not_recorded():
    toddler = bare(birth_date=date(2021, 1, 1), placement_start=date(2025, 1, 6))
    assert child_view(toddler, day=TODAY, config=C).status == NOT_APPLICABLE
    assert child_view(bare(), day=TODAY, config=C).status == UNKNOWN
    stale = bare(child_views=(ChildView(days_ago(57), 1),))
    assert child_view(stale, day=TODAY, config=C).status == UNKNOWN


# --- D6 system ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("signals", "expected_codes"),
    [
        (SystemSignals(), ()),
        (SystemSignals(consultant_changes=(days_ago(182),)), ("consultant_change",)),
        (SystemSignals(consultant_changes=(days_ago(183),)), ()),
        (SystemSignals(birth_family_conflicts=(Period(days_ago(40)),)), ("birth_family_conflict",)),
        (SystemSignals(birth_family_conflicts=(Period(days_ago(40), days_ago(3)),)), ()),
        (SystemSignals(supervision_overdue=(Period(days_ago(5)),)), ("supervision_overdue",)),
        (SystemSignals(fee_renegotiations=(Period(days_ago(5)),)), ("fee_renegotiation",)),
        (SystemSignals(missed_sessions=(days_ago(3),)), ()),
        (SystemSignals(missed_sessions=(days_ago(3), days_ago(20))), ("missed_sessions",)),
        (SystemSignals(missed_sessions=(days_ago(3), days_ago(31))), ()),
        (SystemSignals(unmet_needs=(Period(days_ago(28)),)), ("unmet_need",)),
        (SystemSignals(unmet_needs=(Period(days_ago(27)),)), ()),
        (SystemSignals(unmet_needs=(Period(days_ago(60), days_ago(10)),)), ()),
    ],
)
def test_system_stressors_are_detected_on_the_day(signals, expected_codes):
    assert system_stressors(bare(system=signals), day=TODAY, config=C) == expected_codes


@pytest.mark.parametrize(("count", "expected"), [(0, 0), (1, 0.5), (2, 1), (3, 1)])
def test_system_driver_bands_the_stressor_count(count, expected):
    all_kinds = SystemSignals(
        consultant_changes=(days_ago(10),),
        birth_family_conflicts=(Period(days_ago(10)),),
        supervision_overdue=(Period(days_ago(10)),),
    )
    kept = {f.name: getattr(all_kinds, f.name) for f in dataclasses.fields(all_kinds)}
    for name in ("consultant_changes", "birth_family_conflicts", "supervision_overdue")[count:]:
        kept[name] = ()
    assert s_of(system(bare(system=SystemSignals(**kept)), day=TODAY, config=C)) == expected
