"""The matching pages: start a run, follow it, decide on its proposals, and who may see them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scheduler.models import MatchingRun, Proposal, ProposalStatus, RunStatus
from support.models import NeedStatus, SupportNeed
from tests.web.conftest import add_need, add_provider, text_of


def start_run(client, django_capture_on_commit_callbacks):
    """POST the start button; in tests django-q2 runs the task synchronously on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/workspace/matching/", {"municipality": client.municipality_pk})
    return response


@pytest.fixture
def consultant(client_for, world):
    client = client_for(world.consultant)
    client.municipality_pk = world.aarhus.pk
    return client


@pytest.fixture
def done_run(world, consultant, django_capture_on_commit_callbacks):
    """A finished run for Aarhus with one pending proposal (the world's supervisor)."""
    add_need(world, preferred_competences=["attachment"], priority=4)
    response = start_run(consultant, django_capture_on_commit_callbacks)
    run = MatchingRun.objects.get(municipality=world.aarhus)
    assert response.status_code == 302 and response["Location"] == f"/workspace/matching/{run.pk}/"
    run.refresh_from_db()
    assert run.status == RunStatus.DONE, run.error
    return run


def test_run_list_shows_start_button_and_runs(consultant, done_run):
    response = consultant.get("/workspace/matching/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Start matchkørsel" in text
    assert f"Kørsel {done_run.pk}" in text and "Færdig" in text
    assert f'href="/workspace/matching/{done_run.pk}/"' in response.content.decode()


def test_started_run_shows_proposals_with_score_terms(consultant, world, done_run):
    response = consultant.get(f"/workspace/matching/{done_run.pk}/")
    assert response.status_code == 200
    proposal = Proposal.objects.get(run=done_run)
    text = text_of(response)
    assert "Supervisor Mette K. (fiktiv)" in text and "Demo-barn A." in text
    assert "Sådan er point beregnet" in text and "Prioritet" in text
    terms = response.context["rows"][0].terms
    assert sum(term.points for term in terms) == proposal.score
    assert 'hx-trigger="every 2s"' not in response.content.decode()  # finished: no polling


def test_second_run_while_one_is_active_shows_the_conflict(consultant, world, django_capture_on_commit_callbacks):
    MatchingRun.objects.create(
        municipality=world.aarhus, status=RunStatus.RUNNING, started_at=timezone.now(), started_by=world.team_lead
    )
    response = start_run(consultant, django_capture_on_commit_callbacks)
    assert response.status_code == 409
    text = text_of(response)
    assert "Der kører allerede en matchkørsel for Aarhus" in text and "af teamleder" in text
    assert "Vent, til den er færdig." in text and "already in progress" not in text
    english = consultant.post("/workspace/matching/", {"municipality": world.aarhus.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 409
    assert "already in progress" in text_of(english) and "by teamleder" in text_of(english)
    assert MatchingRun.objects.filter(municipality=world.aarhus).count() == 1


def test_run_whose_worker_vanished_says_so_in_the_pages_language(
    consultant, world, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - dt.timedelta(hours=1)
    stale = MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.RUNNING, started_at=long_ago)
    assert start_run(consultant, django_capture_on_commit_callbacks).status_code == 302  # the stale run gives way
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED
    danish = text_of(consultant.get(f"/workspace/matching/{stale.pk}/"))
    assert "Kørslen stoppede, før den var færdig" in danish and "worker stopped" not in danish
    english = text_of(consultant.get(f"/workspace/matching/{stale.pk}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "The run stopped before it finished" in english


def test_active_run_page_polls_until_done(consultant, world):
    run = MatchingRun.objects.create(municipality=world.aarhus, status=RunStatus.RUNNING, progress=20,
                                     progress_message="Solving 3 needs × 4 providers", started_at=timezone.now())
    page = consultant.get(f"/workspace/matching/{run.pk}/").content.decode()
    assert f'hx-get="/workspace/matching/{run.pk}/progress/"' in page and 'hx-trigger="every 2s"' in page

    fragment = consultant.get(f"/workspace/matching/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "HX-Refresh" not in fragment
    assert 'value="20"' in fragment.content.decode() and "3 behov" in text_of(fragment)

    MatchingRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, progress=100, progress_message="Done")
    finished = consultant.get(f"/workspace/matching/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert finished["HX-Refresh"] == "true"  # htmx reloads the page to show the proposals


def test_accept_assigns_the_provider(consultant, world, done_run):
    proposal = Proposal.objects.get(run=done_run)
    url = f"/workspace/matching/{done_run.pk}/proposals/{proposal.pk}/accept/"
    response = consultant.post(url, follow=True)
    assert response.redirect_chain == [(f"/workspace/matching/{done_run.pk}/#proposal-{proposal.pk}", 302)]
    assert "Accepteret" in text_of(response)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.decided_by == world.consultant
    need = SupportNeed.objects.get(pk=proposal.need_id)
    assert need.status == NeedStatus.ASSIGNED and need.current_provider == world.provider

    again = consultant.post(url)  # a second click, or a colleague who was quicker
    assert again.status_code == 409
    assert "Der er allerede taget stilling til forslaget (accepteret)." in text_of(again)
    english = consultant.post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 409
    assert "This proposal was already decided (accepted)." in text_of(english)


def test_reject_needs_a_reason(consultant, done_run):
    proposal = Proposal.objects.get(run=done_run)
    url = f"/workspace/matching/{done_run.pk}/proposals/{proposal.pk}/reject/"
    refused = consultant.post(url, {f"p{proposal.pk}r-reason": "   "})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'aria-invalid="true"' in html and "<details class=\"decision__more\" open>" in html
    assert "Skriv, hvorfor forslaget afvises." in text_of(refused)
    english = consultant.post(url, {f"p{proposal.pk}r-reason": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 400 and "Say why the proposal is rejected." in text_of(english)
    # The language switch on this re-render returns to the run, not to the POST-only URL.
    assert f'name="next" value="/workspace/matching/{done_run.pk}/"' in html
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.PENDING

    response = consultant.post(url, {f"p{proposal.pk}r-reason": "Familien kender supervisoren privat"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED
    assert proposal.decision_reason == "Familien kender supervisoren privat"
    page = text_of(consultant.get(f"/workspace/matching/{done_run.pk}/"))
    assert "Afvist" in page and "Familien kender supervisoren privat" in page


def test_override_checks_hard_rules_and_shows_why(consultant, world, django_capture_on_commit_callbacks):
    add_need(world, required_competences=["self_harm"])
    add_provider(world, "Specialist (fiktiv)", competences=("self_harm",))
    generalist = add_provider(world, "Generalist (fiktiv)")
    start_run(consultant, django_capture_on_commit_callbacks)
    run = MatchingRun.objects.get(municipality=world.aarhus)
    proposal = Proposal.objects.get(run=run)
    url = f"/workspace/matching/{run.pk}/proposals/{proposal.pk}/override/"
    prefix = f"p{proposal.pk}o"

    refused = consultant.post(url, {f"{prefix}-provider": generalist.pk, f"{prefix}-reason": "kendt af familien"})
    assert refused.status_code == 409
    assert "Generalist (fiktiv) kan ikke tage dette behov: mangler den krævede kompetence selvskade." in text_of(
        refused
    )
    assert 'role="alert"' in refused.content.decode()
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.PENDING

    other = add_provider(world, "Anden specialist (fiktiv)", competences=("self_harm",))
    response = consultant.post(url, {f"{prefix}-provider": other.pk, f"{prefix}-reason": "kontinuitet"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OVERRIDDEN and proposal.override_provider == other
    assert SupportNeed.objects.get(pk=proposal.need_id).current_provider == other


def test_override_offers_only_providers_serving_the_municipality(consultant, world, done_run):
    odense_only = add_provider(world, "Odense-supervisor (fiktiv)")
    odense_only.municipalities.set([world.odense])
    add_provider(world, "Aarhus-supervisor (fiktiv)")
    page = consultant.get(f"/workspace/matching/{done_run.pk}/")
    text = text_of(page)
    assert "Aarhus-supervisor (fiktiv)" in text and "Odense-supervisor (fiktiv)" not in text

    proposal = Proposal.objects.get(run=done_run)
    prefix = f"p{proposal.pk}o"
    response = consultant.post(
        f"/workspace/matching/{done_run.pk}/proposals/{proposal.pk}/override/",
        {f"{prefix}-provider": odense_only.pk, f"{prefix}-reason": "forsøg"},
    )
    assert response.status_code == 400  # not a choice on the form
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.PENDING


def test_unmatched_needs_show_their_reasons(consultant, world, django_capture_on_commit_callbacks):
    add_need(world, service="substance_treatment", recipient="birth_household")
    start_run(consultant, django_capture_on_commit_callbacks)
    run = MatchingRun.objects.get(municipality=world.aarhus)
    response = consultant.get(f"/workspace/matching/{run.pk}/")
    assert "Behov uden forslag" in text_of(response)
    assert "Ingen leverandør tilbyder misbrugsbehandling." in text_of(response)
    assert "substance_treatment" not in text_of(response)


@pytest.mark.parametrize("who", ["other_consultant", "foster_parent", "provider_user", "administrator", "outsider"])
def test_other_peoples_runs_are_not_found(client_for, world, done_run, who):
    client = client_for(getattr(world, who))
    proposal = Proposal.objects.get(run=done_run)
    assert client.get(f"/workspace/matching/{done_run.pk}/").status_code == 404
    assert client.get(f"/workspace/matching/{done_run.pk}/progress/").status_code == 404
    assert client.post(f"/workspace/matching/{done_run.pk}/proposals/{proposal.pk}/accept/").status_code == 404
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.PENDING


@pytest.mark.parametrize("who", ["foster_parent", "outsider"])
def test_matching_list_and_start_are_not_found_for_non_staff(client_for, world, who):
    client = client_for(getattr(world, who))
    assert client.get("/workspace/matching/").status_code == 404
    assert client.post("/workspace/matching/", {"municipality": world.aarhus.pk}).status_code == 404
    assert not MatchingRun.objects.exists()


def test_consultant_cannot_start_a_run_for_another_municipality(consultant, world):
    response = consultant.post("/workspace/matching/", {"municipality": world.odense.pk})
    assert response.status_code == 400
    assert not MatchingRun.objects.exists()


def test_run_of_other_municipality_is_absent_from_the_list(client_for, world, done_run):
    response = client_for(world.other_consultant).get("/workspace/matching/")
    assert response.status_code == 200
    assert f'href="/workspace/matching/{done_run.pk}/"' not in response.content.decode()


def test_run_page_queries_do_not_grow_with_the_number_of_proposals(
    consultant, world, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for i in range(6):
        add_need(world, recipient="child", minutes_per_session=30 + i)
        add_provider(world, f"Supervisor {i} (fiktiv)")
    start_run(consultant, django_capture_on_commit_callbacks)
    run = MatchingRun.objects.get(municipality=world.aarhus)
    assert Proposal.objects.filter(run=run).count() == 6
    with django_assert_max_num_queries(12):
        response = consultant.get(f"/workspace/matching/{run.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count('name="p') >= 6 * 3  # every pending proposal has its forms
