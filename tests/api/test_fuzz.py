"""Property-based fuzzing of the whole API with every role's credentials (schemathesis).

The OpenAPI document is loaded from the app itself (`/api/schema/` through the WSGI handler, no
network), so an endpoint added later is fuzzed without touching this file. Every generated
request is sent with each role's API token from `ApiWorld` (and anonymously). Every response must
be no server error and conform to the document: a documented status code and content type, and a
body (and headers) that match the documented schema.

Bounded and deterministic: a fixed seed, Hypothesis derandomized, `FUZZ_EXAMPLES` examples per
operation in the fuzzing phase (default 4, each sent as 9 callers; `make fuzz` runs more, with
schemathesis' coverage phase on).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.core.failures import FailureGroup

from tests.api.conftest import ROLES
from tests.module_data import fresh_copy

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# The coverage phase (boundary values, odd paths, wrong types for every parameter) is thorough and
# slow: `make fuzz` turns it on.
COVERAGE = os.environ.get("FUZZ_COVERAGE", "0") == "1"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261102,
        "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES},
        "phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}},
        # Not the string constants of our own source: they include the demo's names, which a fuzzed
        # URL would carry into Django's "Not Found: <path>" line, and the log guard fails on those.
        "analysis": {"constants": {"enabled": False}},
    }
)
# The schema as the app serves it (YAML from drf-spectacular), through Django's WSGI handler
# (the handler itself: get_wsgi_application() would run django.setup() and configure logging again).
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=CONFIG)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@pytest.fixture
def _requests_share_the_test_transaction():
    """Django's test Client does this too: a request must not close the connection that holds the
    test's transaction (the WSGI handler would, at the start and end of every request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _model_of(path: str):
    """The model behind an object path such as /api/v1/children/{id}/end/, if the view names one."""
    try:
        match = resolve(path.replace("{id}", "1"))
    except Resolver404:
        return None
    view = getattr(match.func, "cls", None)
    serializer = getattr(view, "serializer_class", None)
    return getattr(getattr(serializer, "Meta", None), "model", None)


def _existing_id(path: str, generated) -> object:
    """Mostly an id that exists (own, another household's, another municipality's row: the scoping
    decides whether the caller sees it), sometimes the generated one; chosen from the generated
    value, so the run stays deterministic."""
    model = _model_of(path)
    if model is None or not isinstance(generated, int) or generated % 4 == 0:
        return generated
    ids = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:40])
    return ids[generated % len(ids)] if ids else generated


# The world is built once for the module (tests/api/conftest.py: _api_world_once).
@pytest.fixture
def api_world(_api_world_once, request, db):
    return fresh_copy(_api_world_once, request)


@pytest.fixture
def role_headers(api_world) -> dict[str, dict[str, str]]:
    """Each role's API token header, and no header for an anonymous caller."""
    headers = {}
    for role in ROLES:
        token, _ = Token.objects.get_or_create(user=api_world.user(role))
        headers[role] = {"Authorization": f"Token {token.key}"}
    headers["anonymous"] = {}
    return headers


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_keeps_to_its_schema_for_every_role(case, role_headers, _requests_share_the_test_transaction):
    if "id" in (case.path_parameters or {}):
        case.path_parameters["id"] = _existing_id(case.path, case.path_parameters["id"])
    # Every generated request is sent once per role: the same input must be answered within the
    # schema whoever asks (most roles get 403/404; their own rows 200).
    for role, headers in role_headers.items():
        cache.clear()  # throttling counts would turn later requests into 429s
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as exc:
            raise FailureGroup(exc.exceptions, f"Sent as {role}. {exc.message}") from None
