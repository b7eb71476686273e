"""Writes go through services; what each reader gets back is only what they need."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from support.models import AuditEntry, Child, Household, Placement, Provider, SupportNeed
from tests.conftest import make_household


def test_consultant_registers_a_household_in_their_municipality(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:household-list"),
        {"municipality": world.aarhus.pk, "kind": "foster", "name": "Familien Ny (fiktiv)", "foster_type": "netvaerk",
         "postcode": "8000", "languages": ["da", "ar"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    household = Household.objects.get(pk=response.json()["id"])
    assert (household.municipality, household.languages) == (world.aarhus, ["da", "ar"])
    assert AuditEntry.objects.filter(action="household.create", object_id=str(household.pk)).exists()


def test_household_rules_answer_with_the_field(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:household-list"),
        {"municipality": world.aarhus.pk, "kind": "birth", "name": "X", "foster_type": "almen", "postcode": "80",
         "time_zone": "Mars/Olympus"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) >= {"foster_type", "postcode", "time_zone"}


def test_an_unused_household_can_be_removed_and_the_removal_is_recorded(world, client_for):
    spare = make_household(world.aarhus, "Oprettet ved en fejl (fiktiv)")
    response = client_for(world.consultant).delete(reverse("api:household-detail", args=[spare.pk]))
    assert response.status_code == 204
    assert not Household.objects.filter(pk=spare.pk).exists()
    assert AuditEntry.objects.filter(action="household.delete", object_id=str(spare.pk)).exists()


def test_a_household_with_members_is_kept(world, client_for):
    response = client_for(world.consultant).delete(reverse("api:household-detail", args=[world.foster_home.pk]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "referenced"
    assert "memberships" in response.json()["error"]["message"]


def test_a_cpr_number_is_kept_only_as_a_hash_and_never_shown(world, client_for):
    client = client_for(world.consultant)
    response = client.post(
        reverse("api:child-list"),
        {"municipality": world.aarhus.pk, "display_name": "E.", "birth_date": "2015-03-04", "cpr": "040315-1234"},
        format="json",
    )
    assert response.status_code == 201
    assert "cpr" not in response.json() and "040315" not in response.content.decode()
    assert response.json()["has_cpr"] is True
    child = Child.objects.get(pk=response.json()["id"])
    assert child.cpr_hash and "040315" not in child.cpr_hash

    again = client.post(
        reverse("api:child-list"),
        {"municipality": world.aarhus.pk, "display_name": "E2.", "birth_date": "2015-03-04", "cpr": "0403151234"},
        format="json",
    )
    assert again.status_code == 400
    assert "cpr" in again.json()["error"]["fields"]


def test_a_malformed_cpr_number_or_a_future_birth_date_is_refused(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:child-list"),
        {"municipality": world.aarhus.pk, "display_name": "F.", "birth_date": "2099-01-01", "cpr": "991399-0000"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"cpr", "birth_date"}


def test_placing_a_child_defaults_the_consultant_to_you_and_allows_one_active_placement(world, client_for):
    client = client_for(world.consultant)
    child = Child.objects.create(municipality=world.aarhus, display_name="G.", birth_date=dt.date(2019, 1, 1))
    body = {"child": child.pk, "foster_household": world.other_foster_home.pk, "starts_on": "2026-10-01",
            "birth_households": [world.birth_home.pk]}
    response = client.post(reverse("api:placement-list"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["consultant"] == world.consultant.pk
    assert response.json()["birth_households"] == [world.birth_home.pk]

    second = client.post(reverse("api:placement-list"), body, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["fields"] == {"child": ["Already placed."]}


def test_a_placement_cannot_use_another_municipalitys_household(world, client_for):
    child = Child.objects.create(municipality=world.aarhus, display_name="H.", birth_date=dt.date(2019, 1, 1))
    response = client_for(world.consultant).post(
        reverse("api:placement-list"),
        {"child": child.pk, "foster_household": world.odense_foster_home.pk, "starts_on": "2026-10-01"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"foster_household"}
    assert not Placement.objects.filter(child=child).exists()


def test_a_placement_with_both_a_home_and_an_institution_is_refused(world, client_for):
    child = Child.objects.create(municipality=world.aarhus, display_name="I.", birth_date=dt.date(2019, 1, 1))
    response = client_for(world.consultant).post(
        reverse("api:placement-list"),
        {"child": child.pk, "foster_household": world.foster_home.pk, "institution_name": "Døgninstitution",
         "starts_on": "2018-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"institution_name", "starts_on"}


def test_breakdown_records_the_reason_and_ends_the_support(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:placement-breakdown", args=[world.placement.pk]),
        {"on": "2026-11-01", "reason": "birth_family_conflict", "note": "Fiktiv note."}, format="json",
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["breakdown_reason"]) == ("broke_down", "birth_family_conflict")
    assert response.json()["end_note"] == "Fiktiv note."


def test_a_breakdown_needs_a_known_reason(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:placement-breakdown", args=[world.placement.pk]), {"on": "2026-11-01", "reason": "weather"},
        format="json",
    )
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_ending_a_placement_before_its_support_started_ends_that_support_too(api_world, client_for):
    response = client_for(api_world.w.consultant).post(
        reverse("api:placement-end", args=[api_world.w.placement.pk]), {"on": "2026-11-01"}, format="json"
    )
    assert response.status_code == 200
    api_world.need.refresh_from_db()
    assert (api_world.need.status, api_world.need.ends_on) == ("ended", api_world.need.starts_on)


def test_foster_parents_stop_seeing_a_placement_and_its_child_when_it_ends(world, client_for):
    client_for(world.consultant).post(
        reverse("api:placement-end", args=[world.placement.pk]), {"on": "2026-11-01", "note": "Fiktiv intern note."},
        format="json",
    )
    foster_parent = client_for(world.foster_parent)
    assert foster_parent.get(reverse("api:placement-detail", args=[world.placement.pk])).status_code == 404
    assert foster_parent.get(reverse("api:child-detail", args=[world.child.pk])).status_code == 404


# --- Providers -----------------------------------------------------------------------------------------------


def test_consultant_registers_a_provider_for_their_municipality(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:provider-list"),
        {"name": "Psykolog (fiktiv)", "kind": "person", "latitude": 56.2, "longitude": 10.1,
         "capacity_minutes_per_week": 900, "max_cases": 6, "services": ["psychologist"],
         "competences": ["trauma", "self_harm"], "municipalities": [world.aarhus.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["services"], sorted(body["competences"]), body["municipalities"]) == (
        ["psychologist"], ["self_harm", "trauma"], [world.aarhus.pk]
    )


def test_unknown_service_codes_are_refused(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:provider-list"),
        {"name": "X", "latitude": 56.2, "longitude": 10.1, "capacity_minutes_per_week": 900, "max_cases": 6,
         "services": ["astrology"], "municipalities": [world.aarhus.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "services" in response.json()["error"]["fields"]


def test_a_consultant_changes_only_their_own_municipalitys_link_to_a_shared_provider(world, client_for):
    world.provider.municipalities.add(world.odense)
    response = client_for(world.consultant).patch(
        reverse("api:provider-detail", args=[world.provider.pk]), {"municipalities": []}, format="json"
    )
    assert response.status_code == 200, response.content
    assert set(Provider.objects.get(pk=world.provider.pk).municipalities.all()) == {world.odense}


def test_families_see_how_to_reach_a_provider_not_where_they_live(api_world, client_for):
    body = client_for(api_world.w.foster_parent).get(
        reverse("api:provider-detail", args=[api_world.w.provider.pk])
    ).json()
    assert body["name"] == api_world.w.provider.name
    assert body["latitude"] is body["longitude"] is body["capacity_minutes_per_week"] is None

    own = client_for(api_world.w.provider_user).get(reverse("api:provider-detail", args=[api_world.w.provider.pk]))
    assert own.json()["latitude"] == api_world.w.provider.latitude


# --- Support needs ---------------------------------------------------------------------------------------------


def test_consultant_creates_a_need_through_the_service(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:support-need-list"),
        {"placement": world.placement.pk, "recipient": "birth_household", "service": "family_therapy",
         "minutes_per_session": 90, "sessions_per_week": "0.5", "starts_on": "2026-11-09",
         "required_competences": ["attachment"], "priority": 5, "reason": "Fiktiv begrundelse."},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["recipient_household"], body["status"], body["priority"]) == (world.birth_home.pk, "open", 5)
    assert body["created_by"] == world.consultant.pk
    assert AuditEntry.objects.filter(action="support_need.create").exists()


def test_the_service_names_each_broken_rule(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:support-need-list"),
        {"placement": world.placement.pk, "recipient": "child", "service": "astrology", "minutes_per_session": 0,
         "sessions_per_week": "20", "starts_on": "2026-11-09", "ends_on": "2026-11-01", "priority": 9,
         "required_competences": ["telepathy"]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {
        "service", "minutes_per_session", "sessions_per_week", "ends_on", "priority", "required_competences",
    }
    assert not SupportNeed.objects.exists()


def test_a_provider_reads_its_need_without_the_case_behind_it(api_world, client_for):
    body = client_for(api_world.w.provider_user).get(
        reverse("api:support-need-detail", args=[api_world.need.pk])
    ).json()
    assert (body["service"], body["recipient_household"], body["required_competences"]) == (
        "supervision", api_world.w.foster_home.pk, ["trauma"]
    )
    for hidden in ["placement", "child", "priority", "reason", "excluded_providers", "created_by"]:
        assert body[hidden] is None, hidden
    text = str(body)
    assert api_world.w.child.display_name not in text and "2014-05-01" not in text


def test_staff_read_the_whole_need(api_world, client_for):
    body = client_for(api_world.w.team_lead).get(reverse("api:support-need-detail", args=[api_world.need.pk])).json()
    assert (body["placement"], body["child"], body["priority"]) == (api_world.w.placement.pk, api_world.w.child.pk, 4)
    assert body["reason"] == "Fictional reason a provider must not read."


def test_team_leads_read_but_do_not_create_needs(world, client_for):
    response = client_for(world.team_lead).post(reverse("api:support-need-list"), {}, format="json")
    assert response.status_code == 403
