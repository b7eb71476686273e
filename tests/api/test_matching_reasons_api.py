"""Matching runs over the API say why needs stayed open, and how far the run got, in the request's language."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.models import MatchingRun, RunStatus, UnmatchedNeed
from support import services
from support.models import Provider, Service


@pytest.fixture
def far_therapist_run(world, client_for, django_capture_on_commit_callbacks) -> MatchingRun:
    services.create_support_need(
        placement=world.placement, recipient="foster_household", service="family_therapy", minutes_per_session=60,
        sessions_per_week="1", starts_on=dt.date(2026, 11, 1), by=world.consultant,
    )
    far = Provider.objects.create(name="Terapeut Fjern (fiktiv)", latitude=55.0, longitude=10.21, max_travel_km=40,
                                  capacity_minutes_per_week=600, max_cases=3, languages=["da"])
    far.services.add(Service.objects.get(code="family_therapy"))
    far.municipalities.add(world.aarhus)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.consultant).post("/api/v1/matching-runs/", {}, format="json")
    run = MatchingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.DONE, run.error
    return run


def test_run_detail_renders_reasons_in_danish_by_default(world, client_for, far_therapist_run):
    body = client_for(world.consultant).get(f"/api/v1/matching-runs/{far_therapist_run.pk}/").json()
    (unmatched,) = body["unmatched"]
    # The engine's English lines stay as they were, for programs that read them.
    assert unmatched["reasons"][1] == "rule 1 (service): 1 provider does not offer family_therapy"
    assert unmatched["reasons_text"][1] == "Krav 1 (ydelse): 1 leverandør tilbyder ikke familiebehandling."
    assert "nærmest er Terapeut Fjern (fiktiv) med" in unmatched["reasons_text"][2]
    assert body["progress_message"] == "Done" and body["progress_text"] == "Færdig"


def test_run_detail_renders_reasons_in_english_when_asked(world, client_for, far_therapist_run):
    body = client_for(world.consultant).get(
        f"/api/v1/matching-runs/{far_therapist_run.pk}/", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    (unmatched,) = body["unmatched"]
    assert unmatched["reasons_text"][1] == "Rule 1 (service): 1 provider does not offer family therapy."
    assert "(closest: Terapeut Fjern (fiktiv) at" in unmatched["reasons_text"][2]
    assert body["progress_text"] == "Done"


def test_run_list_has_translated_progress(world, client_for, far_therapist_run):
    (listed,) = client_for(world.consultant).get("/api/v1/matching-runs/").json()["results"]
    assert listed["progress_text"] == "Færdig" and "unmatched" not in listed


def test_rows_without_details_fall_back_to_the_engine_reasons(world, client_for, far_therapist_run):
    UnmatchedNeed.objects.filter(run=far_therapist_run).update(details=[])
    body = client_for(world.consultant).get(f"/api/v1/matching-runs/{far_therapist_run.pk}/").json()
    (unmatched,) = body["unmatched"]
    assert unmatched["reasons_text"] == unmatched["reasons"]
    assert unmatched["reasons"][1] == "rule 1 (service): 1 provider does not offer family_therapy"


def test_reasons_text_is_in_the_schema(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert schema["UnmatchedNeed"]["properties"]["reasons_text"]["type"] == "array"
    assert schema["MatchingRun"]["properties"]["progress_text"]["type"] == "string"
