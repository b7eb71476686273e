"""Scores are stored per placement and computation, with the model version; the current one is marked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from support.models import (
    Alert,
    ChildView,
    Incident,
    NeedStatus,
    Placement,
    ProviderAbsence,
    RiskScore,
    SdqScore,
    Stressor,
    SupportNeed,
)
from support.risk import DEFAULT_CONFIG, score_placement
from support.wellbeing.loading import load_placements
from support.wellbeing.scoring import recompute_all, recompute_placements
from tests.conftest import make_household
from tests.wellbeing.conftest import NOW, TODAY, calm_history, checkins, days_ago, latest, new_placement


def test_score_is_stored_with_its_version_drivers_and_reasons(world):
    calm_history(world.placement)
    result = recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    assert result.scored == 1
    score = latest(world.placement)
    assert score.config_version == DEFAULT_CONFIG.version == "2026.1"
    assert score.level == "green" and score.index == 3.5 and score.data_sufficient
    assert score.as_of == TODAY and score.consultant == world.consultant
    assert [d["code"] for d in score.drivers] == list(DEFAULT_CONFIG.weights.__dataclass_fields__)
    commitment = next(d for d in score.drivers if d["code"] == "commitment")
    assert commitment == {**commitment, "status": "known", "s": pytest.approx(0.1), "weight": 10.0, "contribution": 1.0}
    assert score.detail["reasons"][0]["code"] == "no_rule_fired"
    assert score.detail["baseline"]["band"] in ("low", "medium", "high")
    assert len(score.detail["trend"]["points"]) == 12
    assert score.detail["context"]["household_load"]["children_placed"] == 1


def test_the_stored_score_equals_the_pure_core_on_the_loaded_inputs(world):
    calm_history(world.placement)
    checkins(world.placement, [{"stress": 7, "problem_behaviours": 8}], today=TODAY)  # a second one today
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    [loaded] = load_placements([world.placement.pk], today=TODAY, config=DEFAULT_CONFIG)
    core = score_placement(loaded.inputs, config=DEFAULT_CONFIG, today=TODAY)
    score = latest(world.placement)
    assert (score.level, score.index, score.trend_direction, score.trend_delta) == (
        core.level, core.r, core.trend.direction, core.trend.delta)


def test_each_computation_adds_a_row_and_only_the_newest_is_latest(world):
    calm_history(world.placement)
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)
    recompute_placements(placement_ids=[world.placement.pk], now=NOW + dt.timedelta(hours=1))

    rows = RiskScore.objects.filter(placement=world.placement).order_by("computed_at")
    assert [r.latest for r in rows] == [False, True]
    assert RiskScore.objects.current().count() == 1


def test_a_placement_without_reports_is_no_data_not_green(world):
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    score = latest(world.placement)
    assert score.level == "no_data"
    assert score.level_rank > 0  # sorts above green: silence is not good news
    codes = {r["code"] for r in score.detail["reasons"]}
    assert {"no_recent_checkin", "unknown_drivers"} <= codes


def test_three_weeks_without_a_check_in_is_no_data_even_with_old_calm_reports(world):
    calm_history(world.placement, today=days_ago(21))
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    assert latest(world.placement).level == "no_data"


def test_a_long_silence_names_the_last_check_in_instead_of_never(world):
    calm_history(world.placement, today=days_ago(120))
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    score = latest(world.placement)
    reason = next(r for r in score.detail["reasons"] if r["code"] == "no_recent_checkin")
    assert score.level == "no_data"
    assert days_ago(120).isoformat() in reason["text"]["en"]


def test_weights_come_from_settings_under_their_own_version(world, settings):
    settings.RISK_MODEL = {"version": "aarhus-2026.2", "weights": {"commitment": 20, "child_view": 0}}
    calm_history(world.placement)
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)

    score = latest(world.placement)
    assert score.config_version == "aarhus-2026.2"
    assert score.index == 2.0  # commitment .1 x 20; the child's view weighs nothing now


def test_recompute_all_scores_active_foster_placements_only(world):
    calm_history(world.placement)
    ended = new_placement(world, name="Demo-barn C.")
    Placement.objects.filter(pk=ended.pk).update(status="ended", ended_on=TODAY)
    future = new_placement(world, name="Demo-barn D.", starts_on=TODAY + dt.timedelta(days=3))

    result = recompute_all(now=NOW)

    scored = set(RiskScore.objects.values_list("placement_id", flat=True))
    assert world.placement.pk in scored and world.odense_placement.pk in scored
    assert ended.pk not in scored and future.pk not in scored
    assert result.scored == 2


def test_list_order_puts_red_then_no_data_then_yellow_then_green(world):
    red = new_placement(world, name="R.")
    calm_history(red)
    Incident.objects.create(municipality=world.aarhus, placement=red, on=days_ago(2), kind="running_away")
    calm_history(world.placement)
    recompute_all(now=NOW)  # the Odense placement has no data

    levels = [s.level for s in RiskScore.objects.current().by_attention()]
    assert levels == ["red", "no_data", "green"]


def _rich_placements(world, n):
    """n placements with every kind of record, sharing one provider who is away part of the time."""
    home = make_household(world.aarhus, f"Stor familie {n}")
    ProviderAbsence.objects.create(provider=world.provider, starts_at=NOW - dt.timedelta(days=10),
                                   ends_at=NOW - dt.timedelta(days=3), reason="illness")
    ids = []
    for i in range(n):
        p = new_placement(world, name=f"Barn {n}-{i}", household=home)
        calm_history(p)
        SdqScore.objects.create(municipality=world.aarhus, placement=p, on=days_ago(5), informant="teacher", total=9)
        ChildView.objects.create(municipality=world.aarhus, placement=p, on=days_ago(3), wellbeing=3)
        Incident.objects.create(municipality=world.aarhus, placement=p, on=days_ago(10), kind="violence")
        Stressor.objects.create(municipality=world.aarhus, placement=p, kind="birth_family_conflict",
                                started_on=days_ago(40))
        SupportNeed.objects.create(
            municipality=world.aarhus, placement=p, recipient="foster_household", recipient_household=home,
            service_id=_service("supervision"), minutes_per_session=90, sessions_per_week=1, starts_on=days_ago(100),
            current_provider=world.provider, status=NeedStatus.ASSIGNED,
        )
        SupportNeed.objects.create(
            municipality=world.aarhus, placement=p, recipient="foster_household", recipient_household=home,
            service_id=_service("respite"), minutes_per_session=600, sessions_per_week="0.5", starts_on=days_ago(100),
        )
        ids.append(p.pk)
    return ids


def _service(code):
    from support.models import Service

    return Service.objects.get(code=code).pk


def _count(ids):
    with CaptureQueriesContext(connection) as ctx:
        recompute_placements(placement_ids=ids, now=NOW)
    selects = [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    return len(ctx.captured_queries), len(selects)


def test_recomputation_uses_the_same_number_of_queries_for_5_and_50_placements(world):
    few, many = _rich_placements(world, 5), _rich_placements(world, 50)
    # First run: levels rise and alerts are written; reads stay constant (inserts are batched
    # by the database's parameter limit, which on SQLite depends on the row count).
    first_few, first_few_selects = _count(few)
    first_many, first_many_selects = _count(many)
    assert first_few_selects == first_many_selects
    assert Alert.objects.count() == 55
    # Steady state (the nightly run): everything constant.
    again_few, _ = _count(few)
    again_many, _ = _count(many)
    assert again_few == again_many
    assert again_few <= 28, again_few  # incl. the scheduler's series, cancelled and respite occurrences
    assert RiskScore.objects.filter(latest=True).count() == 55
