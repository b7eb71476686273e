"""The fast path gives exactly the straightforward result.

Scoring re-reads the drivers on each of the trend's 12 weekly cycles. For the earlier cycles it
skips the evidence texts (`read_drivers(..., explain=False)`) and finds each cycle's records by
binary search (`drivers.between`). These tests compare that path with the straightforward one on
generated placements: every driver's status and severity on every cycle, and the whole score
(level, index, drivers with their contributions, trend, reasons). The comparison is exact, not to
a tolerance: both paths run the same arithmetic in the same order, so any difference is a bug.
The binary search is compared with the plain date filter it replaces on its own.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.risk import (
    DEFAULT_CONFIG,
    INCIDENT_KINDS,
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    Incident,
    Period,
    PlacementInputs,
    RiskInputError,
    SdqReport,
    SystemSignals,
    TrendPoint,
    score_placement,
)
from support.risk.drivers import between, read_drivers
from support.risk.scoring import _driver_scores, _index
from support.risk.trend import summarise
from support.wellbeing.compute import plain

from .factories import TODAY, days_ago, settled

EXAMPLES = settings(max_examples=60, deadline=None)
CFG = DEFAULT_CONFIG


@st.composite
def placements(draw) -> PlacementInputs:
    """A random placement with anything from no records to dense, noisy ones, up to today."""
    span = draw(st.integers(1, 200))  # days of history
    checkins = tuple(
        CheckIn(on=days_ago(draw(st.integers(0, span))), stress=draw(st.integers(0, 10)),
                help_now=draw(st.booleans()), sleep=draw(st.none() | st.integers(1, 5)),
                conflicts=draw(st.none() | st.integers(0, 4)), commitment=draw(st.none() | st.integers(0, 10)),
                problem_behaviours=draw(st.none() | st.integers(0, 30)))
        for _ in range(draw(st.integers(0, 30)))
    )
    sdq = tuple(
        SdqReport(on=days_ago(draw(st.integers(0, 400))), informant=informant, total=draw(st.integers(0, 40)),
                  impact=draw(st.none() | st.integers(0, 6)))
        for informant in draw(st.lists(st.sampled_from(["parent", "teacher", "self"]), max_size=6))
    )
    months = draw(st.sets(st.integers(0, 14), max_size=12))
    absence = []
    for back in months:
        y, m = divmod(TODAY.year * 12 + TODAY.month - 1 - back, 12)
        total = draw(st.floats(0, 60, allow_nan=False))
        absence.append(AbsenceMonth(date(y, m + 1, 1), total, min(total, draw(st.floats(0, 60, allow_nan=False)))))
    views = tuple(ChildView(days_ago(draw(st.integers(0, 150))), draw(st.integers(1, 5)))
                  for _ in range(draw(st.integers(0, 6))))
    incidents = tuple(Incident(days_ago(draw(st.integers(0, 200))), draw(st.sampled_from(INCIDENT_KINDS)))
                      for _ in range(draw(st.integers(0, 3))))

    def periods():
        out = []
        for _ in range(draw(st.integers(0, 2))):
            start = days_ago(draw(st.integers(0, 200)))
            length = draw(st.none() | st.integers(0, 100))
            out.append(Period(start, None if length is None else start + timedelta(days=length)))
        return tuple(out)

    system = SystemSignals(
        consultant_changes=tuple(days_ago(d) for d in draw(st.lists(st.integers(0, 300), max_size=2))),
        birth_family_conflicts=periods(), supervision_overdue=periods(), fee_renegotiations=periods(),
        missed_sessions=tuple(days_ago(d) for d in draw(st.lists(st.integers(0, 120), max_size=6))),
        unmet_needs=periods(),
        respite_days=tuple(days_ago(d) for d in draw(st.lists(st.integers(0, 400), max_size=4))),
    )
    baseline = Baseline(prior_placements=draw(st.integers(0, 3)), prior_breakdowns=draw(st.integers(0, 2)),
                        residential_history=draw(st.booleans()), kinship=draw(st.booleans()),
                        other_foster_children=draw(st.integers(0, 2)))
    born = draw(st.dates(date(2006, 1, 1), date(2024, 1, 1)))
    start = max(born, days_ago(draw(st.integers(0, 1500))))
    return PlacementInputs(
        placement_id="PL-F", birth_date=born, placement_start=start, baseline=baseline,
        attends_school=draw(st.booleans()), checkins=checkins, sdq=sdq, absence=tuple(absence),
        incidents=incidents, child_views=views, system=system,
    )


def cycle_days(inputs: PlacementInputs) -> list[date]:
    trend = CFG.trend
    days = [TODAY - timedelta(days=k * trend.cycle_days) for k in range(trend.history_cycles)]
    return [d for d in days if d >= inputs.placement_start]


@EXAMPLES
@given(placements())
def test_drivers_without_evidence_have_the_same_status_and_severity_on_every_cycle(inputs):
    for day in cycle_days(inputs):
        full = read_drivers(inputs, day=day, config=CFG)
        fast = read_drivers(inputs, day=day, config=CFG, explain=False)
        assert [(d.code, d.status, d.s) for d in fast] == [(d.code, d.status, d.s) for d in full]
        assert all(d.evidence == () for d in fast)
        assert all(d.evidence for d in full)  # the shown cycle still explains every driver
        assert _index(fast, CFG) == _index(full, CFG)


def straightforward_trend(inputs: PlacementInputs):
    """The trend as it was computed before the fast path: every cycle read in full."""
    points = []
    for day in reversed(cycle_days(inputs)):
        r, coverage = _index(read_drivers(inputs, day=day, config=CFG), CFG)
        ok = r is not None and coverage >= CFG.data.min_known_weight_share
        points.append(TrendPoint(on=day, r=r if ok else None))
    return summarise(points, CFG.trend)


@EXAMPLES
@given(placements())
def test_the_score_equals_the_straightforward_computation(inputs):
    result = score_placement(inputs, config=CFG, today=TODAY)
    assert result.trend == straightforward_trend(inputs)
    assert result.drivers == _driver_scores(read_drivers(inputs, day=TODAY, config=CFG), CFG)
    r, coverage = _index(read_drivers(inputs, day=TODAY, config=CFG), CFG)
    assert (result.r, result.coverage) == (r, round(coverage, 3))
    # Levels, contributions and reasons come from those, so they are exactly reproducible too.
    again = score_placement(dataclasses.replace(inputs), config=CFG, today=TODAY)
    assert again == result


def test_a_rising_trend_from_the_fast_path_is_the_straightforward_one():
    from .factories import weekly_checkins

    rising = settled(checkins=weekly_checkins([2] * 8 + [4, 6, 7, 8, 9, 9]))
    result = score_placement(rising, config=CFG, today=TODAY)
    assert result.trend.direction == "rising"
    assert result.trend == straightforward_trend(rising)
    assert [p.r for p in result.trend.points][-1] == result.r


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=40), st.integers(0, 70), st.integers(0, 30))
def test_between_is_the_plain_date_filter(offsets, back, width):
    records = tuple(sorted((ChildView(days_ago(o), 3) for o in offsets), key=lambda v: v.on))
    day = days_ago(back)
    since = day - timedelta(days=width)
    assert tuple(between(records, since, day)) == tuple(v for v in records if since <= v.on <= day)


def test_bad_inputs_still_fail_loudly_with_the_same_messages():
    with pytest.raises(RiskInputError, match=r"^check-in 2026-03-16: stress must be 0-10$"):
        CheckIn(on=TODAY, stress=11)
    with pytest.raises(RiskInputError, match=r"^SDQ 2026-03-16: impact must be 0-6$"):
        SdqReport(on=TODAY, informant="teacher", total=10, impact=7)
    with pytest.raises(RiskInputError, match=r"^absence 2026-02: unlawful absence cannot exceed total$"):
        AbsenceMonth(date(2026, 2, 1), 5.0, 6.0)
    with pytest.raises(RiskInputError, match=r"^baseline.prior_placements must be a whole number >= 0$"):
        Baseline(prior_placements=-1)


def _reference_plain(value):
    """The serialisation before its fast path, for comparison."""
    if isinstance(value, tuple | list):
        return [_reference_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {f.name: _reference_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@EXAMPLES
@given(placements())
def test_the_stored_json_is_the_straightforward_serialisation(inputs):
    result = score_placement(inputs, config=CFG, today=TODAY)
    assert plain(result) == _reference_plain(result)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 400), max_size=20), st.integers(0, 200), st.integers(0, 200))
def test_counting_dates_in_a_window_is_the_plain_count(offsets, back, window):
    from support.risk.drivers import _count_within, _within

    days = tuple(sorted(days_ago(o) for o in offsets))
    day = days_ago(back)
    assert _count_within(days, day, window) == sum(1 for d in days if _within(d, day, window))
