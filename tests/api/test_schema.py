"""The OpenAPI document: generated without a warning, valid, complete about errors; docs with no CDN."""

from __future__ import annotations

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_schema_command_validates_and_has_no_warnings(tmp_path, db):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 0


def test_schema_endpoint_serves_a_valid_openapi_document(db):
    response = APIClient().get(reverse("api:schema"))
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    validate_schema(document)


def test_every_resource_of_v1_is_documented(schema):
    paths = set(schema["paths"])
    for resource in [
        "me", "auth/token", "municipalities", "teams", "memberships", "households", "children", "placements",
        "providers", "availability", "provider-absences", "services", "competences", "support-needs", "audit-log",
    ]:
        assert f"/api/v1/{resource}/" in paths
    assert {"/api/v1/placements/{id}/end/", "/api/v1/placements/{id}/breakdown/"} <= paths


def test_every_operation_documents_its_errors_in_the_one_error_shape(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"429"}
        if method in {"post", "put", "patch"}:
            expected.add("400")
        if path != "/api/v1/auth/token/":
            expected |= {"401", "403"}
        if "{id}" in path:
            expected.add("404")
        if method in {"post", "put", "patch", "delete"}:
            expected.add("409")
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            assert responses[code]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


def test_the_audit_log_can_only_be_read(schema):
    assert set(schema["paths"]["/api/v1/audit-log/"]) == {"get"}
    assert set(schema["paths"]["/api/v1/audit-log/{id}/"]) == {"get"}


def test_every_field_is_typed_and_every_enum_listed(schema):
    for name, component in schema["components"]["schemas"].items():
        if "enum" in component:
            assert component["enum"], name
            continue
        for field, spec in component.get("properties", {}).items():
            assert spec.get("type") or spec.get("$ref") or spec.get("allOf") or spec.get("oneOf"), (name, field)


def test_provider_facing_need_fields_say_they_are_for_staff(schema):
    need = schema["components"]["schemas"]["SupportNeed"]["properties"]
    for field in ["placement", "child", "priority", "reason", "excluded_providers"]:
        assert need[field]["nullable"] is True
        assert "Staff of the municipality only" in need[field]["description"]


def test_the_cpr_number_can_be_written_but_is_never_returned(schema):
    components = schema["components"]["schemas"]
    assert "cpr" in components["ChildCreateRequest"]["properties"]
    assert "cpr" not in components["Child"]["properties"]


def test_docs_page_loads_swagger_ui_from_our_own_static_files(db):
    response = APIClient().get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
