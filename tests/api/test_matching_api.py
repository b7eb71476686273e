"""Matching runs and proposals over the API: who may start, read and decide."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scheduler.models import MatchingRun, Proposal, ProposalStatus, RunStatus
from support import services
from support.models import NeedStatus, SupportNeed

ROLES = ["consultant", "other_consultant", "team_lead", "foster_parent", "birth_parent", "provider_user",
         "administrator", "outsider"]


@pytest.fixture
def need(world):
    return services.create_support_need(
        placement=world.placement, recipient="foster_household", service="supervision", minutes_per_session=90,
        sessions_per_week="0.5", starts_on=dt.date(2026, 11, 1), by=world.consultant,
    )


@pytest.fixture
def run_with_proposal(world, need, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.consultant).post("/api/v1/matching-runs/", {}, format="json")
    assert response.status_code == 201, response.json()
    run = MatchingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.DONE, run.error
    return run, Proposal.objects.get(run=run)


def test_consultant_starts_a_run_and_follows_it(world, run_with_proposal, client_for):
    run, proposal = run_with_proposal
    body = client_for(world.consultant).get(f"/api/v1/matching-runs/{run.pk}/").json()
    assert body["status"] == "done" and body["progress"] == 100
    assert body["objective"] == proposal.score and body["proposals_pending"] == 1
    assert body["unmatched"] == []
    listed = client_for(world.consultant).get(f"/api/v1/proposals/?run={run.pk}").json()["results"]
    assert [p["id"] for p in listed] == [proposal.pk]
    assert set(listed[0]["terms"]) == {"priority", "continuity", "preferred", "travel"}


@pytest.mark.parametrize("role", ROLES)
def test_runs_and_proposals_are_visible_to_own_municipality_staff_only(world, run_with_proposal, client_for, role):
    run, proposal = run_with_proposal
    client = client_for(getattr(world, role))
    visible = role in ("consultant", "team_lead")
    assert client.get(f"/api/v1/matching-runs/{run.pk}/").status_code == (200 if visible else 404)
    assert client.get(f"/api/v1/proposals/{proposal.pk}/").status_code == (200 if visible else 404)
    assert len(client.get("/api/v1/matching-runs/").json()["results"]) == (1 if visible else 0)
    assert len(client.get("/api/v1/proposals/").json()["results"]) == (1 if visible else 0)


@pytest.mark.parametrize("role", ROLES)
def test_only_the_municipalitys_consultants_decide(world, run_with_proposal, client_for, role):
    _run, proposal = run_with_proposal
    response = client_for(getattr(world, role)).post(f"/api/v1/proposals/{proposal.pk}/accept/")
    expected = {"consultant": 200, "team_lead": 403}.get(role, 404)
    assert response.status_code == expected
    proposal.refresh_from_db()
    assert proposal.status == (ProposalStatus.ACCEPTED if role == "consultant" else ProposalStatus.PENDING)


@pytest.mark.parametrize("role", ["team_lead", "foster_parent", "provider_user", "administrator", "outsider"])
def test_only_consultants_start_runs(world, client_for, role):
    assert client_for(getattr(world, role)).post("/api/v1/matching-runs/", {}, format="json").status_code == 403
    assert not MatchingRun.objects.exists()


def test_a_run_cannot_be_started_in_another_municipality(world, client_for):
    response = client_for(world.consultant).post(
        "/api/v1/matching-runs/", {"municipality": world.odense.pk}, format="json"
    )
    assert response.status_code == 400
    assert "municipality" in response.json()["error"]["fields"]


def test_second_run_answers_409_with_a_clear_message(world, client_for):
    MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.RUNNING, started_at=timezone.now())
    client = client_for(world.consultant)
    response = client.post("/api/v1/matching-runs/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409 and response.json()["error"]["code"] == "run_in_progress"
    assert "already in progress" in response.json()["error"]["message"]
    # Without Accept-Language the API speaks the service's default language, Danish.
    danish = client.post("/api/v1/matching-runs/", {}, format="json")
    assert danish.status_code == 409
    assert danish.json()["error"]["message"].startswith("Der kører allerede en matchkørsel for Aarhus")


@pytest.mark.parametrize(("language", "words"), [("en", "between 1 and 600 seconds"), ("da", "mellem 1 og 600 sekunder")])
@pytest.mark.parametrize("limit", [0, 601])
def test_time_limit_out_of_range_is_refused_in_the_requests_language(world, client_for, language, words, limit):
    response = client_for(world.consultant).post(
        "/api/v1/matching-runs/", {"time_limit_seconds": limit}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 400
    assert words in response.json()["error"]["fields"]["time_limit_seconds"][0]
    assert not MatchingRun.objects.exists()


def test_municipality_must_be_named_by_a_consultant_of_several(world, client_for):
    from support.models import Membership

    Membership.objects.create(user=world.consultant, municipality=world.odense, role="consultant")
    client = client_for(world.consultant)
    danish = client.post("/api/v1/matching-runs/", {}, format="json", HTTP_ACCEPT_LANGUAGE="da")
    assert danish.status_code == 400
    assert danish.json()["error"]["fields"]["municipality"] == ["Angiv, hvilken kommune kørslen gælder."]
    english = client.post("/api/v1/matching-runs/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["error"]["fields"]["municipality"] == ["Name the municipality to match."]


def test_decided_proposal_answers_409(world, run_with_proposal, client_for):
    _run, proposal = run_with_proposal
    client = client_for(world.consultant)
    assert client.post(f"/api/v1/proposals/{proposal.pk}/accept/").status_code == 200
    again = client.post(f"/api/v1/proposals/{proposal.pk}/reject/", {"reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    assert again.json()["error"]["message"] == "Der er allerede taget stilling til forslaget (accepteret)."
    english = client.post(f"/api/v1/proposals/{proposal.pk}/reject/", {"reason": "x"}, format="json",
                          HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["error"]["message"] == "This proposal was already decided (accepted)."


def test_reject_needs_a_reason(world, run_with_proposal, client_for):
    _run, proposal = run_with_proposal
    client = client_for(world.consultant)
    response = client.post(f"/api/v1/proposals/{proposal.pk}/reject/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["reason"] == ["Skriv, hvorfor forslaget afvises."]
    blank = client.post(f"/api/v1/proposals/{proposal.pk}/reject/", {"reason": "  "}, format="json",
                        HTTP_ACCEPT_LANGUAGE="en")
    assert blank.status_code == 400
    assert blank.json()["error"]["fields"]["reason"] == ["Say why the proposal is rejected."]
    ok = client.post(f"/api/v1/proposals/{proposal.pk}/reject/", {"reason": "Kender familien"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "rejected"
    assert SupportNeed.objects.get(pk=proposal.need_id).status == NeedStatus.OPEN


def test_override_with_a_provider_breaking_a_rule_answers_409(world, run_with_proposal, client_for):
    from support.models import Provider, Service

    _run, proposal = run_with_proposal
    far = Provider.objects.create(name="Langt væk (fiktiv)", latitude=55.0, longitude=8.5, max_travel_km=10,
                                  capacity_minutes_per_week=600, max_cases=3, languages=["da"])
    far.services.add(Service.objects.get(code="supervision"))
    far.municipalities.add(world.aarhus)
    response = client_for(world.consultant).post(
        f"/api/v1/proposals/{proposal.pk}/override/", {"provider": far.pk, "reason": "ønske"}, format="json"
    )
    assert response.status_code == 409
    assert "Langt væk (fiktiv) kan ikke tage dette behov: ligger" in response.json()["error"]["message"]
    # A provider the consultant cannot see is "not found" (400 on the field), not a hint.
    odense_only = Provider.objects.create(name="Kun Odense (fiktiv)", latitude=55.4, longitude=10.4,
                                          capacity_minutes_per_week=600, max_cases=3, languages=["da"])
    odense_only.municipalities.add(world.odense)
    hidden = client_for(world.consultant).post(
        f"/api/v1/proposals/{proposal.pk}/override/", {"provider": odense_only.pk}, format="json"
    )
    assert hidden.status_code == 400 and "provider" in hidden.json()["error"]["fields"]


def test_with_the_queue_down_starting_a_run_answers_503_and_says_why(transactional_db, request, client_for, monkeypatch):
    from django_q.conf import Conf

    world = request.getfixturevalue("world")
    for name, value in {"SYNC": False, "ORM": None, "DJANGO_REDIS": None, "REDIS": "redis://127.0.0.1:1/0"}.items():
        monkeypatch.setattr(Conf, name, value)  # a real broker, nothing listening on port 1
    response = client_for(world.consultant).post("/api/v1/matching-runs/", {}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert "opgavekøen" in response.json()["error"]["message"]
    run = MatchingRun.objects.get()
    assert run.status == RunStatus.FAILED
    body = client_for(world.consultant).get(f"/api/v1/matching-runs/{run.pk}/").json()
    assert body["status"] == "failed"
