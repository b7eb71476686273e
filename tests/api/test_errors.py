"""One error shape for every failure, and no input that makes the API answer 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from api.exceptions import exception_handler
from support.errors import Conflict, DomainError, NotFoundInScope
from tests.api.test_permissions import create_payloads
from tests.conftest import build_world
from tests.module_data import built_once, fresh_copy


@pytest.fixture(scope="module")
def _world_once(request, django_db_setup, django_db_blocker):
    """The tests send bad input at the named world; what gets through is rolled back: built once for the module."""
    yield from built_once(request, django_db_blocker, build_world)


@pytest.fixture
def world(_world_once, request, db):
    return fresh_copy(_world_once, request)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# --- The handler, directly -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "code", "fields"),
    [
        (DomainError("Bad.", fields={"x": ["no"]}), 400, "invalid", {"x": ["no"]}),
        (Conflict("Taken."), 409, "conflict", {}),
        (NotFoundInScope("Gone."), 404, "not_found", {}),
        (DjangoValidationError({"name": ["Required."], "__all__": ["Both."]}), 400, "invalid",
         {"name": ["Required."], "non_field_errors": ["Both."]}),
        (DjangoValidationError("Plain."), 400, "invalid", {"non_field_errors": ["Plain."]}),
        (exceptions.ValidationError({"items": [{}, {"name": ["Too long."]}]}), 400, "invalid",
         {"items.1.name": ["Too long."]}),
        (IntegrityError("boom"), 409, "conflict", {}),
        (exceptions.Throttled(wait=7), 429, "throttled", {}),
    ],
)
def test_handler_maps_each_kind_of_error_to_one_shape(exc, status, code, fields):
    response = exception_handler(exc, {})
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["fields"] == fields
    if status == 429:
        assert response["Retry-After"] == "7"


def test_handler_leaves_real_bugs_to_django():
    assert exception_handler(ZeroDivisionError(), {}) is None


def test_the_handler_is_the_projects_exception_handler():
    assert api_settings.EXCEPTION_HANDLER is exception_handler


# --- Through HTTP -----------------------------------------------------------------------------------------


def test_validation_errors_name_each_field(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:household-list"), {"municipality": world.aarhus.pk, "kind": "spaceship"}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"kind", "name"}


def test_model_rules_come_back_as_field_errors(world, client_for):
    # Household.clean(): a foster household needs its type under Barnets lov.
    response = client_for(world.consultant).post(
        reverse("api:household-list"), {"municipality": world.aarhus.pk, "kind": "foster", "name": "Uden type"},
        format="json",
    )
    assert response.status_code == 400
    assert "foster_type" in error_of(response)["fields"]


def test_domain_errors_keep_their_status_and_code(world, client_for):
    client = client_for(world.consultant)
    end = reverse("api:placement-end", args=[world.placement.pk])
    assert client.post(end, {"on": "2026-11-01"}, format="json").status_code == 200
    response = client.post(end, {"on": "2026-11-01"}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"


def test_unknown_and_fixed_fields_are_refused_not_ignored(world, client_for):
    response = client_for(world.consultant).patch(
        reverse("api:household-detail", args=[world.foster_home.pk]),
        {"municipality": world.odense.pk, "name": "Flyttet"}, format="json",
    )
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"municipality"}
    world.foster_home.refresh_from_db()
    assert (world.foster_home.municipality, world.foster_home.name) == (world.aarhus, "Familien Testrup (fiktiv)")


def test_malformed_json_is_a_400(world, client_for):
    response = client_for(world.consultant).post(
        reverse("api:household-list"), data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_wrong_method_and_wrong_type_have_the_shape_too(world, client_for):
    client = client_for(world.consultant)
    response = client.delete(reverse("api:provider-detail", args=[world.provider.pk]))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    response = client.post(reverse("api:household-list"), data="<x/>", content_type="application/xml")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_not_found_says_nothing_about_the_model(world, client_for):
    response = client_for(world.other_consultant).get(reverse("api:child-detail", args=[world.child.pk]))
    assert response.status_code == 404
    assert "child" not in error_of(response)["message"].lower()


# --- Throttling ------------------------------------------------------------------------------------------------


def test_throttling_is_on_for_every_view_with_rates_from_settings():
    names = {cls.__name__ for cls in APIView.throttle_classes}
    assert names == {"AnonRateThrottle", "UserRateThrottle"}
    assert api_settings.DEFAULT_THROTTLE_RATES["user"] and api_settings.DEFAULT_THROTTLE_RATES["anon"]


def test_too_many_requests_answer_429_per_user(world, client_for, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    consultant, foster_parent = client_for(world.consultant), client_for(world.foster_parent)
    statuses = [consultant.get(reverse("api:me")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another user has their own allowance.
    assert foster_parent.get(reverse("api:me")).status_code == 200

    response = consultant.get(reverse("api:me"))
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_password_guessing_is_throttled(world, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    client = APIClient()
    statuses = [
        client.post(reverse("api:token"), {"username": "konsulent", "password": f"guess{i}"}, format="json").status_code
        for i in range(3)
    ]
    assert statuses == [400, 400, 429]


# --- No input makes a 500 ---------------------------------------------------------------------------------

NASTY = [
    None, "", " ", "x" * 5000, "\x00", "é∑😀", -1, 0, 2**63, 10**30, 1.5, float("1e308"), True, [], {}, [1, "a"],
    {"id": 1}, "2026-02-30", "9999-12-31", "NaN", "-Infinity", "1; DROP TABLE support_child", "../../etc/passwd",
]


@pytest.fixture
def unthrottled(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": None, "anon": None})


@pytest.mark.parametrize("endpoint", ["household", "child", "placement", "provider", "support-need"])
def test_no_field_value_makes_create_fail_with_500(api_world, client_for, unthrottled, endpoint):
    body, _field = create_payloads(api_world)[endpoint]
    client = client_for(api_world.w.consultant)
    for field in body:
        for value in NASTY:
            response = client.post(reverse(f"api:{endpoint}-list"), {**body, field: value}, format="json")
            assert response.status_code in {201, 400, 409}, (field, value, response.content)
            if response.status_code != 201:
                error_of(response)


@pytest.mark.parametrize("endpoint", ["household", "child", "placement", "provider"])
def test_no_field_value_makes_update_fail_with_500(api_world, client_for, unthrottled, endpoint):
    from tests.api.test_permissions import OBJECTS

    body, _field = create_payloads(api_world)[endpoint]
    obj = next(iter(OBJECTS[endpoint].values()))(api_world)
    client = client_for(api_world.w.consultant)
    for field in body:
        for value in NASTY:
            response = client.patch(reverse(f"api:{endpoint}-detail", args=[obj.pk]), {field: value}, format="json")
            assert response.status_code in {200, 400, 409}, (field, value, response.content)


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"}, {"page": "abc"}, {"page": "99999"}, {"page_size": "-1"}, {"page_size": "abc"},
        {"page_size": "100000"}, {"ordering": "no_such_field"}, {"ordering": "-priority"},
        {"municipality": "abc"}, {"municipality": "99999999999999999999"}, {"municipality": "1.5"},
        {"born_after": "2020-13-45"}, {"ends_after": "yesterday"}, {"status": "nonsense"}, {"service": "\x00"},
        {"name": "x" * 3000},
    ],
)
@pytest.mark.parametrize(
    "endpoint", ["household", "child", "placement", "provider", "support-need", "membership", "provider-absence"]
)
def test_no_query_string_makes_a_list_fail_with_500(world, client_for, unthrottled, endpoint, query):
    response = client_for(world.consultant).get(reverse(f"api:{endpoint}-list"), query)
    assert response.status_code in {200, 400, 404}, response.content
    if response.status_code != 200:
        error_of(response)


@pytest.mark.parametrize("pk", ["abc", "-1", "0", "99999999999999999999", "1.5", "%00"])
@pytest.mark.parametrize("endpoint", ["household", "child", "placement", "provider", "support-need", "audit-entry"])
def test_no_id_makes_a_detail_fail_with_500(world, client_for, unthrottled, endpoint, pk):
    response = client_for(world.administrator).get(f"{reverse(f'api:{endpoint}-list')}{pk}/")
    assert response.status_code == 404
    error_of(response)
