"""config/errors.py: with the database unreachable, requests answer 503 + Retry-After, not 500.

The database is made unreachable for real: the connection is pointed at a port nobody listens on
(PostgreSQL only). tests/chaos/test_faults.py does the
same with a PostgreSQL server that is actually stopped and restarted under gunicorn.
"""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database_down(transactional_db):
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="Django never closes an in-memory SQLite test database, so it cannot be made unreachable")
def test_pages_and_api_answer_503_with_retry_after(database_down):
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32  # loading the session needs the database (in a middleware)
    page = client.get("/workspace/", HTTP_ACCEPT_LANGUAGE="da")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert b"Traceback" not in page.content and "midlertidigt utilg" in page.content.decode()

    api = Client(raise_request_exception=False).get("/api/v1/me/", HTTP_AUTHORIZATION="Token " + "a" * 40)
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert api.json()["error"]["code"] == "service_unavailable"

    assert Client().get("/healthz").status_code == 503


def test_other_errors_stay_500(db):
    """A reachable database and an unforeseen error: the ordinary 500 page, no 503."""
    from django.db import OperationalError

    from config.errors import database_unavailable

    assert database_unavailable(ValueError("boom")) is False
    connection.ensure_connection()
    assert database_unavailable(OperationalError("a lock timeout, say")) is False
