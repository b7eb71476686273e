# ruff: noqa: F811  (the `wb` fixture is imported from tests/api/wellbeing_world.py)
"""The well-being API end to end: the help-now path, scores that are never a probability, goals with
progress, decisions that cannot be taken twice (409), field errors (400), filters, and list endpoints
whose query count does not grow with the rows."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support.models import (
    Alert,
    AlertSupportNeed,
    CheckIn,
    ChildView,
    EmailState,
    Goal,
    GoalMeasurement,
    Incident,
    Milestone,
    PlacementStatus,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqScore,
)
from support.wellbeing.scoring import recompute_placements
from tests.api.wellbeing_world import NOW, SECRET, TODAY, frozen, rows, wb  # noqa: F401  (fixtures)
from tests.wellbeing.conftest import new_placement


def url(endpoint: str, pk=None) -> str:
    return reverse(f"api:{endpoint}-list") if pk is None else reverse(f"api:{endpoint}-detail", args=[pk])


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


# --- The help-now path ---------------------------------------------------------------------------------------


def test_help_now_through_the_api_alerts_and_emails_the_consultant_at_once(
    world, client_for, frozen, django_capture_on_commit_callbacks
):
    world.consultant.email = "konsulent@aarhus.invalid"
    world.consultant.save()
    body = {"placement": world.placement.pk, "on": TODAY.isoformat(), "stress": 9, "help_now": True,
            "free_text": SECRET}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.foster_parent).post(url("checkin"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["free_text"] == SECRET  # the writer reads their own words

    alert = Alert.objects.get(kind="help_now")
    assert (alert.recipient, alert.checkin_id, alert.email_state) == (world.consultant, response.json()["id"],
                                                                      EmailState.SENT)
    [message] = mail.outbox
    assert message.to == ["konsulent@aarhus.invalid"]
    assert SECRET not in message.subject + message.body
    assert world.child.display_name not in message.subject + message.body

    listed = client_for(world.consultant).get(url("alert"), {"kind": "help_now", "status": "open"}).json()
    assert [row["id"] for row in listed["results"]] == [alert.pk]
    assert listed["results"][0]["checkin"] == response.json()["id"]
    assert client_for(world.foster_parent).get(url("alert")).json()["count"] == 0


# --- Scores ---------------------------------------------------------------------------------------------------


def test_a_score_shows_levels_drivers_and_the_model_version_never_a_probability(wb, client_for):
    client = client_for(wb.w.consultant)
    response = client.get(url("risk-score"), {"latest": "true", "placement": wb.placements["own"].pk})
    [score] = response.json()["results"]
    stored = RiskScore.objects.get(placement=wb.placements["own"], latest=True)
    assert (score["id"], score["level"], score["model_version"]) == (stored.pk, stored.level, stored.config_version)
    assert score["trend"]["direction"] in {"rising", "falling", "steady", "unknown"}
    driver = score["drivers"][0]
    assert set(driver) >= {"code", "label", "status", "normalised_value", "weight", "effective_weight",
                           "contribution", "evidence"}
    assert sum(d["contribution"] for d in score["drivers"]) == pytest.approx(stored.index, abs=0.2)
    assert "probab" not in response.content.decode().lower()


def test_a_placement_without_recent_reports_shows_no_data_not_green(world, client_for, frozen):
    quiet = new_placement(world, starts_on=dt.date(2024, 1, 8))
    recompute_placements(placement_ids=[quiet.pk], now=NOW)
    response = client_for(world.consultant).get(url("risk-score"), {"placement": quiet.pk})
    [score] = response.json()["results"]
    assert score["level"] == "no_data"
    assert client_for(world.consultant).get(url("risk-score"), {"level": "green", "placement": quiet.pk}).json()[
        "count"] == 0


def test_history_and_latest_filters(wb, client_for):
    client = client_for(wb.w.consultant)
    own = wb.placements["own"].pk
    history = client.get(url("risk-score"), {"placement": own}).json()
    assert history["count"] == 2
    assert [r["latest"] for r in sorted(history["results"], key=lambda r: r["id"])] == [False, True]
    current = client.get(url("risk-score"), {"latest": "true"}).json()
    assert sorted(r["placement"] for r in current["results"]) == sorted([own, wb.placements["other_household"].pk])


# --- Assessments, alerts, support needs, milestones, goals: decided twice -> 409 -------------------------------


def test_agree_or_override_once_per_person(wb, client_for):
    client = client_for(wb.w.consultant)
    score = RiskScore.objects.get(placement=wb.placements["own"], latest=True)
    other = next(level for level in ("green", "yellow", "red") if level != score.level)
    errors = fields_of(client.post(url("score-assessment"), {"score": score.pk, "decision": "override"}, format="json"))
    assert {"reason", "assessed_level"} <= set(errors)
    body = {"score": score.pk, "decision": "override", "reason": "Familien har fået aflastning (fiktiv)",
            "assessed_level": other}
    response = client.post(url("score-assessment"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["assessed_level"] == other
    again = client.post(url("score-assessment"), {"score": score.pk, "decision": "agree"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert ScoreAssessment.objects.filter(score=score).count() == 1


def test_acknowledge_once_with_outcome_and_note(wb, client_for):
    client = client_for(wb.w.consultant)
    alert = Alert.objects.filter(placement=wb.placements["own"], kind="help_now").get()
    path = reverse("api:alert-acknowledge", args=[alert.pk])
    assert "acknowledgement_note" in fields_of(client.post(path, {"outcome": "other"}, format="json"))
    assert "outcome" in fields_of(client.post(path, {"outcome": "shrug"}, format="json"))
    response = client.post(path, {"outcome": "contacted_family", "note": "Ringet op (fiktiv)"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["outcome"]) == ("acknowledged", "contacted_family")
    assert response.json()["acknowledgement_note"] == "Ringet op (fiktiv)"
    again = client.post(path, {"outcome": "contacted_family"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_a_recommendation_becomes_one_support_need_once(wb, client_for):
    client = client_for(wb.w.consultant)
    alert = Alert.objects.filter(placement=wb.placements["own"], kind="level_rise").get()
    rec = next(r for r in alert.recommendations if r["service"] != "meeting")
    path = reverse("api:alert-create-support-need", args=[alert.pk])
    body = {"recommendation_code": rec["code"], "minutes_per_session": 120, "sessions_per_week": "0.5",
            "starts_on": "2026-11-16"}
    assert "recommendation_code" in fields_of(client.post(path, {**body, "recommendation_code": "nope"}, format="json"))
    response = client.post(path, body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["service"], response.json()["origin"]) == (rec["service"], "alert")
    link = AlertSupportNeed.objects.get(alert=alert)
    assert link.need_id == response.json()["id"]
    detail = client.get(url("alert", alert.pk)).json()
    assert detail["support_needs"] == [{"recommendation_code": rec["code"], "need": link.need_id}]
    assert client.post(path, body, format="json").status_code == 409


def test_a_milestone_is_marked_done_once(wb, client_for):
    client = client_for(wb.w.consultant)
    milestone = rows(wb, "milestone", "own").get(rule_code="child_plan")
    path = reverse("api:milestone-done", args=[milestone.pk])
    response = client.post(path, {"note": "Planen er sendt (fiktiv)"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["note"]) == ("done", "Planen er sendt (fiktiv)")
    assert client.post(path, {}, format="json").status_code == 409
    # The team lead follows the deadline but not the consultant's note.
    assert client_for(wb.w.team_lead).get(url("milestone", milestone.pk)).json()["note"] is None


def test_the_first_follow_up_needs_a_justified_cadence(wb, client_for):
    milestone = rows(wb, "milestone", "own").get(rule_code="follow_up", sequence=1)
    path = reverse("api:milestone-done", args=[milestone.pk])
    client = client_for(wb.w.consultant)
    assert "cadence_months" in fields_of(client.post(path, {}, format="json"))
    assert "cadence_months" in fields_of(client.post(path, {"cadence_months": 99}, format="json"))
    body = {"cadence_months": 4, "cadence_justification": "Stabil anbringelse (fiktiv)"}
    assert client.post(path, body, format="json").status_code == 200


def test_goal_progress_comes_from_the_signals_and_a_goal_closes_once(wb, client_for):
    client = client_for(wb.w.consultant)
    goal = rows(wb, "goal", "own").get()
    progress = client.get(url("goal", goal.pk)).json()["progress"]
    # custom goal: baseline 10, target 2, measured 6 -> half way
    assert progress == {"current": 6.0, "measured_on": "2026-10-30", "progress": 0.5, "state": "improving",
                        "review_due": False}
    body = {"placement": wb.placements["own"].pk, "title": "Skolegang (fiktiv)", "indicator": "absence_pct",
            "baseline": "20", "target": "10", "direction": "decrease", "review_on": "2027-06-01"}
    created = client.post(url("goal"), body, format="json")
    assert created.status_code == 201, created.content
    # absence 12.5 % in October: from 20 towards 10
    assert created.json()["progress"]["state"] == "improving"
    assert "target" in fields_of(client.post(url("goal"), {**body, "target": "30"}, format="json"))
    assert "review_on" in fields_of(client.post(url("goal"), {**body, "review_on": "2026-01-01"}, format="json"))
    path = reverse("api:goal-close", args=[goal.pk])
    assert client.post(path, {"status": "achieved"}, format="json").json()["status"] == "achieved"
    assert client.post(path, {"status": "closed"}, format="json").status_code == 409
    assert "goal" in fields_of(client.post(url("goal-measurement"), {"goal": created.json()["id"], "on": "2026-11-01",
                                                                      "value": "3"}, format="json"))


# --- Field errors, never a 500 --------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"stress": 11}, "stress"),
    ({"stress": "very"}, "stress"),
    ({"stress": 2**70}, "stress"),
    ({"sleep": 0}, "sleep"),
    ({"on": "2026-12-24"}, "on"),  # the future
    ({"on": "2020-01-01"}, "on"),  # before the placement started
    ({"on": "yesterday"}, "on"),
    ({"placement": 2**70}, "placement"),
    ({"placement": "x"}, "placement"),
    ({"household": 1}, "household"),  # not an input
])
def test_a_bad_check_in_answers_400_naming_the_field(wb, client_for, change, field):
    body = {"placement": wb.placements["own"].pk, "on": "2026-11-01", "stress": 3, **change}
    before = CheckIn.objects.count()
    assert field in fields_of(client_for(wb.w.foster_parent).post(url("checkin"), body, format="json"))
    assert CheckIn.objects.count() == before


def test_signals_for_an_ended_placement_answer_409(wb, client_for):
    placement = wb.placements["other_household"]
    placement.status = PlacementStatus.ENDED
    placement.ended_on = dt.date(2026, 10, 1)
    placement.save()
    body = {"placement": placement.pk, "on": "2026-11-01", "kind": "violence"}
    response = client_for(wb.w.consultant).post(url("incident"), body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


@pytest.mark.parametrize(("endpoint", "query"), [
    ("risk-score", {"level": "purple"}),
    ("checkin", {"placement": "x"}),
    ("checkin", {"on_after": "soon"}),
    ("alert", {"status": "maybe"}),
    ("milestone", {"due_before": "2026-13-01"}),
    ("goal", {"placement": str(2**70)}),
])
def test_a_bad_filter_answers_400(wb, client_for, endpoint, query):
    assert fields_of(client_for(wb.w.consultant).get(url(endpoint), query))


def test_filters_and_ordering(wb, client_for):
    client = client_for(wb.w.consultant)
    own = wb.placements["own"].pk
    assert client.get(url("checkin"), {"help_now": "true", "placement": own}).json()["count"] == 1
    assert client.get(url("checkin"), {"on_after": "2026-11-01"}).json()["count"] == 0
    assert client.get(url("checkin"), {"on_before": "2026-10-30"}).json()["count"] == 2
    overdue = client.get(url("milestone"), {"status": "overdue", "placement": own, "ordering": "due_on"}).json()
    dues = [row["due_on"] for row in overdue["results"]]
    assert dues and dues == sorted(dues)
    assert client.get(url("incident"), {"kind": "violence"}).json()["count"] == 0
    assert client.get(url("sdq-score"), {"informant": "teacher"}).json()["results"][0]["total_band"] == "high"


# --- Constant query counts ---------------------------------------------------------------------------------------

_seq = itertools.count(1)


def _signal(model, **values):
    def make(world, placement):
        model.objects.create(municipality=world.aarhus, placement=placement, **values)
    return make


def _checkin(world, placement):
    CheckIn.objects.create(municipality=world.aarhus, placement=placement, household=world.foster_home, on=TODAY,
                           stress=3, free_text="x")


def _absence(world, placement):
    n = next(_seq)
    SchoolAbsence.objects.create(municipality=world.aarhus, placement=placement,
                                 month=dt.date(2000 + n // 12, n % 12 + 1, 1), total_pct=5)


def _goal(world, placement):
    goal = Goal.objects.create(municipality=world.aarhus, placement=placement, title="Mål (fiktiv)",
                               indicator="custom", baseline=10, target=2, direction="decrease", review_on=TODAY)
    GoalMeasurement.objects.create(goal=goal, on=TODAY, value=5)


def _measurement(world, placement):
    goal = Goal.objects.filter(placement=placement).first() or Goal.objects.create(
        municipality=world.aarhus, placement=placement, title="Mål (fiktiv)", indicator="custom", baseline=10,
        target=2, direction="decrease", review_on=TODAY)
    GoalMeasurement.objects.create(goal=goal, on=TODAY, value=next(_seq))


def _score(world, placement):
    template = RiskScore.objects.filter(placement=placement).first()
    template.pk, template.latest = None, False
    template.save()


def _assessment(world, placement):
    _score(world, placement)
    score = RiskScore.objects.filter(placement=placement).order_by("-pk").first()
    ScoreAssessment.objects.create(score=score, placement=placement, municipality=world.aarhus, decision="agree",
                                   created_at=NOW)


def _alert(world, placement):
    n = next(_seq)
    alert = Alert.objects.create(municipality=world.aarhus, subject=f"placement:{placement.pk}", placement=placement,
                                 kind="level_rise", key=f"test:{n}", level="yellow", created_at=NOW, last_seen_at=NOW,
                                 drivers=[], recommendations=[])
    need = rows_need(world, placement)
    AlertSupportNeed.objects.create(alert=alert, need=need, recommendation_code=f"r{n}", created_at=NOW)


def rows_need(world, placement):
    from support import services

    return services.create_support_need(placement=placement, recipient="foster_household", service="supervision",
                                        minutes_per_session=60, sessions_per_week="1", starts_on=TODAY,
                                        by=world.consultant)


def _milestone(world, placement):
    n = next(_seq)
    Milestone.objects.create(municipality=world.aarhus, subject=f"placement:{placement.pk}", placement=placement,
                             rule_code="test", rule_version="t", source="test", sequence=n, title_en="t", title_da="t",
                             due_on=TODAY, warn_on=TODAY, uid=f"test-{n}")


QUERY_CASES = [
    ("checkin", _checkin), ("sdq-score", _signal(SdqScore, on=TODAY, informant="parent", total=10)),
    ("school-absence", _absence), ("incident", _signal(Incident, on=TODAY, kind="violence", note="x")),
    ("child-view", _signal(ChildView, on=TODAY, wellbeing=3, comment="x")), ("goal", _goal),
    ("goal-measurement", _measurement), ("risk-score", _score), ("score-assessment", _assessment),
    ("alert", _alert), ("milestone", _milestone),
]


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 100})
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize(("endpoint", "make"), QUERY_CASES)
def test_list_query_count_does_not_grow_with_rows(world, client_for, frozen, endpoint, make):
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)  # a score to copy from
    client = client_for(world.consultant)
    path = url(endpoint)

    def add(n):
        for _ in range(n):
            make(world, world.placement)

    add(3)
    client.get(path)
    with_few = count_queries(client, path)
    add(27)
    with_many = count_queries(client, path)
    assert with_many == with_few, f"{endpoint}: {with_few} queries for few rows, {with_many} for many"
    assert client.get(path, {"page_size": 100}).json()["count"] >= 30


def test_the_aggregate_costs_the_same_for_many_placements(world, client_for, frozen):
    client = client_for(world.team_lead)
    path = reverse("api:wellbeing-overview")
    recompute_placements(placement_ids=[world.placement.pk], now=NOW)
    with_few = count_queries(client, path)
    extra = [new_placement(world, name=f"Barn {i}.") for i in range(5)]
    recompute_placements(placement_ids=[p.pk for p in extra], now=NOW)
    assert count_queries(client, path) == with_few
    assert sum(client.get(path).json()["current_levels"].values()) == 6


# --- The OpenAPI document -------------------------------------------------------------------------------------


def test_every_wellbeing_resource_is_documented_with_its_enums(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = set(schema["paths"])
    for resource in ["checkins", "sdq-scores", "school-absences", "incidents", "child-views", "goals",
                     "goal-measurements", "risk-scores", "score-assessments", "alerts", "milestones"]:
        assert {f"/api/v1/{resource}/", f"/api/v1/{resource}/{{id}}/"} <= paths, resource
    assert {"/api/v1/alerts/{id}/acknowledge/", "/api/v1/alerts/{id}/create-support-need/",
            "/api/v1/milestones/{id}/done/", "/api/v1/goals/{id}/close/", "/api/v1/wellbeing/overview/"} <= paths
    assert "400" in schema["paths"]["/api/v1/wellbeing/overview/"]["get"]["responses"]
    components = schema["components"]["schemas"]
    assert components["LevelEnum"]["enum"] == ["red", "yellow", "green", "no_data"]
    score = components["RiskScore"]["properties"]
    assert "Not a probability" in score["index"]["description"]
    assert not any("probab" in name for name in score)
    for name in ("free_text",):
        assert components["CheckIn"]["properties"][name]["nullable"] is True
