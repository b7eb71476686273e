"""Recording signals (rules, who, re-scoring after commit), goal progress, and the scheduled tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django_q.models import Schedule

from support.errors import DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    Alert,
    AuditEntry,
    Incident,
    Milestone,
    Placement,
    RiskScore,
    SchoolAbsence,
    SdqScore,
)
from support.wellbeing import goals, signals, tasks
from support.wellbeing.sdq import impact_band, total_band
from tests.wellbeing.conftest import NOW, TODAY, calm_history, days_ago, latest

D = dt.date


def test_a_signal_is_scored_after_its_transaction_commits(world, django_capture_on_commit_callbacks):
    calm_history(world.placement)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        signals.record_sdq(placement=world.placement, by=world.consultant, on=TODAY, informant="teacher", total=19,
                           impact=2, now=NOW)
    assert not RiskScore.objects.exists() and len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=True):
        signals.record_incident(placement=world.placement, by=world.foster_parent, on=TODAY, kind="self_harm",
                                note="Detaljer kun til konsulenten", now=NOW)
    score = latest(world.placement)
    assert score.level == "red"
    assert "psychologist_for_self_harm" in [r["code"] for r in score.recommendations]


@pytest.mark.parametrize(("answers", "field"), [
    ({"stress": 11}, "stress"),
    ({"stress": -1}, "stress"),
    ({"stress": 3, "sleep": 0}, "sleep"),
    ({"stress": 3, "commitment": 11}, "commitment"),
    ({"stress": 3, "problem_behaviours": 31}, "problem_behaviours"),
    ({"stress": True}, "stress"),
])
def test_check_in_answers_out_of_range_are_refused_with_the_field_named(world, answers, field):
    with pytest.raises(DomainError) as err:
        signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, now=NOW, **answers)
    assert field in err.value.fields


def test_check_ins_are_not_in_the_future_or_before_the_placement(world):
    for day in (TODAY + dt.timedelta(days=1), D(2025, 2, 1)):
        with pytest.raises(DomainError):
            signals.record_checkin(placement=world.placement, by=world.foster_parent, on=day, stress=3, now=NOW)


def test_only_the_placements_own_family_and_its_municipality_may_report(world):
    for outsider in (world.other_foster_parent, world.other_consultant, world.outsider, world.birth_parent,
                     world.provider_user):
        with pytest.raises(NotFoundInScope):
            signals.record_checkin(placement=world.placement, by=outsider, on=TODAY, stress=3, now=NOW)
    with pytest.raises(NotFoundInScope):  # school absence comes from staff, not from the family
        signals.record_school_absence(placement=world.placement, by=world.foster_parent, month=D(2026, 10, 1),
                                      total_pct=4, now=NOW)
    signals.record_checkin(placement=world.placement, by=world.consultant, on=TODAY, stress=3, now=NOW)


def test_no_signals_for_an_ended_placement(world):
    Placement.objects.filter(pk=world.placement.pk).update(status="ended", ended_on=TODAY)
    world.placement.refresh_from_db()
    with pytest.raises(InvalidTransition):
        signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=3, now=NOW)


def test_audit_names_what_was_recorded_never_the_answers(world):
    signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=8, commitment=3,
                           free_text="Vi er udmattede", now=NOW)
    entry = AuditEntry.objects.get(action="checkin.create")
    assert entry.details == {"help_now": False}


def test_sdq_impact_range_depends_on_the_informant_and_bands_are_standard(world):
    with pytest.raises(DomainError):
        signals.record_sdq(placement=world.placement, by=world.consultant, on=TODAY, informant="teacher", total=12,
                           impact=7, now=NOW)
    with pytest.raises(NotFoundInScope):  # a carer records their own SDQ, not the teacher's
        signals.record_sdq(placement=world.placement, by=world.foster_parent, on=TODAY, informant="teacher",
                           total=12, now=NOW)
    sdq = signals.record_sdq(placement=world.placement, by=world.foster_parent, on=TODAY, informant="parent",
                             total=17, impact=2, now=NOW)
    assert (sdq.total_band, sdq.impact_band) == ("high", "high")
    assert [total_band("parent", t) for t in (13, 14, 17, 20)] == [
        "close_to_average", "slightly_raised", "high", "very_high"]
    assert [total_band("teacher", t) for t in (11, 12, 16, 19)] == [
        "close_to_average", "slightly_raised", "high", "very_high"]
    assert impact_band("parent", None) is None and impact_band("self", 0) == "close_to_average"


def test_school_absence_is_one_row_per_month_and_unlawful_cannot_exceed_total(world):
    with pytest.raises(DomainError):
        signals.record_school_absence(placement=world.placement, by=world.consultant, month=D(2026, 10, 1),
                                      total_pct=4, unlawful_pct=5, now=NOW)
    signals.record_school_absence(placement=world.placement, by=world.consultant, month=D(2026, 10, 17),
                                  total_pct=4, now=NOW)
    signals.record_school_absence(placement=world.placement, by=world.consultant, month=D(2026, 10, 1),
                                  total_pct="12.5", unlawful_pct=10, now=NOW)
    row = SchoolAbsence.objects.get()
    assert (row.month, float(row.total_pct), float(row.unlawful_pct)) == (D(2026, 10, 1), 12.5, 10.0)


def test_stressors_open_and_close(world):
    stressor = signals.start_stressor(placement=world.placement, by=world.consultant, kind="birth_family_conflict",
                                      started_on=days_ago(30), now=NOW)
    with pytest.raises(DomainError):
        signals.end_stressor(stressor=stressor, by=world.consultant, ended_on=days_ago(40), now=NOW)
    signals.end_stressor(stressor=stressor, by=world.consultant, ended_on=TODAY, now=NOW)
    with pytest.raises(InvalidTransition):
        signals.end_stressor(stressor=stressor, by=world.consultant, ended_on=TODAY, now=NOW)


# --- Goals ----------------------------------------------------------------------------------------------------


def _goal(world, **kw):
    args = {"placement": world.placement, "by": world.consultant, "title": "Mål", "indicator": "absence_pct",
            "baseline": 14, "target": 5, "direction": "decrease", "review_on": D(2027, 2, 1), "now": NOW}
    return goals.create_goal(**{**args, **kw})


def test_goal_targets_must_be_better_than_the_baseline(world):
    with pytest.raises(DomainError) as err:
        _goal(world, baseline=5, target=14)
    assert "target" in err.value.fields
    with pytest.raises(DomainError):
        _goal(world, review_on=TODAY)


def test_goal_progress_is_computed_from_the_signals(world):
    calm_history(world.placement)  # absence 3% each month, carer SDQ 8, child's view 4
    absence = _goal(world)
    sdq = _goal(world, indicator="sdq_total", baseline=18, target=10)
    harm = _goal(world, indicator="self_harm_count", baseline=3, target=0, window_days=60)
    view = _goal(world, indicator="child_wellbeing", baseline=2, target=4, direction="increase")
    custom = _goal(world, indicator="custom", baseline=10, target=0)
    teacher = _goal(world, indicator="sdq_total", sdq_informant="teacher", baseline=18, target=10)
    Incident.objects.create(municipality=world.aarhus, placement=world.placement, on=days_ago(20), kind="self_harm")
    Incident.objects.create(municipality=world.aarhus, placement=world.placement, on=days_ago(70), kind="self_harm")
    goals.record_goal_measurement(goal=custom, by=world.consultant, on=days_ago(1), value=6, now=NOW)
    SdqScore.objects.create(municipality=world.aarhus, placement=world.placement, on=days_ago(3), informant="parent",
                            total=14)

    progress = goals.goal_progress([absence, sdq, harm, view, custom, teacher], today=TODAY)

    assert (progress[absence.pk].current, progress[absence.pk].state, progress[absence.pk].progress) == (3.0, "achieved", 1.0)
    assert (progress[sdq.pk].current, progress[sdq.pk].state, progress[sdq.pk].progress) == (14.0, "improving", 0.5)
    assert (progress[harm.pk].current, progress[harm.pk].state) == (1.0, "improving")
    assert progress[view.pk].state == "achieved"
    assert (progress[custom.pk].current, progress[custom.pk].progress) == (6.0, 0.4)
    assert progress[teacher.pk].state == "no_data"
    with pytest.raises(DomainError):
        goals.record_goal_measurement(goal=absence, by=world.consultant, on=TODAY, value=1, now=NOW)


# --- Tasks ------------------------------------------------------------------------------------------------------


def test_schedules_exist_after_migrating_and_ensure_schedules_is_idempotent(db):
    assert set(Schedule.objects.values_list("name", flat=True)) >= {tasks.NIGHTLY_NAME, tasks.EMAILS_NAME}
    tasks.ensure_schedules()
    tasks.ensure_schedules()
    nightly = Schedule.objects.get(name=tasks.NIGHTLY_NAME)
    assert Schedule.objects.filter(name__startswith="wellbeing-").count() == 2
    assert nightly.func == "support.wellbeing.tasks.nightly" and nightly.schedule_type == Schedule.DAILY


def test_the_nightly_task_refreshes_milestones_scores_everyone_and_alerts(world):
    calm_history(world.placement)
    result = tasks.nightly()  # django-q2 in sync mode runs the chunk tasks at once
    assert (result["placements"], result["chunks"]) == (2, 1)
    assert Milestone.objects.filter(placement=world.placement).exists()
    assert RiskScore.objects.filter(latest=True).count() == 2
    assert {s.as_of for s in RiskScore.objects.all()} == {TODAY}
    assert result["milestone_alerts"] >= 1  # course days due by new year; a supervision session just overdue
    alerts_before = Alert.objects.count()
    again = tasks.nightly()
    assert again["milestone_alerts"] == 0 and Alert.objects.count() == alerts_before
    assert RiskScore.objects.count() == 4 and RiskScore.objects.filter(latest=True).count() == 2
