"""EWMA, its change over three cycles, the OLS slope, and trend detection end to end."""

from __future__ import annotations

import pytest

from support.risk import DEFAULT_CONFIG, TrendPoint
from support.risk.trend import direction, ewma, ewma_delta, ols_slope, summarise

from .factories import days_ago, score, settled, weekly_checkins


def test_ewma_starts_at_the_first_value_and_weights_new_values_by_lambda():
    assert ewma([10, 20, 20], 0.3) == pytest.approx([10, 13, 15.1])
    assert ewma([], 0.3) == []
    with pytest.raises(ValueError):
        ewma([1], 0)


def test_ewma_delta_needs_more_reports_than_cycles():
    assert ewma_delta([10, 20, 30], 0.3, 3) is None
    smoothed = ewma([10, 20, 30, 40], 0.3)
    assert ewma_delta([10, 20, 30, 40], 0.3, 3) == pytest.approx(smoothed[-1] - smoothed[0])


def test_ols_slope_of_a_line_is_its_gradient():
    assert ols_slope([0, 7, 14, 21], [5, 7, 9, 11]) == pytest.approx(2 / 7)
    assert ols_slope([3], [1]) is None
    assert ols_slope([2, 2], [1, 5]) is None


@pytest.mark.parametrize(("delta", "expected"), [(10, "rising"), (9.9, "steady"), (0, "steady"), (-9.9, "steady"),
                                                  (-10, "falling"), (None, "unknown")])
def test_direction_uses_plus_or_minus_ten(delta, expected):
    assert direction(delta, 10) == expected


def points(values):
    return [TrendPoint(days_ago(7 * (len(values) - 1 - i)), v) for i, v in enumerate(values)]


def test_summary_skips_days_without_an_index_and_reports_the_slope_per_month():
    trend = summarise(points([10, None, 20, 30, 40, 50]), DEFAULT_CONFIG.trend)
    assert trend.direction == "rising"
    assert trend.delta == round(ewma([10, 20, 30, 40, 50], 0.3)[-1] - ewma([10, 20, 30, 40, 50], 0.3)[1], 1)
    # 40 points over the last five weekly points (28 days apart at the ends, one gap): about 10 per week.
    assert trend.slope_per_month == pytest.approx(
        round(ols_slope([0, 14, 21, 28, 35], [10, 20, 30, 40, 50]) * 365.25 / 12, 1))
    assert trend.points[1].r is None


def test_too_little_history_is_an_unknown_trend_not_a_steady_one():
    assert summarise(points([10, 50, 90]), DEFAULT_CONFIG.trend).direction == "unknown"


def test_rising_stress_over_recent_weeks_shows_as_rising_before_it_is_high():
    # Carer strain by cycle: 0, .33, .67, 1 -> R 3.5, 11.8, 20.3, 28.5; EWMA change over 3 cycles ~ +12.
    result = score(settled(checkins=weekly_checkins([0] * 10 + [6, 8, 8, 9])))
    assert result.trend.direction == "rising"
    assert result.trend.delta == pytest.approx(12.2, abs=0.1)
    assert result.trend.slope_per_month > 0
    assert result.r < DEFAULT_CONFIG.thresholds.yellow  # not high yet ...
    assert result.level == "yellow"  # ... but the rise alone is flagged


def test_falling_stress_is_falling():
    result = score(settled(checkins=weekly_checkins([9] * 10 + [5, 3, 1, 0])))
    assert result.trend.direction == "falling"
    assert result.trend.slope_per_month < 0


def test_flat_history_is_steady():
    result = score(settled())
    assert result.trend.direction == "steady"
    assert result.trend.delta == 0 and result.trend.slope_per_month == 0


def test_the_trend_window_covers_twelve_weekly_cycles_from_placement_start():
    assert len(score(settled()).trend.points) == DEFAULT_CONFIG.trend.history_cycles
    young = score(settled(placement_start=days_ago(20)))
    assert [p.on for p in young.trend.points] == [days_ago(14), days_ago(7), days_ago(0)]
    assert young.trend.direction == "unknown"
