"""Feed tokens, API tokens and CalDAV secrets never reach error pages, error reports or logs."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.views.debug import ExceptionReporter

from security.redaction import redact
from tests.security.urls_boom import API_TOKEN, CALDAV_PASSWORD, FEED_TOKEN, OTP_CODE, PASSWORD

SECRETS = [FEED_TOKEN, API_TOKEN, CALDAV_PASSWORD]


@pytest.fixture
def log_output():
    """What the configured console handler (JSON formatter, request-id filter) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "name", "") == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.mark.urls("tests.security.urls_boom")
def test_500_page_and_logs_hold_no_token(db, log_output):
    assert settings.DEBUG is False
    client = Client(raise_request_exception=False)
    feed = client.get(f"/cal/{FEED_TOKEN}/boom/")
    api = client.post("/boom/", {"caldav_password": CALDAV_PASSWORD}, HTTP_AUTHORIZATION=f"Token {API_TOKEN}")
    for response in (feed, api):
        assert response.status_code == 500
        page = response.content.decode()
        assert "Plejenet" in page and "Traceback" not in page  # our 500 page, not a debug page
        assert not any(secret in page for secret in SECRETS)
    logged = log_output.getvalue()
    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]
    errors = [line for line in lines if line["logger"] == "django.request" and line["level"] == "ERROR"]
    assert len(errors) == 2 and all("exc" in line for line in errors)  # the errors are logged, with tracebacks
    assert not any(secret in logged for secret in SECRETS), logged


def request_with_secrets():
    return RequestFactory().post(
        "/boom/",
        {"password": PASSWORD, "otp_token": OTP_CODE, "caldav_password": CALDAV_PASSWORD, "feed_token": FEED_TOKEN,
         "name": "visible"},
        HTTP_AUTHORIZATION=f"Token {API_TOKEN}",
    )


def test_error_reports_hide_post_fields_headers_and_credentials(db):
    # (The secrets are constants from another module: a report shows the source lines around the
    # failing line, and literal secrets there would be the test's own leak, not the filter's.)
    request = request_with_secrets()
    try:
        api_key = API_TOKEN  # noqa: F841  (a local variable the report would print)
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        text = reporter.get_traceback_text()
        html = reporter.get_traceback_html()
    for report in (text, html):
        assert "visible" in report  # the report is there, just without the secrets
        assert not any(secret in report for secret in [*SECRETS, PASSWORD, OTP_CODE])


def test_settings_with_credentials_are_hidden_in_reports(settings):
    settings.DATABASE_URL = "postgres://plejenet:db-hunter22@db/plejenet"
    settings.FIELD_ENCRYPTION_KEYS = ["fernet-key-material"]
    from django.views.debug import get_default_exception_reporter_filter

    safe = get_default_exception_reporter_filter().get_safe_settings()
    assert "db-hunter22" not in str(safe["DATABASE_URL"])
    assert "fernet-key-material" not in str(safe["FIELD_ENCRYPTION_KEYS"])


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"Authorization: Token {API_TOKEN}", API_TOKEN),
        (f"GET /cal/{FEED_TOKEN}.ics", FEED_TOKEN),
        (f"refused password={CALDAV_PASSWORD}", CALDAV_PASSWORD),
        (json.dumps({"caldav_password": CALDAV_PASSWORD}), CALDAV_PASSWORD),
        ("smtp://mailer:smtp-hunter22@smtp.example.org:587", "smtp-hunter22"),
        ("token gAAAAABnZmVybmV0LXRva2VuLXRoYXQtaXMtbG9uZw==", "gAAAAABnZmVybmV0"),
    ],
)
def test_redaction_cuts_each_kind_of_secret(line, secret):
    assert secret not in redact(line)
    assert "<redacted>" in redact(line)


def test_redaction_keeps_request_ids_and_cpr_hashes_readable():
    line = "request 7f3a9c2b4d5e6f708192a3b4c5d6e7f8 child cpr_hash " + "ab" * 32
    assert redact(line) == line
