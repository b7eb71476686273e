"""Inputs the system derives: missed sessions, respite, waiting needs, loads, consultant changes, baseline."""

from __future__ import annotations

import datetime as dt

from support import services_records
from support.models import (
    CheckIn,
    Child,
    Membership,
    NeedStatus,
    Placement,
    Provider,
    ProviderAbsence,
    Service,
    SupportNeed,
)
from support.risk import DEFAULT_CONFIG
from support.roles import Role
from support.wellbeing import derived, signals
from support.wellbeing.loading import load_placements
from support.wellbeing.scoring import recompute_placements
from tests.conftest import make_household, make_user
from tests.wellbeing.conftest import CPH, NOW, TODAY, calm_history, days_ago, latest, new_placement


def _need(world, placement, service="supervision", *, status=NeedStatus.ASSIGNED, provider=None, per_week=1,
          starts=None, minutes=90):
    return SupportNeed.objects.create(
        municipality=world.aarhus, placement=placement, recipient="foster_household",
        recipient_household=placement.foster_household, service=Service.objects.get(code=service),
        minutes_per_session=minutes, sessions_per_week=per_week, starts_on=starts or days_ago(120), status=status,
        current_provider=provider if status != NeedStatus.OPEN else None,
    )


def _away(provider, first: dt.date, days: int):
    start = dt.datetime.combine(first, dt.time.min, tzinfo=CPH)
    ProviderAbsence.objects.create(provider=provider, starts_at=start, ends_at=start + dt.timedelta(days=days),
                                   reason="illness")


def _inputs(placement):
    [loaded] = load_placements([placement.pk], today=TODAY, config=DEFAULT_CONFIG)
    return loaded


def test_sessions_falling_in_a_provider_absence_count_as_cancelled(world):
    _need(world, world.placement, provider=world.provider, starts=days_ago(56))  # weekly, on Mondays
    _away(world.provider, days_ago(15), 14)  # two Mondays

    dates = derived.missed_session_dates([world.placement.pk], since=days_ago(30), until=TODAY)
    assert dates[world.placement.pk] == [days_ago(14), days_ago(7)]
    assert "missed_sessions" in _stressors(world)


def test_a_cancelled_session_the_family_also_reports_is_counted_once(world):
    _need(world, world.placement, provider=world.provider, starts=days_ago(56))
    _away(world.provider, days_ago(8), 2)  # the Monday a week ago
    CheckIn.objects.create(municipality=world.aarhus, placement=world.placement, household=world.foster_home,
                           on=days_ago(5), stress=2, sessions_missed=1)
    CheckIn.objects.create(municipality=world.aarhus, placement=world.placement, household=world.foster_home,
                           on=days_ago(20), stress=2, sessions_missed=2)

    dates = derived.missed_session_dates([world.placement.pk], since=days_ago(30), until=TODAY)
    assert dates[world.placement.pk] == [days_ago(20), days_ago(20), days_ago(7)]


def test_respite_days_come_from_served_respite_needs_and_stop_the_respite_suggestion(world):
    respite_provider = Provider.objects.create(name="Aflastning (fiktiv)", latitude=56.1, longitude=10.2,
                                               capacity_minutes_per_week=3000, max_cases=3)
    _need(world, world.placement, "respite", provider=respite_provider, per_week="0.25", starts=days_ago(60),
          minutes=1440)
    loaded = _inputs(world.placement)
    assert loaded.inputs.system.respite_days == (days_ago(60), days_ago(32), days_ago(4))
    assert loaded.context["days_since_respite"] == 4


def test_a_need_waiting_four_weeks_is_a_stressor_and_shown_with_its_age(world):
    need = _need(world, world.placement, "psychologist", status=NeedStatus.OPEN, starts=days_ago(40))
    SupportNeed.objects.filter(pk=need.pk).update(created_at=NOW - dt.timedelta(days=35))

    loaded = _inputs(world.placement)
    assert loaded.context["needs_waiting"] == [
        {"need_id": need.pk, "service": "psychologist", "status": "open", "waiting_days": 35}]
    assert "unmet_need" in _stressors(world)


def _stressors(world):
    from support.risk.drivers import system_stressors

    return system_stressors(_inputs(world.placement).inputs, day=TODAY, config=DEFAULT_CONFIG)


def test_loads_of_foster_household_provider_and_consultant(world):
    second = new_placement(world, name="Søster", household=world.foster_home)
    _need(world, world.placement, provider=world.provider, per_week=1, minutes=90)
    _need(world, second, provider=world.provider, per_week="0.5", minutes=120)
    _need(world, second, "psychologist", status=NeedStatus.OPEN)

    home = derived.fetch_household_loads([world.foster_home.pk])[world.foster_home.pk]
    assert (home.children_placed, home.needs_waiting, home.needs_assigned, home.sessions_per_week) == (2, 1, 2, 1.5)
    load = derived.fetch_provider_loads([world.provider.pk])[world.provider.pk]
    assert (load.booked_minutes_per_week, load.capacity_minutes_per_week, load.cases, load.ratio) == (150, 1200, 2, 0.125)
    assert derived.consultant_caseloads(municipality_id=world.aarhus.pk) == {world.consultant.pk: 2}
    # The other child in the home is baseline context.
    assert _inputs(world.placement).inputs.baseline.other_foster_children == 1


def test_a_change_of_consultant_is_read_from_the_audit_trail(world):
    successor = make_user("ny_konsulent")
    Membership.objects.create(user=successor, role=Role.CONSULTANT, municipality=world.aarhus)
    services_records.update_placement(placement=world.placement, by=world.team_lead, changes={"consultant": successor})

    assert _inputs(world.placement).inputs.system.consultant_changes == (TODAY,)
    assert "consultant_change" in _stressors(world)


def test_baseline_counts_earlier_placements_and_kinship_from_the_records(world):
    child = Child.objects.create(municipality=world.aarhus, display_name="Flyttet", birth_date=dt.date(2012, 3, 3))
    Placement.objects.create(municipality=world.aarhus, child=child, institution_name="Døgninstitution (fiktiv)",
                             starts_on=dt.date(2020, 1, 1), status="ended", ended_on=dt.date(2021, 1, 1))
    Placement.objects.create(municipality=world.aarhus, child=child, foster_household=world.other_foster_home,
                             starts_on=dt.date(2021, 1, 1), status="broke_down", ended_on=dt.date(2023, 6, 1),
                             breakdown_reason="child_behaviour")
    kin = make_household(world.aarhus, "Mormor (fiktiv)", foster_type="netvaerk")
    now = Placement.objects.create(municipality=world.aarhus, child=child, foster_household=kin,
                                   consultant=world.consultant, starts_on=dt.date(2023, 6, 1))
    signals.update_background(placement=now, by=world.consultant, changes={"documented_maltreatment": True}, now=NOW)

    baseline = _inputs(now).inputs.baseline
    assert (baseline.prior_placements, baseline.prior_breakdowns) == (2, 1)
    assert baseline.residential_history and baseline.kinship and baseline.documented_maltreatment


def test_school_does_not_apply_before_school_age_unless_the_consultant_says_otherwise(world):
    little = new_placement(world, birth_date=dt.date(2021, 9, 1))
    calm_history(little)
    recompute_placements(placement_ids=[little.pk], now=NOW)
    school = next(d for d in latest(little).drivers if d["code"] == "school")
    assert school["status"] == "not_applicable"

    signals.update_background(placement=little, by=world.consultant, changes={"attends_school": True}, now=NOW)
    assert _inputs(little).inputs.attends_school is True


def test_loading_reads_no_free_text(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calm_history(world.placement)
    with CaptureQueriesContext(connection) as ctx:
        _inputs(world.placement)
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "free_text" not in sql and '"note"' not in sql and "comment" not in sql
