"""What the schemathesis run (test_fuzz.py) found, pinned down as plain tests."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def assert_json_not_found(response):
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_page_that_does_not_exist_is_a_documented_404(client_for, world, schema):
    assert_json_not_found(client_for(world.consultant).get("/api/v1/children/", {"page": 0}))
    responses = schema["paths"]["/api/v1/children/"]["get"]["responses"]
    assert responses["404"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_a_path_with_a_newline_answers_in_the_api_error_shape(client_for, world):
    assert_json_not_found(client_for(world.consultant).get("/api/v1/children/1%0A2/"))


def test_a_write_to_an_unknown_path_with_a_session_is_a_json_404_not_a_csrf_page(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.consultant)
    assert_json_not_found(client.delete("/api/v1/children/%C2%84/"))
    assert_json_not_found(client.post("/api/v1/no-such-resource/", {}))


def test_an_empty_email_is_within_the_documented_schema(client_for, world, schema):
    components = schema["components"]["schemas"]
    for name in ["Household", "Provider", "Me"]:
        assert "format" not in components[name]["properties"]["email"], name
    households = client_for(world.consultant).get("/api/v1/households/").json()["results"]
    assert any(h["email"] == "" for h in households)


def test_a_get_that_reads_query_parameters_documents_400(schema):
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if operation and any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in operation["responses"], path
