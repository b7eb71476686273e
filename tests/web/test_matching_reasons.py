"""Why a need got no proposal, on the run page: in the page's language, naming providers and needs."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scheduler.models import MatchingRun, RunStatus, UnmatchedNeed
from support.models import Household, Provider
from tests.web.conftest import add_need, add_provider, text_of


@pytest.fixture
def consultant(client_for, world):
    return client_for(world.consultant)


def run_matching(consultant, world, django_capture_on_commit_callbacks) -> MatchingRun:
    with django_capture_on_commit_callbacks(execute=True):
        consultant.post("/workspace/matching/", {"municipality": world.aarhus.pk})
    run = MatchingRun.objects.get(municipality=world.aarhus)
    assert run.status == RunStatus.DONE, run.error
    return run


@pytest.fixture
def far_therapist_run(world, consultant, django_capture_on_commit_callbacks):
    """Family therapy nobody near offers: the only therapist lives about 130 km south."""
    add_need(world, service="family_therapy")
    add_provider(world, "Terapeut Fjern (fiktiv)", services_=("family_therapy",), lat=55.0)
    return run_matching(consultant, world, django_capture_on_commit_callbacks)


def test_danish_page_shows_danish_reasons_with_provider_names(consultant, far_therapist_run):
    text = text_of(consultant.get(f"/workspace/matching/{far_therapist_run.pk}/"))
    assert "Ingen kandidat: alle 2 leverandører er udelukket af de ufravigelige krav." in text
    assert "Krav 1 (ydelse): 1 leverandør tilbyder ikke familiebehandling." in text
    assert "Krav 5 (afstand): 1 leverandør har for langt at køre (nærmest er Terapeut Fjern (fiktiv) med" in text
    assert "kører højst 40 km)." in text
    assert "rule 5" not in text and "closest: P" not in text  # no English, no export keys


def test_english_page_shows_english_reasons_with_provider_names(consultant, far_therapist_run):
    response = consultant.get(f"/workspace/matching/{far_therapist_run.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    text = text_of(response)
    assert "Rule 5 (reach): 1 provider is beyond their travel range (closest: Terapeut Fjern (fiktiv) at" in text
    assert "Rule 1 (service): 1 provider does not offer family therapy." in text
    assert "Krav 5" not in text


def test_reasons_name_the_need_that_took_the_last_place(consultant, world, django_capture_on_commit_callbacks):
    Provider.objects.filter(pk=world.provider.pk).update(max_cases=1)
    add_need(world, priority=5)
    add_need(world, priority=2, recipient="child")
    run = run_matching(consultant, world, django_capture_on_commit_callbacks)
    text = text_of(consultant.get(f"/workspace/matching/{run.pk}/"))
    assert (
        "1 kandidat var fuldt optaget: Supervisor Mette K. (fiktiv) (har nået sit maksimum på 1 sag: "
        "supervision til Demo-barn A.)." in text
    )


def test_need_skipped_for_missing_coordinates_is_explained_in_danish(
    consultant, world, django_capture_on_commit_callbacks
):
    Household.objects.filter(pk=world.birth_home.pk).update(latitude=None, longitude=None)
    add_need(world, recipient="birth_household")
    run = run_matching(consultant, world, django_capture_on_commit_callbacks)
    (row,) = UnmatchedNeed.objects.filter(run=run)
    assert row.details == [{"code": "no_coordinates", "params": {}}]
    text = text_of(consultant.get(f"/workspace/matching/{run.pk}/"))
    assert "Den modtagende families adresse mangler koordinater, så afstanden kan ikke beregnes." in text


def test_rows_stored_before_details_show_the_engine_reasons(consultant, world):
    need = add_need(world)
    run = MatchingRun.objects.create(
        municipality=world.aarhus, status=RunStatus.DONE, progress=100, progress_message="Done",
        finished_at=timezone.now(),
    )
    UnmatchedNeed.objects.create(run=run, need=need, reasons=["no provider offers supervision"])
    text = text_of(consultant.get(f"/workspace/matching/{run.pk}/"))
    assert "no provider offers supervision" in text and "Færdig" in text


def test_capacity_dashboard_shows_translated_reasons_naming_needs_by_number_only(
    client_for, world, consultant, django_capture_on_commit_callbacks
):
    Provider.objects.filter(pk=world.provider.pk).update(max_cases=1)
    taken = add_need(world, priority=5)
    waiting = add_need(world, priority=2, recipient="child")
    run_matching(consultant, world, django_capture_on_commit_callbacks)
    team_lead = client_for(world.team_lead)
    danish = text_of(team_lead.get("/workspace/capacity/"))
    assert (
        f"1 kandidat var fuldt optaget: Supervisor Mette K. (fiktiv) (har nået sit maksimum på 1 sag: behov #{taken.pk})."
        in danish
    )
    english = team_lead.get("/workspace/capacity/", HTTP_ACCEPT_LANGUAGE="en")
    assert f"(the maximum of 1 case is reached: need #{taken.pk})." in text_of(english)
    assert '<li lang="en">' not in english.content.decode()  # the text is in the page's language now
    for page in (danish, text_of(english)):
        assert "Demo-barn A." not in page  # the dashboard never names children
    assert UnmatchedNeed.objects.get(need=waiting).details[0]["code"] == "candidates_full"
