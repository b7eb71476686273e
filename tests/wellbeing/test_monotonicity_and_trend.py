"""End to end through the database: a worse newest report never lowers the stored level, and a
rising pattern in stored check-ins is detected as a rising trend."""

from __future__ import annotations

import pytest

from support.models import LEVEL_RANK
from support.wellbeing import signals
from support.wellbeing.scoring import recompute_placements
from tests.wellbeing.conftest import NOW, TODAY, calm_history, checkins, days_ago, latest, new_placement

STRAIN = {"green": 0, "yellow": 1, "red": 2}

# (field, calmer value, worse value) for the newest check-in
WORSE = [
    ("stress", 2, 5), ("stress", 5, 7), ("stress", 7, 10),
    ("commitment", 9, 6), ("commitment", 6, 3),
    ("problem_behaviours", 1, 8), ("problem_behaviours", 8, 12),
    ("help_now", False, True),
]
# Some histories to start from: calm, already strained, and without school data.
BACKGROUNDS = ["calm", "strained", "no_school"]


def _history(placement, background):
    if background == "no_school":
        calm_history(placement)
        placement.school_absences.all().delete()
    elif background == "strained":
        calm_history(placement, weeks=12, today=days_ago(14))
        checkins(placement, [{"stress": 6, "commitment": 6, "problem_behaviours": 7}], today=days_ago(7))
    else:
        calm_history(placement, weeks=13, today=days_ago(7))


@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize(("field", "better", "worse"), WORSE)
def test_a_worse_check_in_never_lowers_the_stored_level(world, background, field, better, worse):
    results = {}
    for label, value in (("better", better), ("worse", worse)):
        placement = new_placement(world, name=f"{label}-{field}")
        _history(placement, background)
        answers = {"stress": 3, "commitment": 8, "problem_behaviours": 2, field: value}
        signals.record_checkin(placement=placement, by=world.consultant, on=TODAY,
                               now=NOW, **answers)
        recompute_placements(placement_ids=[placement.pk], now=NOW)
        results[label] = latest(placement)
    better_score, worse_score = results["better"], results["worse"]
    assert STRAIN[worse_score.strain_level] >= STRAIN[better_score.strain_level]
    if better_score.level != "no_data" and worse_score.level != "no_data":
        assert LEVEL_RANK[worse_score.level] >= LEVEL_RANK[better_score.level]
    if better_score.index is not None and worse_score.index is not None:
        assert worse_score.index >= better_score.index


def test_an_acute_check_in_is_red_even_when_data_is_otherwise_missing(world):
    signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=3, help_now=True, now=NOW)
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    score = latest(world.placement)
    assert score.level == "red"
    assert not score.data_sufficient  # red wins over no data, and still says what is missing


def test_rising_stress_in_stored_check_ins_is_a_rising_trend(world):
    calm_history(world.placement)
    world.placement.checkins.all().delete()
    stresses = [2] * 8 + [4, 6, 7, 8, 8, 9]
    checkins(world.placement, [{"stress": s, "commitment": 9 - (s // 3)} for s in stresses])
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    score = latest(world.placement)
    assert score.trend_direction == "rising"
    assert score.trend_delta >= 10
    assert score.trend_slope > 0
    assert score.index < 35 and score.level == "yellow"  # below the index threshold, but rising
    assert any(r["code"] == "index_rising_yellow" for r in score.detail["reasons"])


def test_flat_history_is_steady_and_a_recovery_is_falling(world):
    calm_history(world.placement)
    other = new_placement(world)
    calm_history(other)
    other.checkins.all().delete()
    checkins(other, [{"stress": s} for s in [9] * 8 + [6, 4, 2, 2, 2, 2]])
    recompute_placements(placement_ids=[world.placement.pk, other.pk], now=NOW)

    assert latest(world.placement).trend_direction == "steady"
    assert latest(other).trend_direction == "falling"


def test_a_new_placement_has_an_unknown_trend_not_a_steady_one(world):
    fresh = new_placement(world, starts_on=days_ago(10))
    checkins(fresh, [{}, {}], today=TODAY)
    recompute_placements(placement_ids=[fresh.pk], now=NOW)

    assert latest(fresh).trend_direction == "unknown"
