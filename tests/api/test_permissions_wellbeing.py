# ruff: noqa: F811  (the `wb` fixture is imported from tests/api/wellbeing_world.py)
"""Who sees and changes well-being records: every endpoint x every role x own / other household's /
other municipality's row, in the style of test_permissions.py.

The purpose limitation (docs/wellbeing.md) is part of the table: the foster carers' check-ins and
every record built on them reach only the municipality's consultants and the placement's own
family. Team leads and administrators decide approval, oversight and pay, so they get none of
them (team leads get the aggregate); birth parents and providers get none either.
"""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from support.models import Alert, AuditEntry, Membership, Milestone, RiskScore
from support.roles import Role
from tests.api.conftest import ROLES, build_api_world
from tests.api.wellbeing_world import (  # noqa: F401  (fixtures)
    NOW,
    SECRET,
    build_wellbeing_world,
    frozen,
    rows,
)
from tests.conftest import build_world, make_user
from tests.module_data import built_once, fresh_copy

SIGNALS = ["checkin", "sdq-score", "school-absence", "incident", "child-view", "goal", "goal-measurement"]
CONSULTANT_ONLY = ["risk-score", "score-assessment", "alert"]
KEYS = ["own", "other_household", "odense"]

NOBODY = {"team_lead", "birth_parent", "provider_user", "administrator", "outsider"}
SIGNAL_READERS = {"consultant": {"own", "other_household"}, "other_consultant": {"odense"}, "foster_parent": {"own"}}
CONSULTANT_READERS = {"consultant": {"own", "other_household"}, "other_consultant": {"odense"}}

VISIBLE: dict[str, dict[str, set[str]]] = {
    **{endpoint: {role: SIGNAL_READERS.get(role, set()) for role in ROLES} for endpoint in SIGNALS},
    **{endpoint: {role: CONSULTANT_READERS.get(role, set()) for role in ROLES} for endpoint in CONSULTANT_ONLY},
    # Deadlines are not carers' reports: the team lead follows them; a family sees its own ledger.
    "milestone": {
        **{role: {"own", "other_household", "own_ledger", "other_ledger"} for role in ("consultant", "team_lead")},
        "other_consultant": {"odense", "odense_ledger"}, "foster_parent": {"own_ledger"}, "birth_parent": set(),
        "provider_user": set(), "administrator": set(), "outsider": set(),
    },
}
LEDGERS = ["own_ledger", "other_ledger", "odense_ledger"]
OBJECT_KEYS = {endpoint: [*KEYS, *LEDGERS] if endpoint == "milestone" else KEYS for endpoint in VISIBLE}


@pytest.fixture(scope="module")
def _wb_once(request, django_db_setup, django_db_blocker):
    """The tables only read the records (a test's writes are rolled back): built once for the module."""

    def build():
        a = build_api_world(build_world())
        with time_machine.travel(NOW, tick=False):
            return build_wellbeing_world(a)

    yield from built_once(request, django_db_blocker, build)


@pytest.fixture
def wb(_wb_once, request, db, frozen):
    return fresh_copy(_wb_once, request)


def url(endpoint: str, pk=None) -> str:
    return reverse(f"api:{endpoint}-list") if pk is None else reverse(f"api:{endpoint}-detail", args=[pk])


def all_ids(client, path) -> set[int]:
    seen, page = set(), 1
    while True:
        response = client.get(path, {"page_size": 200, "page": page})
        assert response.status_code == 200, response.content
        seen |= {row["id"] for row in response.json()["results"]}
        if not response.json()["next"]:
            return seen
        page += 1


@pytest.mark.parametrize(("endpoint", "role"), [(e, r) for e in VISIBLE for r in ROLES])
def test_list_holds_exactly_the_rows_the_role_may_see(wb, client_for, endpoint, role):
    expected = set()
    for key in VISIBLE[endpoint][role]:
        expected |= set(rows(wb, endpoint, key).values_list("pk", flat=True))
    assert all_ids(client_for(wb.user(role)), url(endpoint)) == expected
    if VISIBLE[endpoint][role]:
        assert expected, "the world must hold a row for each visible key"


@pytest.mark.parametrize(("endpoint", "role"), [(e, r) for e in VISIBLE for r in ROLES])
def test_detail_answers_200_when_visible_and_404_otherwise(wb, client_for, endpoint, role):
    client = client_for(wb.user(role))
    for key in OBJECT_KEYS[endpoint]:
        obj = rows(wb, endpoint, key).order_by("pk").first()
        response = client.get(url(endpoint, obj.pk))
        if key in VISIBLE[endpoint][role]:
            assert response.status_code == 200, (key, response.content)
            assert response.json()["id"] == obj.pk
        else:
            assert response.status_code == 404, (key, response.content)
            error = response.json()["error"]
            assert (error["code"], error["fields"]) == ("not_found", {})


@pytest.mark.parametrize("endpoint", list(VISIBLE))
def test_anonymous_requests_answer_401(wb, client_for, endpoint):
    assert client_for(None).get(url(endpoint)).status_code == 401
    assert client_for(None).get(url(endpoint, 1)).status_code == 401


# --- Purpose limitation and free text -------------------------------------------------------------------------


@pytest.fixture
def co_parent(wb):
    """The second foster parent of the own household: sees the family's reports, not the other's words."""
    user = make_user("medplejefar")
    Membership.objects.create(user=user, role=Role.FOSTER_PARENT, household=wb.w.foster_home)
    return user


FREE_TEXT = {"checkin": "free_text", "incident": "note", "child-view": "comment"}


@pytest.mark.parametrize("endpoint", list(FREE_TEXT))
def test_free_text_is_for_its_writer_and_the_consultant_only(wb, client_for, co_parent, endpoint):
    field = FREE_TEXT[endpoint]
    obj = rows(wb, endpoint, "own").get()
    for user, sees in [(wb.w.consultant, True), (wb.w.foster_parent, True), (co_parent, False)]:
        client = client_for(user)
        listed = client.get(url(endpoint), {"placement": obj.placement_id}).json()["results"]
        detail = client.get(url(endpoint, obj.pk)).json()
        assert [row["id"] for row in listed] == [obj.pk]
        assert (listed[0][field], detail[field]) == ((SECRET, SECRET) if sees else (None, None)), user


@pytest.mark.parametrize("role", sorted(NOBODY))
def test_roles_that_decide_about_families_get_no_carer_reports_at_all(wb, client_for, role):
    client = client_for(wb.user(role))
    for endpoint in [*SIGNALS, *CONSULTANT_ONLY]:
        response = client.get(url(endpoint))
        assert response.json()["count"] == 0, endpoint
        assert SECRET not in response.content.decode()


def test_team_lead_gets_the_aggregate_without_any_individual_record(wb, client_for):
    window = {"since": "2026-10-01T00:00:00Z", "until": "2026-11-03T00:00:00Z"}
    response = client_for(wb.w.team_lead).get(reverse("api:wellbeing-overview"), window)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["municipality"] == wb.w.aarhus.pk
    current = RiskScore.objects.filter(municipality=wb.w.aarhus, latest=True)
    assert sum(body["current_levels"].values()) == current.count() == 2
    assert body["overrides"]["assessed"] == body["overrides"]["agreed"] == 2
    assert body["overrides"]["override_rate"] == 0.0
    assert [row["name"] for row in body["overrides_by_consultant"]] == ["konsulent"]
    text = response.content.decode()
    assert SECRET not in text and "stress" not in text and "placement" not in text


@pytest.mark.parametrize("role", [r for r in ROLES if r != "team_lead"])
def test_the_aggregate_is_for_team_leads_only(wb, client_for, role):
    response = client_for(wb.user(role)).get(reverse("api:wellbeing-overview"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_team_lead_cannot_ask_for_another_municipalitys_aggregate(wb, client_for):
    response = client_for(wb.w.team_lead).get(reverse("api:wellbeing-overview"), {"municipality": wb.w.odense.pk})
    assert response.status_code == 400
    assert "municipality" in response.json()["error"]["fields"]


# --- Writes -----------------------------------------------------------------------------------------------------


def create_bodies(wb) -> dict[str, dict]:
    placement = wb.placements["own"].pk
    goal = rows(wb, "goal", "own").get()
    score = RiskScore.objects.get(placement=wb.placements["own"], latest=True)
    return {
        "checkin": {"placement": placement, "on": "2026-11-01", "stress": 4},
        "sdq-score": {"placement": placement, "on": "2026-11-01", "informant": "parent", "total": 12},
        "incident": {"placement": placement, "on": "2026-11-01", "kind": "violence"},
        "child-view": {"placement": placement, "on": "2026-11-01", "wellbeing": 4},
        "school-absence": {"placement": placement, "month": "2026-09-01", "total_pct": "8.5"},
        "goal": {"placement": placement, "title": "Skolegang (fiktiv)", "indicator": "absence_pct", "baseline": "20",
                 "target": "10", "direction": "decrease", "review_on": "2027-06-01"},
        "goal-measurement": {"goal": goal.pk, "on": "2026-11-02", "value": "5"},
        "score-assessment": {"score": score.pk, "decision": "override", "reason": "Kender familien (fiktiv)",
                             "assessed_level": "yellow"},
    }


FAMILY_REPORTS = {"checkin", "sdq-score", "incident", "child-view"}
REFERENCE_FIELD = {"goal-measurement": "goal", "score-assessment": "score"}


CREATE_ENDPOINTS = [
    "checkin", "sdq-score", "incident", "child-view", "school-absence", "goal", "goal-measurement", "score-assessment",
]


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("role", [*ROLES, "other_foster_parent", "anonymous"])
def test_create_is_for_the_consultant_and_the_family_where_it_reports(wb, client_for, endpoint, role):
    body = create_bodies(wb)[endpoint]
    user = None if role == "anonymous" else getattr(wb.w, role)
    model = type(rows(wb, endpoint, "own").first())
    before = model.objects.count()
    response = client_for(user).post(url(endpoint), body, format="json")
    field = REFERENCE_FIELD.get(endpoint, "placement")
    if role == "consultant" or (role == "foster_parent" and endpoint in FAMILY_REPORTS):
        assert response.status_code == 201, response.content
        assert model.objects.count() == before + 1 or endpoint == "school-absence"
        return
    if role == "anonymous":
        assert response.status_code == 401
    elif role == "other_consultant" or (role in {"foster_parent", "other_foster_parent"} and endpoint in FAMILY_REPORTS):
        # Allowed to record somewhere, but not for this placement: the field that names it is refused.
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"]
    else:
        assert response.status_code == 403, response.content
    assert model.objects.count() == before


def test_a_family_records_the_carers_sdq_but_not_the_teachers(wb, client_for):
    body = {"placement": wb.placements["own"].pk, "on": "2026-11-01", "informant": "teacher", "total": 12}
    response = client_for(wb.w.foster_parent).post(url("sdq-score"), body, format="json")
    assert response.status_code == 400
    assert "informant" in response.json()["error"]["fields"]


ACTIONS = {
    # endpoint, action, key -> body
    ("alert", "acknowledge"): {"outcome": "contacted_family", "note": ""},
    ("goal", "close"): {"status": "achieved"},
    ("milestone", "done"): {"note": "Holdt (fiktiv)"},
}


def action_url(endpoint, action, pk):
    return reverse(f"api:{endpoint}-{action}", args=[pk])


def action_target(wb, endpoint, key):
    qs = rows(wb, endpoint, key)
    if endpoint == "milestone":
        qs = qs.filter(rule_code="carer_course_days" if key in LEDGERS else "child_plan")
    return qs.order_by("pk").first()


@pytest.mark.parametrize(("endpoint", "action", "role"), [(e, act, r) for (e, act) in ACTIONS for r in ROLES])
def test_actions_are_for_the_municipalitys_consultants(wb, client_for, endpoint, action, role):
    client = client_for(wb.user(role))
    for key in OBJECT_KEYS[endpoint]:
        obj = action_target(wb, endpoint, key)
        response = client.post(action_url(endpoint, action, obj.pk), ACTIONS[(endpoint, action)], format="json")
        writer = "other_consultant" if key.startswith("odense") else "consultant"
        if key in LEDGERS and role == writer:
            # Seen and the consultant's, but a ledger row closes when the support is delivered.
            assert response.status_code == 400, (key, response.content)
            assert response.json()["error"]["code"] == "ledger_milestone"
        elif role == writer:
            assert response.status_code == 200, (key, response.content)
        elif key in VISIBLE[endpoint][role]:
            assert response.status_code == 403, (key, response.content)
        else:
            assert response.status_code == 404, (key, response.content)


@pytest.mark.parametrize("role", ROLES)
def test_a_recommendation_becomes_a_support_need_only_for_the_consultant(wb, client_for, role):
    alert = Alert.objects.filter(placement=wb.placements["own"], kind="level_rise").get()
    rec = next(r for r in alert.recommendations if r["service"] != "meeting")
    body = {"recommendation_code": rec["code"], "minutes_per_session": 90, "sessions_per_week": "1",
            "starts_on": "2026-11-16"}
    response = client_for(wb.user(role)).post(action_url("alert", "create-support-need", alert.pk), body,
                                              format="json")
    assert response.status_code == (201 if role == "consultant" else 404), response.content


def test_reads_are_audited_like_a_placements_details(wb, client_for):
    checkin = rows(wb, "checkin", "own").get()
    client = client_for(wb.w.consultant)
    client.get(url("checkin", checkin.pk), REMOTE_ADDR="10.9.8.7")
    entry = AuditEntry.objects.get(action="checkin.read")
    assert (entry.actor, entry.object_id, entry.ip, entry.municipality) == (
        wb.w.consultant, str(checkin.pk), "10.9.8.7", wb.w.aarhus
    )
    client.get(url("risk-score"))
    listed = AuditEntry.objects.get(action="risk_score.list")
    assert set(listed.details["ids"]) == set(RiskScore.objects.filter(municipality=wb.w.aarhus).values_list("pk", flat=True))
    assert SECRET not in str(list(AuditEntry.objects.values_list("details", flat=True)))
    client.get(url("goal-measurement"))
    assert AuditEntry.objects.get(action="goal_measurement.list").municipality == wb.w.aarhus


def test_milestones_count_as_a_placements_details_too(wb, client_for):
    milestone = Milestone.objects.filter(placement=wb.placements["own"]).first()
    client_for(wb.w.team_lead).get(url("milestone", milestone.pk))
    assert AuditEntry.objects.filter(action="milestone.read", actor=wb.w.team_lead).count() == 1


def test_a_consultant_who_is_also_team_lead_there_reads_as_a_team_lead(wb, client_for):
    Membership.objects.create(user=wb.w.consultant, role=Role.TEAM_LEAD, municipality=wb.w.aarhus)
    client = client_for(wb.w.consultant)
    for endpoint in [*SIGNALS, *CONSULTANT_ONLY]:
        assert client.get(url(endpoint)).json()["count"] == 0, endpoint
    assert client.get(reverse("api:wellbeing-overview")).status_code == 200
    body = {"placement": wb.placements["own"].pk, "on": "2026-11-01", "stress": 4}
    assert client.post(url("checkin"), body, format="json").status_code == 403
