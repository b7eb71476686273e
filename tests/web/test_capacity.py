"""The team lead's capacity dashboard (/workspace/capacity/) and its CSV export.

Hand-made data with figures worked out by hand: provider weeks (sessions, a moved session, a
cancelled one, a declined proposal, a meeting, a respite weekend, an absence), the carers'
ledger, waiting needs with the latest run's reasons, the risk distribution against last month
and the override rates. Then who may see it, the filters, the CSV and the query count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler.models import (
    MatchingRun,
    Meeting,
    MeetingParticipant,
    OccurrenceStatus,
    Proposal,
    RunStatus,
    SeriesKind,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
    UnmatchedNeed,
)
from support.capacity import Cell, Filters, capacity_report, week_starts, weekly_capacity
from support.models import (
    AuditEntry,
    CarerSupportDelivery,
    CarerSupportKind,
    Child,
    Competence,
    Household,
    Membership,
    NeedStatus,
    Placement,
    Provider,
    ProviderAbsence,
    RiskScore,
    ScoreAssessment,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)
from support.roles import Role
from support.wellbeing.milestones import carer_support_ledger, refresh_milestones
from tests.conftest import make_household, make_user
from tests.web.conftest import add_need, add_provider, text_of
from tests.web.test_markup import PageAudit
from web.capacity import _cell_value

CPH = ZoneInfo("Europe/Copenhagen")
TODAY = dt.date(2026, 11, 4)  # a Wednesday; the dashboard's first week starts Monday 2 November
NOW = dt.datetime(2026, 11, 4, 10, 0, tzinfo=CPH)
URL = "/workspace/capacity/"
CSV_URL = "/workspace/capacity/export.csv"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CPH)


def series_for(need, provider, *, kind=SeriesKind.SESSIONS, status=SeriesStatus.ACTIVE, minutes=120):
    return SessionSeries.objects.create(
        municipality=need.municipality, kind=kind, need=need, provider=provider, household=need.recipient_household,
        host_household=need.recipient_household if kind == SeriesKind.RESPITE else None, status=status,
        first_date=TODAY, start_minute=600, duration=dt.timedelta(minutes=minutes), weekdays=[3], rrule="FREQ=WEEKLY",
        created_at=NOW, updated_at=NOW,
    )


def occurrence(series, start: dt.datetime, end: dt.datetime, status=OccurrenceStatus.SCHEDULED):
    return SessionOccurrence.objects.create(series=series, original_start=start, start=start, end=end, status=status,
                                            created_at=NOW, updated_at=NOW)


def assign(need, provider):
    SupportNeed.objects.filter(pk=need.pk).update(current_provider=provider, status=NeedStatus.ASSIGNED)
    need.refresh_from_db()
    return need


def meeting(world, provider, start: dt.datetime, minutes: int):
    m = Meeting.objects.create(municipality=world.aarhus, placement=world.placement, kind="follow_up", start=start,
                               end=start + dt.timedelta(minutes=minutes), created_at=NOW, updated_at=NOW)
    MeetingParticipant.objects.create(meeting=m, party=f"provider:{provider.pk}", role="provider", label=provider.name,
                                      provider=provider)
    return m


def score(placement, level: str, as_of: dt.date, *, latest: bool):
    rank = {"red": 3, "no_data": 2, "yellow": 1, "green": 0}[level]
    return RiskScore.objects.create(
        placement=placement, municipality=placement.municipality, consultant=placement.consultant, as_of=as_of,
        computed_at=at(as_of, 3), config_version="test", level=level, level_rank=rank, strain_level="low",
        data_sufficient=level != "no_data", coverage=1.0, trend_direction="flat", latest=latest,
    )


@pytest.fixture
def dashboard(world):
    """The hand-made municipality the exact figures below are worked out from."""
    supervisor = world.provider  # 1200 min/week, supervision, Monday to Friday (no availability rows)
    need = assign(add_need(world, starts_on=dt.date(2026, 10, 1)), supervisor)  # 120 min every 2 weeks: 60/week
    sessions = series_for(need, supervisor)
    occurrence(sessions, at(dt.date(2026, 11, 5), 10), at(dt.date(2026, 11, 5), 12))  # week 0: 120
    occurrence(sessions, at(dt.date(2026, 11, 12), 10), at(dt.date(2026, 11, 12), 13), OccurrenceStatus.MOVED)  # wk1: 180
    occurrence(sessions, at(dt.date(2026, 11, 13), 10), at(dt.date(2026, 11, 13), 12), OccurrenceStatus.CANCELLED)
    occurrence(sessions, at(dt.date(2026, 10, 29), 10), at(dt.date(2026, 10, 29), 12))  # before the first week
    declined = series_for(need, supervisor, status=SeriesStatus.DECLINED)
    occurrence(declined, at(dt.date(2026, 11, 19), 10), at(dt.date(2026, 11, 19), 12))  # not held: not booked
    meeting(world, supervisor, at(dt.date(2026, 11, 3), 9), 60)  # week 0: +60
    # Absent Monday and Tuesday of week 1: 3 of 5 working days left, 1200 * 3 // 5 = 720.
    ProviderAbsence.objects.create(provider=supervisor, starts_at=at(dt.date(2026, 11, 9), 0),
                                   ends_at=at(dt.date(2026, 11, 11), 0))

    respite_home = make_household(world.aarhus, "Aflastning Fiktiv", kind="respite", city="Skejby")
    respite = add_provider(world, "Aflastningsfamilie Fiktiv", services_=("respite",), competences=("adhd",))
    Provider.objects.filter(pk=respite.pk).update(capacity_minutes_per_week=3000, household=respite_home)
    respite.refresh_from_db()
    # Works Fridays to Sundays only: a Friday absence removes a third of the week.
    for day in ("fri", "sat", "sun"):
        WeeklyAvailability.objects.create(provider=respite, day=day, start_minute=0, end_minute=1440)
    weekend_need = assign(add_need(world, service="respite", minutes_per_session=2880, sessions_per_week="0.25"), respite)
    weekend = series_for(weekend_need, respite, kind=SeriesKind.RESPITE, minutes=3000)
    occurrence(weekend, at(dt.date(2026, 11, 6), 16), at(dt.date(2026, 11, 8), 18))  # week 0: counts 2880, not 3000
    ProviderAbsence.objects.create(provider=respite, starts_at=at(dt.date(2026, 11, 20), 0),
                                   ends_at=at(dt.date(2026, 11, 21), 0))  # week 2: 3000 * 2 // 3 = 2000

    small = add_provider(world, "Psykolog Fiktiv", services_=("supervision",), competences=("adhd",))
    Provider.objects.filter(pk=small.pk).update(capacity_minutes_per_week=100)
    meeting(world, small, at(dt.date(2026, 11, 17), 9), 120)  # week 2: 120 of 100: over

    odense_provider = Provider.objects.create(
        name="Odense Supervisor (fiktiv)", latitude=55.4, longitude=10.39, capacity_minutes_per_week=60, max_cases=2,
        languages=["da"],
    )
    odense_provider.services.add(Service.objects.get(code="supervision"))
    odense_provider.municipalities.add(world.odense)
    return {"supervisor": supervisor, "respite": respite, "small": small, "odense_provider": odense_provider,
            "need": need, "weekend_need": weekend_need}


def report_for(world, user=None, **filters):
    return capacity_report(user=user or world.team_lead, municipality=world.aarhus, filters=Filters(**filters),
                           today=TODAY, now=NOW)


# --- The computations --------------------------------------------------------------------------------------------


def test_weeks_start_on_this_weeks_monday():
    weeks = week_starts(TODAY)
    assert len(weeks) == 12
    assert weeks[0] == dt.date(2026, 11, 2) and weeks[-1] == dt.date(2027, 1, 18)


def test_weekly_capacity_is_lowered_by_absent_working_days_only():
    monday = dt.date(2026, 11, 9)
    absent = {monday, monday + dt.timedelta(days=1), monday + dt.timedelta(days=5)}  # Mon, Tue and Saturday
    assert weekly_capacity(capacity_per_week=1200, working_days=frozenset(), absent_days=absent, monday=monday) == 720
    assert weekly_capacity(capacity_per_week=1200, working_days=frozenset({5, 6}), absent_days=absent,
                           monday=monday) == 600
    assert weekly_capacity(capacity_per_week=1200, working_days=frozenset(), absent_days=set(), monday=monday) == 1200


def test_cell_bands_at_the_edges():
    assert Cell(1019, 1200).band == "medium" and Cell(1019, 1200).percent == 85  # 84.9 % is not near
    assert Cell(1020, 1200).band == "near"
    assert Cell(1200, 1200).band == "near"
    assert Cell(1201, 1200).band == "over"
    assert Cell(0, 0).band == "none" and Cell(0, 0).percent is None
    assert Cell(30, 0).band == "over"  # booked in a week with no capacity at all


def test_provider_weeks_count_held_sessions_meetings_and_respite_weekends(world, dashboard):
    report = report_for(world)
    by_id = {p.id: p for p in report.providers}
    assert set(by_id) == {dashboard["supervisor"].pk, dashboard["respite"].pk, dashboard["small"].pk}

    supervisor = by_id[dashboard["supervisor"].pk]
    assert supervisor.cells[0] == Cell(180, 1200)  # 120-minute session + 60-minute meeting
    assert supervisor.cells[1] == Cell(180, 720)  # the moved session; the cancelled one is not booked; absent Mon-Tue
    assert supervisor.cells[2] == Cell(0, 1200)  # the declined proposal holds no time
    assert all(c == Cell(0, 1200) for c in supervisor.cells[3:])
    assert supervisor.committed_minutes == 60 and supervisor.cases == 1 and supervisor.status == ""

    respite = by_id[dashboard["respite"].pk]
    assert respite.cells[0] == Cell(2880, 3000)  # the weekend counts its need's minutes: 96 %
    assert respite.cells[2] == Cell(0, 2000)
    assert respite.cells[0].percent == 96 and respite.status == "near"

    small = by_id[dashboard["small"].pk]
    assert small.cells[2] == Cell(120, 100) and small.status == "over"
    assert [p.id for p in report.near_or_over] == [dashboard["small"].pk, dashboard["respite"].pk]
    peak_week, peak = small.peak
    assert peak_week == 2 and peak.percent == 120


def test_service_and_competence_rows_pool_their_providers(world, dashboard):
    report = report_for(world)
    services = {r.key: r for r in report.by_service}
    assert set(services) == {"supervision", "respite"}
    supervision = services["supervision"]
    assert supervision.providers == 2
    assert supervision.cells[0] == Cell(180, 1300)
    assert supervision.cells[1] == Cell(180, 820)
    assert supervision.cells[2] == Cell(120, 1300)
    assert services["respite"].cells[0] == Cell(2880, 3000)
    competences = {r.key: r for r in report.by_competence}
    assert set(competences) == {"adhd"}
    assert competences["adhd"].providers == 2
    assert competences["adhd"].cells[0] == Cell(2880, 3100)
    assert competences["adhd"].cells[2] == Cell(120, 2100)


def test_bookings_in_another_municipality_count_against_shared_capacity(world, dashboard):
    supervisor = dashboard["supervisor"]
    supervisor.municipalities.add(world.odense)
    odense_need = SupportNeed.objects.create(
        municipality=world.odense, placement=world.odense_placement, recipient="foster_household",
        recipient_household=world.odense_foster_home, service=Service.objects.get(code="supervision"),
        minutes_per_session=90, sessions_per_week=1, starts_on=TODAY, current_provider=supervisor,
        status=NeedStatus.ASSIGNED,
    )
    occurrence(series_for(odense_need, supervisor), at(dt.date(2026, 11, 24), 9), at(dt.date(2026, 11, 24), 10, 30))
    figures = {p.id: p for p in report_for(world).providers}[supervisor.pk]
    assert figures.cells[3] == Cell(90, 1200)
    assert figures.committed_minutes == 150 and figures.cases == 2


def test_carer_ledger_matches_the_milestone_rules(world):
    refresh_milestones(today=TODAY, now=NOW, placement_ids=[], household_ids=[world.foster_home.pk])
    for on, kind, amount in [
        (dt.date(2026, 2, 10), CarerSupportKind.SUPERVISION, 1), (dt.date(2026, 4, 15), CarerSupportKind.SUPERVISION, 1),
        (dt.date(2026, 3, 1), CarerSupportKind.COURSE_DAY, Decimal("1.5")),
        (dt.date(2025, 12, 1), CarerSupportKind.COURSE_DAY, 1),  # last year's: not this year's ledger
    ]:
        CarerSupportDelivery.objects.create(municipality=world.aarhus, household=world.foster_home, kind=kind, on=on,
                                            amount=amount)
    refresh_milestones(today=TODAY, now=NOW, placement_ids=[], household_ids=[world.foster_home.pk])

    rows = {r.household_id: r for r in report_for(world).ledger}
    assert set(rows) == {world.foster_home.pk}  # the other foster family has no placement this year
    row = rows[world.foster_home.pk]
    # Placement from 1 March 2025 (almen): 2026 still holds two months of its first year, so
    # 3 course days, and supervision 59/365 * 12 + 306/365 * 4 = 5.29 -> 6 sessions, due
    # 2 Mar, 2 May, 2 Jul, 1 Sep, 1 Nov and 31 Dec: 5 by 4 November, 2 delivered, 3 overdue.
    assert (row.course_days_owed, row.course_days_delivered) == (Decimal(3), Decimal("1.5"))
    assert (row.supervision_owed, row.supervision_due_so_far, row.supervision_delivered, row.supervision_overdue) == (
        6, 5, Decimal(2), 3)
    by_kind = {line.kind: line for line in carer_support_ledger(household=world.foster_home, year=2026, today=TODAY)}
    assert by_kind["course_day"].owed == row.course_days_owed
    assert by_kind["course_day"].delivered == row.course_days_delivered
    assert by_kind["supervision"].owed == row.supervision_owed
    assert by_kind["supervision"].delivered == row.supervision_delivered
    assert by_kind["supervision"].overdue_sessions == row.supervision_overdue


def test_waiting_needs_with_waiting_time_and_the_latest_runs_reasons(world):
    unmatched = add_need(world, service="home_guidance", recipient="birth_household",
                         recipient_household=world.birth_home, starts_on=dt.date(2026, 10, 1), priority=4)
    later_start = add_need(world, starts_on=dt.date(2026, 11, 20))
    proposed_later = add_need(world, service="family_therapy", starts_on=dt.date(2026, 9, 1))
    SupportNeed.objects.filter(pk__in=[unmatched.pk, proposed_later.pk]).update(created_at=at(dt.date(2026, 9, 20), 9))
    odense_need = SupportNeed.objects.create(
        municipality=world.odense, placement=world.odense_placement, recipient="foster_household",
        recipient_household=world.odense_foster_home, service=Service.objects.get(code="supervision"),
        minutes_per_session=60, sessions_per_week=1, starts_on=dt.date(2026, 1, 1),
    )
    first = MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.DONE)
    second = MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.DONE)
    UnmatchedNeed.objects.create(run=first, need=unmatched, reasons=["an old reason"])
    UnmatchedNeed.objects.create(run=second, need=unmatched, reasons=["no provider offers home_guidance"])
    UnmatchedNeed.objects.create(run=first, need=proposed_later, reasons=["stale: a later run proposed someone"])
    Proposal.objects.create(run=second, need=proposed_later, provider=world.provider, score=10,
                            status="rejected", decision_reason="Not this one")

    waiting = {w.need_id: w for w in report_for(world).waiting}
    assert odense_need.pk not in waiting
    assert set(waiting) == {unmatched.pk, later_start.pk, proposed_later.pk}
    assert waiting[unmatched.pk].waiting_since == dt.date(2026, 10, 1)  # meant to start after it was raised
    assert waiting[unmatched.pk].waiting_days == 34
    assert waiting[unmatched.pk].reasons == ("no provider offers home_guidance",)
    assert waiting[unmatched.pk].reasons_run_id == second.pk
    assert waiting[proposed_later.pk].waiting_since == dt.date(2026, 9, 20)
    assert waiting[proposed_later.pk].waiting_days == 45 and waiting[proposed_later.pk].reasons == ()
    assert waiting[later_start.pk].waiting_days == 0  # starts later: not waiting yet
    assert [w.need_id for w in report_for(world).waiting][:2] == [proposed_later.pk, unmatched.pk]


def test_risk_distribution_now_and_a_month_ago(world):
    score(world.placement, "green", dt.date(2026, 9, 28), latest=False)
    score(world.placement, "yellow", dt.date(2026, 10, 20), latest=False)
    score(world.placement, "red", dt.date(2026, 11, 2), latest=True)
    second_child = Child.objects.create(municipality=world.aarhus, display_name="Demo-barn B.",
                                        birth_date=dt.date(2015, 2, 2))
    for _ in range(2):  # two never scored, alike in every figure: both count
        Placement.objects.create(municipality=world.aarhus, child=second_child,
                                 foster_household=world.other_foster_home, starts_on=dt.date(2026, 1, 5))
    third_child = Child.objects.create(municipality=world.aarhus, display_name="Demo-barn C.",
                                       birth_date=dt.date(2013, 3, 3))
    ended = Placement.objects.create(municipality=world.aarhus, child=third_child, foster_household=world.foster_home,
                                     starts_on=dt.date(2025, 1, 5), status="ended", ended_on=dt.date(2026, 10, 15))
    score(ended, "yellow", dt.date(2026, 10, 1), latest=True)  # active a month ago, not now
    newcomer = Child.objects.create(municipality=world.aarhus, display_name="Demo-barn D.",
                                    birth_date=dt.date(2016, 4, 4))
    new = Placement.objects.create(municipality=world.aarhus, child=newcomer, foster_household=world.other_foster_home,
                                   starts_on=dt.date(2026, 10, 20))
    score(new, "green", dt.date(2026, 11, 1), latest=True)
    score(world.odense_placement, "red", dt.date(2026, 11, 1), latest=True)

    risk = report_for(world).risk
    assert risk.compared_with == dt.date(2026, 10, 4)
    assert risk.now == {"green": 1, "yellow": 0, "red": 1, "no_data": 2}
    assert risk.month_ago == {"green": 1, "yellow": 1, "red": 0, "no_data": 2}
    assert risk.change == {"green": 0, "yellow": -1, "red": 1, "no_data": 0}


def test_override_rates_per_consultant_and_for_the_team(world):
    red = score(world.placement, "red", dt.date(2026, 11, 2), latest=True)
    older = score(world.placement, "yellow", dt.date(2026, 10, 2), latest=False)
    colleague = make_user("kollega")
    Membership.objects.create(user=colleague, role=Role.CONSULTANT, municipality=world.aarhus)
    ScoreAssessment.objects.create(score=red, placement=world.placement, municipality=world.aarhus,
                                   assessed_by=world.consultant, decision="agree",
                                   created_at=NOW - dt.timedelta(hours=1))
    ScoreAssessment.objects.create(score=older, placement=world.placement, municipality=world.aarhus,
                                   assessed_by=world.consultant, decision="override", assessed_level="green",
                                   reason="Known context", created_at=NOW - dt.timedelta(days=30))
    ScoreAssessment.objects.create(score=red, placement=world.placement, municipality=world.aarhus,
                                   assessed_by=colleague, decision="override", assessed_level="yellow",
                                   reason="Context", created_at=NOW - dt.timedelta(days=10))
    ScoreAssessment.objects.create(score=older, placement=world.placement, municipality=world.aarhus,
                                   assessed_by=colleague, decision="agree",
                                   created_at=NOW - dt.timedelta(days=120))  # outside the 90 days

    lines = {line.label: line.figures for line in report_for(world).overrides}
    assert (lines["konsulent"].assessed, lines["konsulent"].agreed, lines["konsulent"].overridden) == (2, 1, 1)
    assert lines["konsulent"].override_rate == 0.5
    assert (lines["kollega"].assessed, lines["kollega"].overridden) == (1, 1)
    assert (lines[""].assessed, lines[""].overridden) == (3, 2)
    team_lines = {line.label: line.figures for line in report_for(world, team_id=world.team.pk).overrides}
    assert set(team_lines) == {"konsulent", ""}  # the colleague is in no team
    assert team_lines[""].assessed == 2 and team_lines[""].override_rate == 0.5


# --- Who may see it ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["team_lead", "consultant"])
def test_staff_of_the_municipality_see_the_dashboard_in_danish(client_for, world, dashboard, who):
    response = client_for(getattr(world, who)).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="da">' in page
    text = text_of(response)
    assert "Kapacitet og ventende støtte" in text
    assert "Udbydere nær eller over kapaciteten" in text
    assert "nær: 85-100 %" in text and "over: mere end 100 %" in text  # "%" in {% translate %} msgids
    assert "Aflastningsfamilie Fiktiv" in text and "Psykolog Fiktiv" in text
    assert "Odense Supervisor" not in text
    assert "Demo-barn" not in text  # figures, not children
    assert response["Cache-Control"].startswith("max-age=0")


def test_english_when_asked_for(client_for, world, dashboard):
    text = text_of(client_for(world.team_lead).get(URL, HTTP_ACCEPT_LANGUAGE="en"))
    assert "Capacity and waiting support" in text and "near: 85-100 %" in text
    assert "Respite care" in text  # service names in the active language


@pytest.mark.parametrize("who", ["foster_parent", "birth_parent", "provider_user", "administrator", "outsider"])
@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_families_providers_administrators_and_outsiders_get_404(client_for, world, dashboard, who, url):
    assert client_for(getattr(world, who)).get(url).status_code == 404
    assert not AuditEntry.objects.filter(action="capacity.export").exists()


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_anonymous_visitor_is_sent_to_login(client, world, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_another_municipalitys_consultant_sees_only_their_own(client_for, world, dashboard):
    client = client_for(world.other_consultant)
    text = text_of(client.get(URL))
    assert "Odense Supervisor" in text
    assert "Supervisor Mette" not in text and "Aflastningsfamilie" not in text
    asked_for_aarhus = client.get(URL, {"municipality": world.aarhus.pk})
    assert asked_for_aarhus.status_code == 400
    assert "Aflastningsfamilie" not in text_of(asked_for_aarhus)
    assert client.get(CSV_URL, {"municipality": world.aarhus.pk}).status_code == 400


def test_the_report_refuses_a_municipality_outside_the_users_scope(world):
    from support.errors import NotFoundInScope

    with pytest.raises(NotFoundInScope):
        report_for(world, user=world.other_consultant)


def test_the_page_meets_the_markup_rules(client_for, world, dashboard):
    audit = PageAudit()
    audit.feed(client_for(world.team_lead).get(URL).content.decode())
    assert audit.problems == []
    unlabelled = [name for name, how in audit.controls if how is None and name not in audit.labels_for]
    assert unlabelled == []


def test_the_workspace_links_to_the_dashboard(client_for, world):
    assert 'href="/workspace/capacity/"' in client_for(world.team_lead).get("/workspace/").content.decode()


# --- Filters ---------------------------------------------------------------------------------------------------------


def test_service_filter_narrows_providers_and_waiting_needs(client_for, world, dashboard):
    add_need(world, service="home_guidance", recipient="birth_household", recipient_household=world.birth_home)
    respite = Service.objects.get(code="respite")
    report = report_for(world, service_id=respite.pk)
    assert [p.id for p in report.providers] == [dashboard["respite"].pk]
    assert [r.key for r in report.by_service] == ["respite"]
    assert report.waiting == []
    text = text_of(client_for(world.team_lead).get(URL, {"service": respite.pk}))
    assert "Aflastningsfamilie Fiktiv" in text and "Psykolog Fiktiv" not in text


def test_competence_filter_narrows_providers_and_needs(world, dashboard):
    adhd = Competence.objects.get(code="adhd")
    wanted = add_need(world, required_competences=["adhd"])
    add_need(world)
    Provider.objects.get(pk=dashboard["small"].pk).competences.add(Competence.objects.get(code="trauma"))
    report = report_for(world, competence_id=adhd.pk)
    assert {p.id for p in report.providers} == {dashboard["respite"].pk, dashboard["small"].pk}
    assert [r.key for r in report.by_competence] == ["adhd"]  # not a partial pool of trauma
    assert {r.key for r in report.by_service} == {"respite", "supervision"}
    assert [w.need_id for w in report.waiting] == [wanted.pk]


def test_team_filter_narrows_case_figures_to_the_teams_consultants(world, dashboard):
    other_team = Team.objects.create(municipality=world.aarhus, name="Familieplejen Syd")
    colleague = make_user("syd_konsulent")
    Membership.objects.create(user=colleague, role=Role.CONSULTANT, municipality=world.aarhus, team=other_team)
    child = Child.objects.create(municipality=world.aarhus, display_name="Demo-barn S.", birth_date=dt.date(2015, 1, 1))
    south = Placement.objects.create(municipality=world.aarhus, child=child, foster_household=world.other_foster_home,
                                     consultant=colleague, starts_on=dt.date(2026, 1, 5))
    ours = add_need(world)
    theirs = add_need(world, placement=south)
    north = report_for(world, team_id=world.team.pk)
    assert [w.need_id for w in north.waiting] == [ours.pk]
    assert north.risk.total_now == 1
    assert [w.need_id for w in report_for(world, team_id=other_team.pk).waiting] == [theirs.pk]
    assert len(north.providers) == 3  # capacity is shared: the team filter does not narrow it


def test_area_filter_narrows_households_and_providers_out_of_reach(world, dashboard):
    Household.objects.filter(pk=world.foster_home.pk).update(city="Aarhus C", latitude=56.15, longitude=10.20)
    Household.objects.filter(pk=world.other_foster_home.pk).update(city="Skagen", latitude=57.72, longitude=10.58)
    here = add_need(world)
    report = report_for(world, area="Aarhus C")
    assert [w.need_id for w in report.waiting] == [here.pk]
    assert report.risk.total_now == 1
    far = report_for(world, area="Skagen")  # 175 km north: nobody travels that far, nobody works remotely
    assert far.providers == [] and far.waiting == []
    Provider.objects.filter(pk=dashboard["small"].pk).update(offers_remote=True)
    assert [p.id for p in report_for(world, area="Skagen").providers] == [dashboard["small"].pk]
    assert set(report.areas) == {"Aarhus C", "Skagen", "Skejby"}


def test_bad_filters_get_400_with_the_field_named(client_for, world, dashboard):
    odense_team = Team.objects.create(municipality=world.odense, name="Odense team")
    client = client_for(world.team_lead)
    for params, field in [({"team": odense_team.pk}, "team"), ({"service": "999999"}, "service"),
                          ({"area": "Atlantis"}, "area"), ({"competence": "x"}, "competence")]:
        response = client.get(URL, params)
        assert response.status_code == 400, params
        assert response.context["form"].errors.keys() == {field}
        assert "Aflastningsfamilie" not in text_of(response)


# --- CSV -----------------------------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_csv_export_holds_the_figures_and_is_audited(client_for, world, dashboard):
    add_need(world, service="home_guidance", recipient="birth_household", recipient_household=world.birth_home,
             reason="Fri tekst om barnet")
    score(world.placement, "red", dt.date(2026, 11, 2), latest=True)
    response = client_for(world.team_lead).get(CSV_URL, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="kapacitet-751-2026-11-04.csv"'
    assert "no-store" in response["Cache-Control"]
    rows = read_csv(response)
    assert list(rows[0]) == ["section", "subject_type", "subject_id", "subject", "period", "measure", "value"]

    def value(section, subject_id, period, measure):
        found = [r["value"] for r in rows if (r["section"], r["subject_id"], r["period"], r["measure"])
                 == (section, str(subject_id), period, measure)]
        assert len(found) == 1, (section, subject_id, period, measure)
        return found[0]

    sup = dashboard["supervisor"].pk
    assert value("provider_week", sup, "2026-11-09", "booked_minutes") == "180"
    assert value("provider_week", sup, "2026-11-09", "capacity_minutes") == "720"
    assert value("provider_week", sup, "2026-11-09", "utilisation_percent") == "25"
    assert value("service_week", "supervision", "2026-11-16", "booked_minutes") == "120"
    assert value("near_or_over_capacity", dashboard["small"].pk, "", "status") == "over"
    assert value("risk_distribution", "red", "2026-10-04/2026-11-04", "placements_now") == "1"
    waiting = [r for r in rows if r["section"] == "waiting_need" and r["measure"] == "waiting_days"]
    assert len(waiting) == 1 and waiting[0]["subject"] == "Hjemmevejledning"
    body = response.content.decode()
    assert "Demo-barn" not in body and "Fri tekst" not in body

    entry = AuditEntry.objects.get(action="capacity.export")
    assert entry.actor == world.team_lead and entry.municipality == world.aarhus and entry.ip == "10.9.8.7"
    assert entry.details == {"team": None, "service": None, "competence": None, "area": None, "rows": len(rows)}


def test_csv_export_honours_the_filters(client_for, world, dashboard):
    respite = Service.objects.get(code="respite")
    response = client_for(world.team_lead).get(CSV_URL, {"service": respite.pk})
    providers = {r["subject_id"] for r in read_csv(response) if r["section"] == "provider_week"}
    assert providers == {str(dashboard["respite"].pk)}
    assert AuditEntry.objects.get(action="capacity.export").details["service"] == respite.pk


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client_for, world, dashboard):
    Provider.objects.filter(pk=dashboard["small"].pk).update(name="=HYPERLINK(\"http://x\")")
    rows = read_csv(client_for(world.team_lead).get(CSV_URL))
    names = {r["subject"] for r in rows if r["section"] == "provider_week"}
    assert "'=HYPERLINK(\"http://x\")" in names
    assert _cell_value(-1) == "-1" and _cell_value("-1.5") == "-1.5"  # numbers stay numbers
    assert _cell_value("@SUM(A1)") == "'@SUM(A1)" and _cell_value("+x") == "'+x"


def test_page_links_to_the_export_with_the_same_filters(client_for, world, dashboard):
    respite = Service.objects.get(code="respite")
    page = client_for(world.team_lead).get(URL, {"service": respite.pk, "area": ""}).content.decode()
    assert f'href="/workspace/capacity/export.csv?service={respite.pk}&amp;area="' in page


# --- Query count -------------------------------------------------------------------------------------------------------


def grow(world, n: int) -> None:
    """n more providers, each with a foster family, a placement, a need, sessions, a meeting and ledger rows."""
    for i in range(n):
        provider = add_provider(world, f"Udbyder {i} (fiktiv)", competences=("adhd", "trauma"))
        WeeklyAvailability.objects.create(provider=provider, day="mon", start_minute=480, end_minute=960)
        ProviderAbsence.objects.create(provider=provider, starts_at=at(dt.date(2026, 11, 16), 0),
                                       ends_at=at(dt.date(2026, 11, 17), 0))
        home = make_household(world.aarhus, f"Familie {i} (fiktiv)", city=f"By {i}")
        child = Child.objects.create(municipality=world.aarhus, display_name=f"Barn {i}", birth_date=dt.date(2015, 1, 1))
        placement = Placement.objects.create(municipality=world.aarhus, child=child, foster_household=home,
                                             consultant=world.consultant, starts_on=dt.date(2025, 6, 1))
        need = assign(add_need(world, placement=placement, recipient_household=home), provider)
        series = series_for(need, provider)
        for week in range(12):
            day = dt.date(2026, 11, 2) + dt.timedelta(weeks=week)
            occurrence(series, at(day, 9), at(day, 10))
        meeting(world, provider, at(dt.date(2026, 11, 10), 13), 45)
        score(placement, "yellow", dt.date(2026, 11, 1), latest=True)
        waiting = add_need(world, placement=placement, recipient_household=home, service="respite")
        run = MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.DONE)
        UnmatchedNeed.objects.create(run=run, need=waiting, reasons=["full"])
        CarerSupportDelivery.objects.create(municipality=world.aarhus, household=home, kind="supervision",
                                            on=dt.date(2026, 8, 1))
    refresh_milestones(today=TODAY, now=NOW)


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_query_count_does_not_grow_with_providers_weeks_or_needs(client_for, world, dashboard, url):
    client = client_for(world.team_lead)
    grow(world, 1)
    filters = {"team": world.team.pk, "competence": Competence.objects.get(code="adhd").pk, "area": "By 0"}
    client.get(url)  # warm the session and the per-user scope
    small = count_queries(client, url)
    small_filtered = count_queries(client, url, filters)
    grow(world, 6)
    assert count_queries(client, url) == small
    assert count_queries(client, url, filters) == small_filtered
    assert small <= 40
