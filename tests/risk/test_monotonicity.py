"""A worse new report never gives a better score.

Each test builds a random history, then adds the newest report in two versions, one at least as
bad as the other, and checks that the worse one never has a lower index R nor a lower level.
The varied report is always the newest of its kind: a worse *old* report can rightly flatten a
trend (the past was worse, so the rise is smaller), which is not what "monotone" promises.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from support.risk import (
    INCIDENT_KINDS,
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    Incident,
    Period,
    PlacementInputs,
    SdqReport,
    SystemSignals,
)

from .factories import TODAY, days_ago, score

RANK = {"green": 0, "no_data": 1, "yellow": 1, "red": 2}
FAST = settings(max_examples=30, deadline=None)


@st.composite
def histories(draw) -> PlacementInputs:
    """A random placement up to (not including) today. Every past report is optional."""
    weeks = draw(st.integers(0, 12))
    gaps = draw(st.lists(st.booleans(), min_size=weeks, max_size=weeks))
    checkins = tuple(
        CheckIn(
            on=days_ago(7 * (i + 1)),
            stress=draw(st.integers(0, 10)),
            commitment=draw(st.none() | st.integers(0, 10)),
            problem_behaviours=draw(st.none() | st.integers(0, 15)),
        )
        for i in range(weeks) if not gaps[i]
    )
    sdq = tuple(
        SdqReport(on=days_ago(draw(st.integers(8, 200))), informant=informant, total=draw(st.integers(0, 40)),
                  impact=draw(st.none() | st.integers(0, 6)))
        for informant in draw(st.lists(st.sampled_from(["parent", "teacher", "self"]), max_size=3))
    )
    # Months up to January; February (the newest complete month) is varied by the absence test.
    past_months = [date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]
    absence = []
    for month in draw(st.sets(st.sampled_from(past_months))):
        total = draw(st.floats(0, 40))
        absence.append(AbsenceMonth(month, total, min(total, draw(st.floats(0, 40)))))
    views = tuple(ChildView(days_ago(draw(st.integers(1, 70))), draw(st.integers(1, 5))) for _ in range(draw(st.integers(0, 2))))
    system = SystemSignals(
        consultant_changes=tuple(days_ago(d) for d in draw(st.lists(st.integers(1, 300), max_size=2))),
        birth_family_conflicts=(Period(days_ago(draw(st.integers(1, 200)))),) if draw(st.booleans()) else (),
        supervision_overdue=(Period(days_ago(draw(st.integers(1, 60)))),) if draw(st.booleans()) else (),
    )
    baseline = Baseline(prior_placements=draw(st.integers(0, 3)), residential_history=draw(st.booleans()),
                        kinship=draw(st.booleans()), other_foster_children=draw(st.integers(0, 2)))
    born = draw(st.dates(date(2008, 6, 1), date(2020, 1, 1)))
    start = max(born, days_ago(draw(st.integers(1, 1500))))
    return PlacementInputs(
        placement_id="PL-H", birth_date=born, placement_start=start, baseline=baseline,
        attends_school=draw(st.booleans()), checkins=checkins, sdq=sdq, absence=tuple(absence),
        child_views=views, system=system,
    )


def assert_not_better(milder, worse):
    a, b = score(milder), score(worse)
    assert a.data_sufficient == b.data_sufficient
    assert (a.r is None) == (b.r is None)
    if a.r is not None:
        assert b.r >= a.r, (a.r, b.r)
    assert RANK[b.strain_level] >= RANK[a.strain_level], (a.strain_level, b.strain_level)
    assert RANK[b.level] >= RANK[a.level], (a.level, b.level)


def with_newest_checkin(inputs, **fields):
    return dataclasses.replace(inputs, checkins=(*inputs.checkins, CheckIn(on=TODAY, **fields)))


pair = st.tuples(st.integers(0, 10), st.integers(0, 10)).map(sorted)


@FAST
@given(histories(), pair, st.none() | st.integers(0, 10), st.none() | st.integers(0, 15))
def test_more_carer_stress_never_lowers_the_score(inputs, stresses, commitment, behaviours):
    low, high = stresses
    assert_not_better(
        with_newest_checkin(inputs, stress=low, commitment=commitment, problem_behaviours=behaviours),
        with_newest_checkin(inputs, stress=high, commitment=commitment, problem_behaviours=behaviours),
    )


@FAST
@given(histories(), st.integers(0, 10), pair)
def test_lower_commitment_never_lowers_the_score(inputs, stress, answers):
    low, high = answers
    assert_not_better(
        with_newest_checkin(inputs, stress=stress, commitment=high),
        with_newest_checkin(inputs, stress=stress, commitment=low),
    )


@FAST
@given(histories(), st.integers(0, 10), st.tuples(st.integers(0, 30), st.integers(0, 30)).map(sorted))
def test_more_problem_behaviours_never_lower_the_score(inputs, stress, counts):
    low, high = counts
    assert_not_better(
        with_newest_checkin(inputs, stress=stress, problem_behaviours=low),
        with_newest_checkin(inputs, stress=stress, problem_behaviours=high),
    )


@FAST
@given(histories(), st.sampled_from(["parent", "teacher", "self"]),
       st.tuples(st.integers(0, 40), st.integers(0, 40)).map(sorted), st.none() | st.integers(0, 6))
def test_a_higher_sdq_total_never_lowers_the_score(inputs, informant, totals, impact):
    low, high = totals

    def newest(total):
        return dataclasses.replace(inputs, sdq=(*inputs.sdq, SdqReport(TODAY, informant, total, impact)))

    assert_not_better(newest(low), newest(high))


@FAST
@given(histories(), st.integers(0, 40), st.tuples(st.integers(0, 10), st.integers(0, 10)).map(sorted))
def test_a_higher_sdq_impact_never_lowers_the_score(inputs, total, impacts):
    low, high = impacts

    def newest(impact):
        return dataclasses.replace(inputs, sdq=(*inputs.sdq, SdqReport(TODAY, "parent", total, impact)))

    assert_not_better(newest(low), newest(high))


@FAST
@given(histories(), st.tuples(st.floats(0, 100), st.floats(0, 100)).map(sorted), st.floats(0, 100))
def test_more_school_absence_never_lowers_the_score(inputs, totals, unlawful):
    low, high = totals
    months = tuple(m for m in inputs.absence if m.month != date(2026, 2, 1))
    inputs = dataclasses.replace(inputs, attends_school=True)

    def newest(total):
        return dataclasses.replace(inputs, absence=(*months, AbsenceMonth(date(2026, 2, 1), total, min(unlawful, low))))

    assert_not_better(newest(low), newest(high))


@FAST
@given(histories(), st.tuples(st.integers(1, 5), st.integers(1, 5)).map(sorted))
def test_a_worse_answer_from_the_child_never_lowers_the_score(inputs, answers):
    worse, better = answers

    def newest(wellbeing):
        return dataclasses.replace(inputs, child_views=(*inputs.child_views, ChildView(TODAY, wellbeing)))

    assert_not_better(newest(better), newest(worse))


@FAST
@given(histories(), st.sampled_from(INCIDENT_KINDS), st.integers(0, 120))
def test_an_incident_never_lowers_the_score_and_a_recent_one_is_red(inputs, kind, age):
    with_incident = dataclasses.replace(inputs, incidents=(*inputs.incidents, Incident(days_ago(age), kind)))
    before, after = score(inputs), score(with_incident)
    assert after.r == before.r  # incidents are triggers, not weights
    assert RANK[after.level] >= RANK[before.level]
    if age <= 30:
        assert after.level == "red"


@FAST
@given(histories(), st.integers(0, 10))
def test_a_help_now_flag_is_always_red(inputs, stress):
    assert score(with_newest_checkin(inputs, stress=stress, help_now=True)).level == "red"


@FAST
@given(histories())
def test_missing_data_is_never_shown_as_green(inputs):
    result = score(inputs)
    if not result.data_sufficient:
        assert result.level in ("no_data", "red")
    if result.level == "green":
        assert result.data_sufficient and result.coverage >= 0.5
