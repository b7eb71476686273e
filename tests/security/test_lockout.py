"""Login throttling (django-axes): repeated failures pause sign-in for that username, on every path."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF_MINUTES = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def fail(client, url: str, username: str, times: int, **extra):
    return [client.post(url, {"username": username, "password": "wrong-password"}, **extra) for _ in range(times)]


def test_the_limit_and_cool_off_are_what_the_docs_say():
    assert (LIMIT, COOL_OFF_MINUTES) == (5, 15)
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]


def test_sign_in_page_locks_the_username_after_the_limit_with_a_clear_message(world):
    client = Client()
    answers = fail(client, "/login/", "konsulent", LIMIT - 1)
    assert {a.status_code for a in answers} == {200}  # the form again, "wrong password"
    assert fail(client, "/login/", "konsulent", 1)[0].status_code == 429

    # Now even the right password is refused, from this and any other address.
    for address in ("127.0.0.1", "198.51.100.7"):
        client = Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")  # the messages are checked in English
        response = client.post("/login/", {"username": "konsulent", "password": "pw-konsulent-123"})
        assert response.status_code == 429
        text = response.content.decode()
        assert f"{LIMIT} failed sign-in attempts" in text
        assert f"paused for {COOL_OFF_MINUTES} minutes" in text
        assert response["Retry-After"] == str(COOL_OFF_MINUTES * 60)
        assert "_auth_user_id" not in Client().session

    # Other people are not affected.
    assert Client().post("/login/", {"username": "teamleder", "password": "pw-teamleder-123"}).status_code == 302


def test_the_lock_lifts_after_the_cool_off(world):
    fail(Client(), "/login/", "konsulent", LIMIT)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=COOL_OFF_MINUTES, seconds=5), tick=False):
        response = Client().post("/login/", {"username": "konsulent", "password": "pw-konsulent-123"})
    assert response.status_code == 302


def test_a_success_before_the_limit_resets_the_count(world):
    client = Client()
    fail(client, "/login/", "konsulent", LIMIT - 1)
    assert client.post("/login/", {"username": "konsulent", "password": "pw-konsulent-123"}).status_code == 302
    client.logout()
    assert {r.status_code for r in fail(Client(), "/login/", "konsulent", LIMIT - 1)} == {200}


def test_admin_login_is_locked_too(world):
    client = Client()
    fail(client, "/admin/login/", "admin", LIMIT)
    response = client.post("/admin/login/", {"username": "admin", "password": "pw-admin-123"})
    assert response.status_code == 429


def test_api_token_endpoint_is_locked_with_the_api_error_shape(world):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    answers = [
        client.post("/api/v1/auth/token/", {"username": "udenforstaaende", "password": "nope"}, format="json")
        for _ in range(LIMIT)
    ]
    assert [a.status_code for a in answers[:-1]] == [400] * (LIMIT - 1)
    assert answers[-1].status_code == 429
    response = client.post(
        "/api/v1/auth/token/", {"username": "udenforstaaende", "password": "pw-udenforstaaende-123"}, format="json"
    )
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "locked_out"
    assert f"{COOL_OFF_MINUTES} minutes" in body["error"]["message"]
    assert "token" not in body


@pytest.mark.parametrize("header", ["198.51.100.9", "10.0.0.1, 198.51.100.9"])
def test_behind_the_proxy_the_last_forwarded_address_is_the_client(header, settings):
    from django.test import RequestFactory

    from security.lockout import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=header)
    settings.SECURE_PROXY_SSL_HEADER = None
    assert client_ip(request) == "10.1.1.1"  # not behind a proxy: the header is the client's word, ignored
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client_ip(request) == "198.51.100.9"


def test_axes_log_lines_name_no_username_or_address(world, caplog):
    caplog.set_level("INFO", logger="axes")
    fail(Client(REMOTE_ADDR="198.51.100.23"), "/login/", "konsulent", 2)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("axes"))
    assert text and "konsulent" not in text and "198.51.100.23" not in text
