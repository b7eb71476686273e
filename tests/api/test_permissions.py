"""Who sees and changes what: every endpoint x every role x own / other household's / other municipality's row.

The tables below are the specification. A list must hold exactly the rows the role may see (no
more: nothing leaks; no less: the scope works), a detail answers 200 or 404 (never a hint that a
hidden row exists), and a write answers 2xx for a consultant in the row's municipality, 403 for
someone who can see the row but not change it, and 404 for everyone else.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from support.models import AuditEntry, Competence, Membership, Service
from tests.api.conftest import ROLES
from tests.module_data import fresh_copy

AARHUS_STAFF = ("consultant", "team_lead")


# The world is built once for the module (tests/api/conftest.py: _api_world_once).
@pytest.fixture
def api_world(_api_world_once, request, db):
    return fresh_copy(_api_world_once, request)


# endpoint -> object key -> how to find it in ApiWorld
OBJECTS = {
    "municipality": {"aarhus": lambda a: a.w.aarhus, "odense": lambda a: a.w.odense},
    "team": {"aarhus_team": lambda a: a.w.team, "odense_team": lambda a: a.odense_team},
    "membership": {
        role: (lambda a, role=role: Membership.objects.get(user=a.user(role)))
        for role in [*ROLES[:-1], "other_foster_parent"]
    },
    "household": {
        "foster_home": lambda a: a.w.foster_home,
        "other_foster_home": lambda a: a.w.other_foster_home,
        "birth_home": lambda a: a.w.birth_home,
        "odense_foster_home": lambda a: a.w.odense_foster_home,
    },
    "child": {
        "child": lambda a: a.w.child, "other_child": lambda a: a.other_child, "odense_child": lambda a: a.odense_child,
    },
    "placement": {
        "placement": lambda a: a.w.placement,
        "other_placement": lambda a: a.other_placement,
        "odense_placement": lambda a: a.w.odense_placement,
    },
    "provider": {"provider": lambda a: a.w.provider, "odense_provider": lambda a: a.odense_provider},
    "availability": {key: (lambda a, key=key: a.availability[key]) for key in (
        "foster_home", "other_foster_home", "odense_foster_home", "provider", "odense_provider",
    )},
    "provider-absence": {"provider": lambda a: a.absence, "odense_provider": lambda a: a.odense_absence},
    "support-need": {"need": lambda a: a.need, "other_need": lambda a: a.other_need, "odense_need": lambda a: a.odense_need},
}

# endpoint -> role -> the object keys that role sees
VISIBLE: dict[str, dict[str, set[str]]] = {
    "municipality": {  # the municipalities one works for; families and providers learn theirs from /me
        "consultant": {"aarhus"}, "other_consultant": {"odense"}, "team_lead": {"aarhus"},
        "foster_parent": set(), "birth_parent": set(), "provider_user": set(),
        "administrator": {"aarhus", "odense"}, "outsider": set(),
    },
    "team": {
        "consultant": {"aarhus_team"}, "other_consultant": {"odense_team"}, "team_lead": {"aarhus_team"},
        "foster_parent": set(), "birth_parent": set(), "provider_user": set(),
        "administrator": {"aarhus_team", "odense_team"}, "outsider": set(),
    },
    "membership": {
        **{
            role: {"consultant", "team_lead", "foster_parent", "other_foster_parent", "birth_parent"}
            for role in AARHUS_STAFF
        },
        "other_consultant": {"other_consultant"}, "foster_parent": {"foster_parent"},
        "birth_parent": {"birth_parent"}, "provider_user": {"provider_user"},
        "administrator": set(OBJECTS["membership"]), "outsider": set(),
    },
    "household": {
        **{role: {"foster_home", "other_foster_home", "birth_home"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_foster_home"}, "foster_parent": {"foster_home"},
        "birth_parent": {"birth_home"}, "provider_user": {"foster_home"},  # it supports that household
        "administrator": set(), "outsider": set(),  # administrators configure; they do not read cases
    },
    "child": {
        **{role: {"child", "other_child"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_child"}, "foster_parent": {"child"}, "birth_parent": set(),
        "provider_user": set(), "administrator": set(), "outsider": set(),
    },
    "placement": {
        **{role: {"placement", "other_placement"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_placement"}, "foster_parent": {"placement"}, "birth_parent": set(),
        "provider_user": set(), "administrator": set(), "outsider": set(),
    },
    "provider": {
        **{role: {"provider"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_provider"}, "foster_parent": {"provider"},  # it supports them
        "birth_parent": set(), "provider_user": {"provider"},
        "administrator": {"provider", "odense_provider"}, "outsider": set(),
    },
    "availability": {
        **{role: {"foster_home", "other_foster_home", "provider"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_foster_home", "odense_provider"},
        "foster_parent": {"foster_home", "provider"}, "birth_parent": set(),
        "provider_user": {"provider", "foster_home"}, "administrator": {"provider", "odense_provider"},
        "outsider": set(),
    },
    "provider-absence": {
        **{role: {"provider"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_provider"}, "foster_parent": {"provider"}, "birth_parent": set(),
        "provider_user": {"provider"}, "administrator": {"provider", "odense_provider"}, "outsider": set(),
    },
    "support-need": {
        **{role: {"need", "other_need"} for role in AARHUS_STAFF},
        "other_consultant": {"odense_need"}, "foster_parent": {"need"}, "birth_parent": set(),
        "provider_user": {"need"}, "administrator": set(), "outsider": set(),
    },
}

# Who may change a row: consultants, in the row's own municipality.
WRITERS = {
    "household": {"foster_home": "consultant", "other_foster_home": "consultant", "birth_home": "consultant",
                  "odense_foster_home": "other_consultant"},
    "child": {"child": "consultant", "other_child": "consultant", "odense_child": "other_consultant"},
    "placement": {"placement": "consultant", "other_placement": "consultant", "odense_placement": "other_consultant"},
    "provider": {"provider": "consultant", "odense_provider": "other_consultant"},
}
PATCHES = {
    "household": {"name": "Omdøbt (fiktiv)"},
    "child": {"display_name": "Omdøbt B."},
    "placement": {"planned_end_on": "2031-07-31"},
    "provider": {"phone": "+45 11 22 33 44"},
}


def url(endpoint: str, pk=None) -> str:
    return reverse(f"api:{endpoint}-list") if pk is None else reverse(f"api:{endpoint}-detail", args=[pk])


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def visible_keys(endpoint: str, role: str) -> set[str]:
    return set(VISIBLE[endpoint][role])


LIST_CASES = [(endpoint, role) for endpoint in VISIBLE for role in ROLES]
DETAIL_CASES = [(endpoint, role, key) for endpoint in VISIBLE for role in ROLES for key in OBJECTS[endpoint]]


@pytest.mark.parametrize(("endpoint", "role"), LIST_CASES)
def test_list_holds_exactly_the_rows_the_role_may_see(api_world, client_for, endpoint, role):
    expected = {OBJECTS[endpoint][key](api_world).pk for key in visible_keys(endpoint, role)}
    response = client_for(api_world.user(role)).get(url(endpoint), {"page_size": 200})
    assert response.status_code == 200, response.content
    assert ids(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(("endpoint", "role", "key"), DETAIL_CASES)
def test_detail_answers_200_when_visible_and_404_otherwise(api_world, client_for, endpoint, role, key):
    obj = OBJECTS[endpoint][key](api_world)
    response = client_for(api_world.user(role)).get(url(endpoint, obj.pk))
    if key in visible_keys(endpoint, role):
        assert response.status_code == 200, response.content
        assert response.json()["id"] == obj.pk
    else:
        assert response.status_code == 404, response.content
        error = response.json()["error"]
        assert (error["code"], error["fields"]) == ("not_found", {})


@pytest.mark.parametrize("endpoint", [*VISIBLE, "service", "competence", "audit-entry"])
def test_anonymous_requests_answer_401(api_world, client_for, endpoint):
    client = client_for(None)
    assert client.get(url(endpoint)).status_code == 401
    response = client.get(url(endpoint, 1))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("endpoint", "model"), [("service", Service), ("competence", Competence)])
@pytest.mark.parametrize("role", ROLES)
def test_reference_data_is_readable_by_anyone_signed_in(api_world, client_for, endpoint, model, role):
    response = client_for(api_world.user(role)).get(url(endpoint), {"page_size": 200})
    assert response.status_code == 200
    assert ids(response) == set(model.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_audit_log_is_for_global_administrators_only(api_world, client_for, role):
    entry = AuditEntry.objects.first()
    client = client_for(api_world.user(role))
    list_response, detail_response = client.get(url("audit-entry")), client.get(url("audit-entry", entry.pk))
    if role == "administrator":
        assert list_response.status_code == 200
        assert ids(list_response) == set(AuditEntry.objects.values_list("pk", flat=True))
        assert detail_response.status_code == 200
    else:
        assert list_response.status_code == detail_response.status_code == 403
        assert list_response.json()["error"]["code"] == "permission_denied"


WRITE_CASES = [(endpoint, role, key) for endpoint in WRITERS for role in ROLES for key in OBJECTS[endpoint]]


def expected_write_status(endpoint: str, role: str, key: str, ok: int) -> int:
    if WRITERS[endpoint][key] == role:
        return ok
    return 403 if key in visible_keys(endpoint, role) else 404


@pytest.mark.parametrize(("endpoint", "role", "key"), WRITE_CASES)
def test_update_is_for_consultants_in_the_rows_municipality(api_world, client_for, endpoint, role, key):
    obj = OBJECTS[endpoint][key](api_world)
    response = client_for(api_world.user(role)).patch(url(endpoint, obj.pk), PATCHES[endpoint], format="json")
    assert response.status_code == expected_write_status(endpoint, role, key, ok=200), response.content
    field, value = next(iter(PATCHES[endpoint].items()))
    obj.refresh_from_db()
    assert (str(getattr(obj, field)) == value) == (response.status_code == 200)


@pytest.mark.parametrize(("endpoint", "role", "key"), [c for c in WRITE_CASES if c[0] != "provider"])
def test_delete_is_refused_the_same_way(api_world, client_for, endpoint, role, key):
    obj = OBJECTS[endpoint][key](api_world)
    response = client_for(api_world.user(role)).delete(url(endpoint, obj.pk))
    # For the consultant the row is still referred to (members, placements, support), so 409.
    assert response.status_code == expected_write_status(endpoint, role, key, ok=409), response.content
    assert type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(OBJECTS["placement"]))
@pytest.mark.parametrize("action", ["end", "breakdown"])
def test_ending_a_placement_is_for_its_municipalitys_consultants(api_world, client_for, role, key, action):
    placement = OBJECTS["placement"][key](api_world)
    body = {"on": "2026-11-10", "reason": "safety"} if action == "breakdown" else {"on": "2026-11-10"}
    response = client_for(api_world.user(role)).post(
        reverse(f"api:placement-{action}", args=[placement.pk]), body, format="json"
    )
    assert response.status_code == expected_write_status("placement", role, key, ok=200), response.content


def create_payloads(a) -> dict[str, tuple[dict, str]]:
    """endpoint -> (a valid body for Aarhus, the field that names Aarhus)."""
    from support.models import Child

    unplaced = Child.objects.create(municipality=a.w.aarhus, display_name="Ny C.", birth_date="2017-04-04")
    return {
        "household": (
            {"municipality": a.w.aarhus.pk, "kind": "foster", "name": "Ny familie (fiktiv)", "foster_type": "almen",
             "approved_places": 1},
            "municipality",
        ),
        "child": ({"municipality": a.w.aarhus.pk, "display_name": "Ny D.", "birth_date": "2018-05-05"}, "municipality"),
        "placement": (
            {"child": unplaced.pk, "foster_household": a.w.foster_home.pk, "starts_on": "2026-10-01"}, "child"
        ),
        "provider": (
            {"name": "Ny supervisor (fiktiv)", "latitude": 56.1, "longitude": 10.2, "capacity_minutes_per_week": 600,
             "max_cases": 4, "services": ["supervision"], "municipalities": [a.w.aarhus.pk]},
            "municipalities",
        ),
        "support-need": (
            {"placement": a.w.placement.pk, "recipient": "foster_household", "service": "home_guidance",
             "minutes_per_session": 60, "sessions_per_week": "1", "starts_on": "2026-11-02"},
            "placement",
        ),
    }


@pytest.mark.parametrize("endpoint", ["household", "child", "placement", "provider", "support-need"])
@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_create_is_for_consultants_and_only_in_their_municipality(api_world, client_for, endpoint, role):
    body, aarhus_field = create_payloads(api_world)[endpoint]
    user = None if role == "anonymous" else api_world.user(role)
    response = client_for(user).post(url(endpoint), body, format="json")
    if role == "consultant":
        assert response.status_code == 201, response.content
    elif role == "other_consultant":
        # A consultant, but Aarhus is not theirs: the field that names Aarhus is refused.
        assert response.status_code == 400, response.content
        assert aarhus_field in response.json()["error"]["fields"]
    elif role == "anonymous":
        assert response.status_code == 401
    else:
        assert response.status_code == 403, response.content


@pytest.mark.parametrize(
    # provider-absence takes POST (through the scheduler): tests/api/test_permissions_sessions.py
    "endpoint", ["municipality", "team", "membership", "service", "competence", "availability", "audit-entry"],
)
def test_read_only_resources_have_no_writes(api_world, client_for, endpoint):
    client = client_for(api_world.w.administrator)
    assert client.post(url(endpoint), {}, format="json").status_code == 405
    assert client.put(url(endpoint, 1), {}, format="json").status_code == 405
    assert client.patch(url(endpoint, 1), {}, format="json").status_code == 405
    assert client.delete(url(endpoint, 1)).status_code == 405
