"""The index R, the levels, missing data, acute events, the baseline and the reasons."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.risk import (
    DEFAULT_CONFIG,
    INCIDENT_KINDS,
    LEVELS,
    AbsenceMonth,
    Baseline,
    CheckIn,
    Incident,
    Period,
    RiskInputError,
    SdqReport,
    SystemSignals,
    config_from_dict,
)
from support.risk.inputs import age_on

from .factories import (
    HIGH_BASELINE,
    TODAY,
    absence_months,
    bare,
    days_ago,
    reason_codes,
    score,
    settled,
    weekly_checkins,
)


def strained(**changes):
    """Every driver elevated and steady for months: R = 64.4 when all six are known.

    behaviour .67 (carer SDQ 17), carer strain .67 (stress 6), school .67 (12 %),
    commitment .5 (5/10), child's view .75 (2/5), system .5 (one open conflict).
    """
    base = settled(
        checkins=weekly_checkins(stress=6, commitment=5, behaviours=2),
        sdq=(SdqReport(days_ago(105), "parent", 17, impact=1),),
        absence=absence_months(12),
        child_views=tuple(dataclasses.replace(v, wellbeing=2) for v in settled().child_views),
        system=SystemSignals(birth_family_conflicts=(Period(days_ago(200)),)),
    )
    return dataclasses.replace(base, **changes)


# --- R ---------------------------------------------------------------------------------------------

def test_a_settled_placement_is_green_with_the_hand_computed_index():
    result = score(settled())
    assert result.r == 3.5
    assert result.coverage == 1
    assert result.level == "green" and result.data_sufficient
    assert reason_codes(result) == {"no_rule_fired"}


def test_index_is_the_weighted_sum_and_contributions_add_up():
    result = score(strained())
    assert result.r == 64.4  # 30*.67 + 25*.67 + 15*.67 + 10*.5 + 10*.75 + 10*.5
    for d in result.drivers:
        assert d.contribution == pytest.approx(d.effective_weight * d.s, abs=0.06)
    assert sum(d.contribution for d in result.drivers) == pytest.approx(result.r, abs=0.3)


def test_unknown_driver_is_excluded_and_the_rest_renormalised_not_counted_as_zero():
    no_school = score(strained(absence=()))
    school_zero = score(strained(absence=absence_months(0)))
    d3 = no_school.driver("school")
    assert d3.status == "unknown" and d3.s is None and d3.contribution == 0 and d3.effective_weight == 0
    assert no_school.coverage == 0.85
    assert no_school.r == round(100 * (30 * .67 + 25 * .67 + 10 * .5 + 10 * .75 + 10 * .5) / 85, 1)
    # Silence must not read like good news: an unknown driver scores higher than a driver at 0.
    assert no_school.r > school_zero.r
    assert no_school.driver("behaviour").effective_weight == round(100 * 30 / 85, 1)


def test_drivers_that_do_not_apply_are_not_missing_data():
    toddler = settled(birth_date=date(2021, 2, 1), placement_start=date(2024, 1, 15), attends_school=False)
    result = score(toddler)
    assert {d.code for d in result.drivers if d.status == "not_applicable"} == {"school", "child_view"}
    assert result.coverage == 1 and result.data_sufficient
    assert result.r == round(100 * (10 * .1) / 75, 1)


def test_index_is_rounded_to_one_decimal_before_thresholds():
    for inputs in (settled(), strained(), strained(absence=())):
        r = score(inputs).r
        assert r == round(r, 1)


# --- Missing data ------------------------------------------------------------------------------

def test_no_data_at_all_is_never_green():
    result = score(bare())
    assert result.level == "no_data"
    assert not result.data_sufficient
    assert {"unknown_drivers", "no_recent_checkin"} <= reason_codes(result)


def test_more_than_two_unknown_drivers_means_no_data():
    # Check-in 16 days old: behaviour, carer strain and commitment all go unknown.
    inputs = settled(checkins=(CheckIn(days_ago(16), stress=1, commitment=9, problem_behaviours=1),), sdq=())
    result = score(inputs)
    assert [d.code for d in result.drivers if d.status == "unknown"] == ["behaviour", "carer_strain", "commitment"]
    assert result.level == "no_data"
    assert "unknown_drivers" in reason_codes(result)


def test_two_unknown_drivers_still_score():
    inputs = settled(absence=(), child_views=())
    result = score(inputs)
    assert result.level == "green" and result.data_sufficient


def test_three_weeks_without_a_checkin_means_no_data_even_when_other_drivers_are_known():
    inputs = settled(
        checkins=weekly_checkins(weeks=10)[:-3],  # last check-in 21+ days ago
        sdq=(SdqReport(days_ago(30), "parent", 10, impact=0),),
    )
    result = score(inputs)
    assert result.strain_level == "green"
    assert result.level == "no_data"
    assert "no_recent_checkin" in reason_codes(result)


def test_no_data_hides_yellow_but_keeps_its_reasons():
    inputs = settled(checkins=weekly_checkins(weeks=10)[:-3], sdq=(SdqReport(days_ago(105), "parent", 17, impact=2),))
    result = score(inputs)
    assert result.strain_level == "yellow"
    assert result.level == "no_data"
    assert any(r.level == "yellow" for r in result.reasons)


def test_missing_data_never_hides_a_red_index():
    result = score(strained(checkins=weekly_checkins(stress=6, commitment=5, weeks=10)[:-3]))
    assert not result.data_sufficient
    assert result.level == "red" and "index_red" in reason_codes(result)
    assert "no_recent_checkin" in reason_codes(result)


def test_a_checkin_twenty_days_old_is_still_recent_enough():
    inputs = settled(checkins=(CheckIn(days_ago(20), stress=1, commitment=9, problem_behaviours=1),))
    assert "no_recent_checkin" not in reason_codes(score(inputs))


# --- Acute events and help now --------------------------------------------------------------------

@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_an_acute_event_in_the_last_30_days_is_red_even_without_any_other_data(kind):
    result = score(bare(incidents=(Incident(days_ago(30), kind),)))
    assert result.level == "red"
    assert not result.data_sufficient  # shown alongside: the data is still missing
    assert [e.kind for e in result.acute_events] == [kind]
    assert "acute_event" in reason_codes(result)


def test_an_acute_event_older_than_30_days_no_longer_forces_red():
    assert score(bare(incidents=(Incident(days_ago(31), "violence"),))).level == "no_data"
    assert score(settled(incidents=(Incident(days_ago(31), "violence"),))).level == "green"


def test_we_need_help_now_is_red_even_when_all_else_is_calm():
    checkins = (*weekly_checkins()[:-1], CheckIn(TODAY, stress=2, help_now=True))
    result = score(settled(checkins=checkins))
    assert result.level == "red"
    assert [e.kind for e in result.acute_events] == ["help_now"]


def test_help_now_counts_for_fourteen_days():
    old = (CheckIn(days_ago(15), stress=2, help_now=True), *weekly_checkins()[-2:])
    assert score(settled(checkins=old)).level == "green"


def test_acute_kinds_are_a_setting():
    narrower = config_from_dict({"version": "test-acute", "events": {"acute_kinds": ["self_harm", "violence"]}})
    inputs = settled(incidents=(Incident(days_ago(3), "hospital_admission"),))
    assert score(inputs).level == "red"
    assert score(inputs, config=narrower).level == "green"


# --- Levels from R, the baseline and the first year -----------------------------------------------

def test_index_at_or_above_60_is_red():
    result = score(strained())
    assert result.level == "red"
    assert "index_red" in reason_codes(result)
    red_reason = next(r for r in result.reasons if r.code == "index_red")
    assert red_reason.drivers  # names the drivers behind it


def steady(stress: int, sdq_total: int, **changes):
    """Everything else calm; stress and carer SDQ total held steady for months."""
    return settled(
        checkins=weekly_checkins(stress=stress),
        sdq=(SdqReport(days_ago(105), "parent", sdq_total, impact=0),),
        **changes,
    )


def test_index_between_35_and_60_without_a_rise_is_yellow():
    result = score(steady(6, 17))  # 30*.67 + 25*.67 + 3.5 = 40.35 -> 40.4
    assert result.r == 40.4 and result.trend.direction == "steady"
    assert result.level == "yellow"
    assert reason_codes(result) == {"index_yellow", "persistent_strain"}


def test_high_baseline_lowers_the_thresholds_by_five():
    low = score(steady(8, 20))  # 25 + 30 + 3.5 = 58.5
    high = score(steady(8, 20, baseline=HIGH_BASELINE))
    assert low.r == high.r == 58.5
    assert low.baseline.band == "low" and high.baseline.band == "high"
    assert low.level == "yellow"
    assert high.level == "red"
    assert high.thresholds.red == 55 and high.thresholds.shifted_by == 5
    assert "baseline_high" in reason_codes(high)


def test_first_year_with_high_baseline_is_red_from_45():
    new = {"placement_start": days_ago(200)}
    assert score(steady(6, 20, **new)).r == 50.2  # 30 + 16.75 + 1 + 2.5 = 50.25, rounded to 50.2
    assert score(steady(6, 20, **new)).level == "yellow"
    result = score(steady(6, 20, baseline=HIGH_BASELINE, **new))
    assert result.level == "red"
    assert "first_year_high_baseline" in reason_codes(result)
    later = score(steady(6, 20, baseline=HIGH_BASELINE))  # same child, placed two years ago
    assert later.level == "yellow"


def test_high_baseline_alone_never_raises_an_alert():
    history = Baseline(prior_placements=5, prior_breakdowns=3, residential_history=True, kinship=False,
                       separated_from_siblings=True, other_foster_children=3, documented_maltreatment=True)
    teenager_placed_recently = settled(birth_date=date(2010, 1, 1), placement_start=days_ago(30), baseline=history)
    result = score(teenager_placed_recently)
    assert result.baseline.b == 100 and result.baseline.band == "high"
    assert result.level == "green"


@settings(max_examples=40, deadline=None)
@given(
    prior=st.integers(0, 6), breakdowns=st.integers(0, 6), residential=st.booleans(), kinship=st.booleans(),
    siblings=st.booleans(), others=st.integers(0, 4), maltreatment=st.booleans(),
    born=st.dates(date(2008, 4, 1), date(2018, 1, 1)), placed_days_ago=st.integers(0, 3000),
    stress=st.integers(0, 7), sdq_total=st.integers(0, 19),
)
def test_baseline_never_makes_red_without_a_dynamic_reason(prior, breakdowns, residential, kinship, siblings,
                                                          others, maltreatment, born, placed_days_ago, stress, sdq_total):
    start = max(days_ago(placed_days_ago), born)
    history = Baseline(prior_placements=prior, prior_breakdowns=breakdowns, residential_history=residential,
                       kinship=kinship, separated_from_siblings=siblings, other_foster_children=others,
                       documented_maltreatment=maltreatment)
    result = score(steady(stress, sdq_total, birth_date=born, placement_start=start, baseline=history))
    lowest_red = min(DEFAULT_CONFIG.thresholds.red_if_rising, DEFAULT_CONFIG.thresholds.red_first_year_high_baseline) \
        - DEFAULT_CONFIG.thresholds.high_baseline_shift
    if result.level == "red":
        assert result.acute_events or result.r >= lowest_red
    # And the same dynamic data with no history at all never scores a lower R: B is not in R.
    plain = score(steady(stress, sdq_total, birth_date=born, placement_start=start, baseline=Baseline(kinship=True)))
    assert plain.r == result.r


# --- Rising, persistence, jumps, SDQ rules --------------------------------------------------------

def test_rising_index_above_45_is_red_and_above_25_is_yellow():
    rising_high = settled(checkins=weekly_checkins([0] * 9 + [4, 8, 10, 10, 10]),
                          sdq=(SdqReport(days_ago(105), "parent", 17, impact=0),))
    result = score(rising_high)
    assert result.trend.direction == "rising"
    assert 45 <= result.r < 60
    assert "index_rising_red" in reason_codes(result) and result.level == "red"

    rising_mid = settled(checkins=weekly_checkins([0] * 9 + [4, 8, 10, 10, 10]))
    mid = score(rising_mid)
    assert mid.trend.direction == "rising" and 25 <= mid.r < 35
    assert mid.level == "yellow" and "index_rising_yellow" in reason_codes(mid)


def test_one_good_week_does_not_clear_lasting_strain():
    # High carer SDQ for weeks, then a calm new SDQ today: R drops, but 3 of the last 4 cycles were high.
    history = (SdqReport(days_ago(60), "parent", 20, impact=2), SdqReport(TODAY, "parent", 10, impact=0))
    result = score(settled(sdq=history))
    assert result.r == 3.5
    assert result.level == "yellow"
    assert reason_codes(result) == {"persistent_strain"}
    # Two high cycles out of four are not enough.
    short = (SdqReport(days_ago(14), "parent", 20, impact=2), SdqReport(TODAY, "parent", 10, impact=0))
    assert score(settled(sdq=short)).level == "green"


def test_a_driver_jumping_from_low_to_high_in_one_cycle_is_yellow():
    checkins = (*weekly_checkins(weeks=10)[:-1], CheckIn(days_ago(3), stress=10), CheckIn(TODAY, stress=10))
    result = score(settled(checkins=checkins))
    jump = [r for r in result.reasons if r.code == "driver_jump"]
    assert [r.drivers for r in jump] == [("carer_strain",)]
    assert result.level == "yellow"


def test_a_new_carer_sdq_above_cut_off_is_yellow_for_a_month():
    new = score(settled(sdq=(SdqReport(days_ago(20), "parent", 17, impact=0),)))
    assert reason_codes(new) == {"sdq_new_above_cutoff"} and new.level == "yellow"
    old = score(settled(sdq=(SdqReport(days_ago(40), "parent", 17, impact=0),)))
    assert old.level == "green"


def test_carer_sdq_total_and_impact_above_cut_off_while_rising_is_red():
    inputs = settled(sdq=(SdqReport(days_ago(105), "parent", 10, impact=0), SdqReport(days_ago(10), "parent", 17, impact=2)))
    result = score(inputs)
    assert result.trend.direction == "rising"
    assert "sdq_both_rising" in reason_codes(result) and result.level == "red"
    only_total = settled(sdq=(SdqReport(days_ago(105), "parent", 10, impact=0), SdqReport(days_ago(10), "parent", 17, impact=1)))
    assert "sdq_both_rising" not in reason_codes(score(only_total))


def test_thin_evidence_cannot_raise_an_index_alarm():
    # Only commitment and the system driver are known: 20 % of the weight.
    inputs = bare(
        birth_date=date(2021, 1, 1), attends_school=False,
        checkins=(),
        system=SystemSignals(birth_family_conflicts=(Period(days_ago(90)),), supervision_overdue=(Period(days_ago(30)),)),
    )
    result = score(inputs)
    assert result.r == 100  # the system driver alone, renormalised
    assert result.level == "no_data" and result.strain_level == "green"
    assert "index_too_thin" in reason_codes(result)


# --- What every score carries -----------------------------------------------------------------------

@pytest.mark.parametrize("inputs", [settled(), strained(), bare(), steady(6, 17)], ids=["settled", "strained", "bare", "yellow"])
def test_every_score_records_its_version_and_explains_its_level(inputs):
    result = score(inputs)
    assert result.config_version == DEFAULT_CONFIG.version
    assert result.level in LEVELS and result.strain_level in ("red", "yellow", "green")
    assert result.reasons and all(r.text.en and r.text.da for r in result.reasons)
    assert any(r.level == result.level for r in result.reasons)
    assert result.guidance.en and result.guidance.da
    assert [d.code for d in result.drivers] == list(DEFAULT_CONFIG.weights.__dataclass_fields__)


def test_a_changed_configuration_records_its_own_version():
    heavier_school = config_from_dict({"version": "2026.1-aarhus", "weights": {"school": 25, "system": 0}})
    result = score(strained(), config=heavier_school)
    assert result.config_version == "2026.1-aarhus"
    assert result.r != score(strained()).r


def test_the_score_is_never_a_probability():
    result = score(strained())
    names = {f.name for f in dataclasses.fields(result)}
    assert not any("prob" in n for n in names)
    texts = [t for r in result.reasons for t in (r.text.en.lower(), r.text.da.lower())]
    assert not any("probab" in t or "chance" in t or "sandsynlig" in t for t in texts)


def test_scoring_before_the_placement_starts_is_an_error():
    with pytest.raises(RiskInputError):
        score(settled(), today=date(2024, 1, 1))


def test_new_placements_get_the_twice_weekly_pulse():
    assert score(settled(placement_start=days_ago(30))).suggested_checkins_per_week == 2
    assert score(settled(placement_start=days_ago(120))).suggested_checkins_per_week == 1
    high = settled(placement_start=days_ago(120), birth_date=date(2010, 1, 1), baseline=HIGH_BASELINE)
    assert score(high).suggested_checkins_per_week == 2


def test_age_is_counted_in_whole_years():
    assert age_on(date(2014, 5, 1), date(2026, 4, 30)) == 11
    assert age_on(date(2014, 5, 1), date(2026, 5, 1)) == 12


def test_school_months_in_the_future_do_not_count():
    future = settled(absence=(*absence_months(), AbsenceMonth(date(2026, 3, 1), 80, 80)))
    assert score(future).driver("school").s == 0
