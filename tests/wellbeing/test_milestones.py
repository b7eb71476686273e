"""Statutory milestones from placement dates and birthdays, the carers' ledger, and deadline alerts."""

from __future__ import annotations

import datetime as dt

import pytest

from support.errors import DomainError
from support.models import Alert, FollowUpCadence, Milestone, Placement
from support.wellbeing import goals, signals
from support.wellbeing.milestones import (
    carer_support_ledger,
    complete_milestone,
    raise_milestone_alerts,
    refresh_milestones,
    set_follow_up_cadence,
    upcoming_milestones_for,
)
from support.wellbeing.rules import DEFAULT_RULES, MilestoneRulesError, rules_from_settings
from support.wellbeing.scoring import recompute_placements
from support.wellbeing.tasks import next_local
from tests.wellbeing.conftest import CPH, NOW, TODAY, calm_history, latest, new_placement

D = dt.date


def due(placement, rule, sequence=0):
    return Milestone.objects.get(placement=placement, rule_code=rule, sequence=sequence).due_on


def refresh(today=TODAY, now=NOW, **kw):
    return refresh_milestones(today=today, now=now, **kw)


def test_child_plan_and_first_follow_up_are_due_three_months_after_the_start(world):
    refresh()
    p = world.placement  # started 2025-03-01, child born 2014-05-01
    assert due(p, "child_plan") == D(2025, 6, 1)
    assert due(p, "follow_up", 1) == D(2025, 6, 1)
    plan = Milestone.objects.get(placement=p, rule_code="child_plan")
    assert plan.status == "overdue"  # nobody marked it done
    assert "§ 91" in plan.source and plan.rule_version == DEFAULT_RULES.version
    assert world.child.display_name not in plan.title_da + plan.title_en
    assert plan.uid == f"child_plan-0-placement-{p.pk}@milestones.plejenet"


def test_three_months_from_the_end_of_a_month_is_clamped_never_later(world):
    p = new_placement(world, starts_on=D(2025, 11, 30))
    refresh()
    assert due(p, "child_plan") == D(2026, 2, 28)


@pytest.mark.parametrize(("start", "expected"), [
    (D(2026, 3, 29), D(2026, 6, 29)),   # the day clocks go forward in Denmark
    (D(2026, 10, 25), D(2027, 1, 25)),  # the day clocks go back
    (D(2026, 3, 28), D(2026, 6, 28)),
])
def test_daylight_saving_changes_do_not_move_a_deadline(world, start, expected):
    p = new_placement(world, starts_on=start)
    refresh(today=start)
    assert due(p, "child_plan") == expected
    assert due(p, "follow_up", 1) == expected


def test_the_nightly_run_stays_at_local_time_across_dst():
    spring = next_local(dt.time(2, 30), now=dt.datetime(2026, 3, 27, 12, 0, tzinfo=CPH))
    autumn = next_local(dt.time(2, 30), now=dt.datetime(2026, 10, 24, 12, 0, tzinfo=CPH))
    assert spring.astimezone(CPH).date() == D(2026, 3, 28) and spring.utcoffset() == dt.timedelta(hours=1)
    assert autumn.astimezone(CPH).date() == D(2026, 10, 25)
    assert (autumn.astimezone(CPH).hour, autumn.astimezone(CPH).minute) == (2, 30)


def test_youth_plan_three_months_after_the_16th_birthday_and_aftercare_six_months_before_18(world):
    p = new_placement(world, birth_date=D(2010, 6, 15), starts_on=D(2025, 1, 6))
    refresh()
    assert due(p, "youth_plan") == D(2026, 9, 15)
    assert due(p, "aftercare_decision") == D(2027, 12, 15)


def test_a_child_placed_after_16_gets_the_youth_plan_three_months_after_the_placement(world):
    p = new_placement(world, birth_date=D(2009, 1, 10), starts_on=D(2025, 9, 1))
    refresh()
    assert due(p, "youth_plan") == D(2025, 12, 1)


def test_placed_less_than_six_months_before_18_the_aftercare_decision_is_due_at_once(world):
    p = new_placement(world, birth_date=D(2008, 3, 1), starts_on=D(2026, 1, 5))
    refresh()
    assert due(p, "aftercare_decision") == D(2026, 1, 5)


def test_no_youth_plan_or_aftercare_for_a_young_child_ending_before_18(world):
    p = new_placement(world, birth_date=D(2020, 4, 4), starts_on=D(2025, 1, 6))
    Placement.objects.filter(pk=p.pk).update(planned_end_on=D(2027, 1, 1))
    refresh()
    codes = set(Milestone.objects.filter(placement=p).values_list("rule_code", flat=True))
    assert "youth_plan" in codes  # 16th birthday 2036 is before 18
    assert "aftercare_decision" not in codes


def test_leap_day_birthdays(world):
    # Born 29 February: the 16th birthday (2028) is a leap day; the 18th (2030) is not, so it is
    # 28 February, the earlier choice, and deadlines counted from it are never late.
    p = new_placement(world, birth_date=D(2012, 2, 29), starts_on=D(2025, 1, 6))
    refresh()
    assert due(p, "youth_plan") == D(2028, 5, 29)
    assert due(p, "aftercare_decision") == D(2029, 8, 28)


def test_generation_is_idempotent(world):
    new_placement(world, birth_date=D(2010, 6, 15))
    first = refresh()
    count = Milestone.objects.count()
    second = refresh()

    assert first.created == count > 0
    assert (second.created, second.updated, second.withdrawn) == (0, 0, 0)
    assert Milestone.objects.count() == count


def test_the_first_follow_up_needs_a_justified_cadence_which_sets_the_next_one(world):
    refresh()
    first = Milestone.objects.get(placement=world.placement, rule_code="follow_up", sequence=1)
    with pytest.raises(DomainError) as err:
        complete_milestone(milestone=first, by=world.consultant, now=NOW)
    assert err.value.code == "cadence_required"
    with pytest.raises(DomainError):
        complete_milestone(milestone=first, by=world.consultant, now=NOW, cadence_months=4, cadence_justification=" ")

    complete_milestone(milestone=first, by=world.consultant, now=NOW, note="Holdt med familien.", cadence_months=4,
                       cadence_justification="Stabil anbringelse; skolen følger tæt op.")

    first.refresh_from_db()
    assert first.status == "done" and first.done_by == world.consultant
    cadence = FollowUpCadence.objects.get(placement=world.placement)
    assert cadence.months == 4 and cadence.justification.startswith("Stabil")
    assert due(world.placement, "follow_up", 2) == D(2027, 3, 2)

    set_follow_up_cadence(placement=world.placement, months=2, justification="Uro i skolen.", by=world.consultant,
                          on=TODAY, now=NOW)
    assert due(world.placement, "follow_up", 2) == D(2027, 1, 2)
    assert FollowUpCadence.objects.filter(placement=world.placement).count() == 2  # history kept


def test_milestones_of_an_ended_placement_are_withdrawn(world):
    refresh()
    Placement.objects.filter(pk=world.placement.pk).update(status="ended", ended_on=TODAY)
    refresh()
    statuses = set(Milestone.objects.filter(placement=world.placement).values_list("status", flat=True))
    assert statuses == {"withdrawn"}


def test_due_and_overdue_alerts_are_raised_once_each(world):
    p = new_placement(world, starts_on=D(2026, 8, 20))  # child plan due 2026-11-20, warned from 10-30
    refresh()
    assert raise_milestone_alerts(today=TODAY, now=NOW) >= 1
    plan = Milestone.objects.get(placement=p, rule_code="child_plan")
    due_alert = Alert.objects.get(milestone=plan)
    assert (due_alert.kind, due_alert.recipient) == ("milestone_due", world.consultant)
    raise_milestone_alerts(today=TODAY, now=NOW)
    assert Alert.objects.filter(milestone=plan).count() == 1

    later = D(2026, 11, 21)
    raise_milestone_alerts(today=later, now=NOW + dt.timedelta(days=19))
    raise_milestone_alerts(today=later, now=NOW + dt.timedelta(days=19))
    plan.refresh_from_db()
    assert plan.status == "overdue"
    assert sorted(Alert.objects.filter(milestone=plan).values_list("kind", "status")) == [
        ("milestone_due", "resolved"), ("milestone_overdue", "open")]

    complete_milestone(milestone=plan, by=world.consultant, now=NOW + dt.timedelta(days=19))
    assert not Alert.objects.filter(milestone=plan, status="open").exists()


def test_historic_deadlines_are_listed_as_overdue_but_do_not_flood_the_consultant(world):
    # The world's placement started 2025-03-01: its child's plan and first follow-up were due in
    # June 2025. Switching Plejenet on now must not alert about them; a deadline passing now does.
    fresh = new_placement(world, starts_on=D(2026, 7, 20))  # child's plan due 2026-10-20, 13 days ago
    refresh()
    raise_milestone_alerts(today=TODAY, now=NOW)

    old_plan = Milestone.objects.get(placement=world.placement, rule_code="child_plan")
    assert old_plan.status == "overdue" and not Alert.objects.filter(milestone=old_plan).exists()
    new_plan = Milestone.objects.get(placement=fresh, rule_code="child_plan")
    assert Alert.objects.get(milestone=new_plan).kind == "milestone_overdue"


def test_the_ledger_counts_course_days_and_supervision_owed_against_delivered(world):
    # The family's only placement started 2025-03-01, so 2026 holds the end of its first year:
    # 3 course days, and supervision monthly until March then 4 a year: ceil(1.94 + 3.35) = 6.
    refresh()
    lines = {line.kind: line for line in carer_support_ledger(household=world.foster_home, year=2026, today=TODAY)}
    assert lines["course_day"].owed == 3 and lines["course_day"].delivered == 0
    assert lines["supervision"].owed == 6
    assert lines["supervision"].overdue_sessions == 5  # due by early November, none delivered

    signals.record_carer_support(household=world.foster_home, by=world.consultant, kind="course_day",
                                 on=D(2026, 4, 10), amount=2, now=NOW)
    signals.record_carer_support(household=world.foster_home, by=world.consultant, kind="course_day",
                                 on=D(2026, 9, 1), amount=1, now=NOW)
    signals.record_carer_support(household=world.foster_home, by=world.consultant, kind="supervision",
                                 on=D(2026, 2, 1), now=NOW)

    lines = {line.kind: line for line in carer_support_ledger(household=world.foster_home, year=2026, today=TODAY)}
    assert lines["course_day"].balance == 0
    course = Milestone.objects.get(household=world.foster_home, rule_code="carer_course_days")
    assert course.status == "done" and course.done_at.date() == D(2026, 9, 1)
    assert lines["supervision"].delivered == 1 and lines["supervision"].overdue_sessions == 4
    with pytest.raises(DomainError):
        complete_milestone(milestone=course, by=world.consultant, now=NOW)


def test_network_families_owe_no_course_days_and_respite_families_have_no_ledger(world):
    world.foster_home.foster_type = "netvaerk"
    world.foster_home.save()
    refresh()
    codes = set(Milestone.objects.filter(household=world.foster_home).values_list("rule_code", flat=True))
    assert codes == {"carer_supervision"}


def test_overdue_supervision_is_a_system_stressor_in_the_score(world):
    calm_history(world.placement)
    refresh()
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)
    system = next(d for d in latest(world.placement).drivers if d["code"] == "system")
    assert "supervision overdue" in system["evidence"][0]["en"]


def test_a_goal_review_is_a_milestone_until_the_goal_is_closed(world):
    goal = goals.create_goal(placement=world.placement, by=world.consultant, title="Mindre fravær", indicator="absence_pct",
                             baseline=14, target=5, direction="decrease", review_on=D(2027, 2, 1), now=NOW)
    assert due(world.placement, "goal_review", goal.pk) == D(2027, 2, 1)
    goals.close_goal(goal=goal, by=world.consultant, status="achieved", now=NOW)
    assert Milestone.objects.get(rule_code="goal_review").status == "withdrawn"


def test_a_persons_upcoming_milestones_for_their_calendar_carry_no_child_name(world):
    refresh()
    items = upcoming_milestones_for(world.consultant, today=TODAY, days=400)
    assert items and all(world.child.display_name not in i.title for i in items)
    assert all(i.uid.endswith("@milestones.plejenet") for i in items)
    assert [i.date for i in items] == sorted(i.date for i in items)
    assert {i.uid for i in items} == {i.uid for i in upcoming_milestones_for(world.consultant, today=TODAY, days=400)}

    family = upcoming_milestones_for(world.foster_parent, today=TODAY, days=400)
    assert family and all(uid.startswith("carer_") for uid in (i.uid for i in family))
    assert upcoming_milestones_for(world.outsider, today=TODAY, days=400) == []
    assert upcoming_milestones_for(world.other_consultant, today=TODAY, days=400)[0].uid.endswith(
        f"placement-{world.odense_placement.pk}@milestones.plejenet")


def test_rules_are_configurable_under_a_new_version(world, settings):
    with pytest.raises(MilestoneRulesError):
        rules_from_settings({"version": DEFAULT_RULES.version, "child_plan": {"months": 2}})
    with pytest.raises(MilestoneRulesError):
        rules_from_settings({"version": "x", "child_plan": {"title": "no"}})
    settings.MILESTONE_RULES = {"version": "aarhus-2026.1", "child_plan": {"months": 2}}
    refresh()
    plan = Milestone.objects.get(placement=world.placement, rule_code="child_plan")
    assert plan.due_on == D(2025, 5, 1) and plan.rule_version == "aarhus-2026.1"
