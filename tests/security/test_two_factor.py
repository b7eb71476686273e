"""Two-factor sign-in: staff set up and use a TOTP app; families may; API tokens follow the same rule."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support.models import AuditEntry
from tests.security.otp import code_for, confirmed_device_for

TOKEN_URL = "/api/v1/auth/token/"


def sign_in(client: Client, username: str) -> None:
    response = client.post("/login/", {"username": username, "password": f"pw-{username}-123"})
    assert response.status_code == 302, response.content.decode()[:500]


def test_consultant_is_sent_to_setup_confirms_a_code_and_reaches_the_workspace(world):
    client = Client()
    sign_in(client, "konsulent")

    response = client.get("/workspace/")
    assert response.status_code == 302
    assert response["Location"] == "/security/2fa/setup/?next=%2Fworkspace%2F"

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, made here, no network
    device = TOTPDevice.objects.get(user=world.consultant, confirmed=False)
    assert re.sub(r"\s", "", re.search(r'class="manual-key">([^<]+)<', html).group(1))  # key to type by hand

    response = client.post("/security/2fa/setup/", {"otp_token": code_for(device), "next": "/workspace/"})
    assert response.status_code == 302 and response["Location"] == "/workspace/"
    device.refresh_from_db()
    assert device.confirmed
    workspace = client.get("/workspace/")
    assert workspace.status_code == 200
    assert "Demo-barn A." in workspace.content.decode()
    assert AuditEntry.objects.filter(actor=world.consultant, action="security.otp_enrolled").exists()


def test_a_wrong_setup_code_is_refused_and_the_device_stays_unconfirmed(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    sign_in(client, "teamleder")
    client.get("/security/2fa/setup/")
    device = TOTPDevice.objects.get(user=world.team_lead)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post("/security/2fa/setup/", {"otp_token": wrong})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/workspace/").status_code == 302


def test_staff_with_a_device_must_enter_a_code_at_every_sign_in(world):
    device = confirmed_device_for(world.consultant)
    client = Client()
    sign_in(client, "konsulent")
    response = client.get("/workspace/")
    assert response["Location"] == "/security/2fa/verify/?next=%2Fworkspace%2F"
    assert client.get("/security/2fa/setup/").status_code == 302  # no self-service reset of the device

    assert client.post("/security/2fa/verify/", {"otp_token": "000000", "next": "/workspace/"}).status_code == 400
    assert AuditEntry.objects.filter(actor=world.consultant, action="security.otp_failed").exists()

    # Right after a wrong code the device waits a moment (django-otp throttling) ...
    assert client.post("/security/2fa/verify/", {"otp_token": code_for(device)}).status_code == 429
    # ... then the right code lets them in.
    with time_machine.travel(time.time() + 3, tick=False):
        response = client.post("/security/2fa/verify/", {"otp_token": code_for(device), "next": "/workspace/"})
        assert response.status_code == 302 and response["Location"] == "/workspace/"
        assert client.get("/workspace/").status_code == 200


def test_a_code_is_accepted_only_once(world):
    device = confirmed_device_for(world.consultant)
    code = code_for(device)
    first, second = Client(), Client()
    sign_in(first, "konsulent")
    sign_in(second, "konsulent")
    assert first.post("/security/2fa/verify/", {"otp_token": code}).status_code == 302
    assert second.post("/security/2fa/verify/", {"otp_token": code}).status_code == 400


def test_verification_does_not_redirect_off_site(world):
    device = confirmed_device_for(world.consultant)
    client = Client()
    sign_in(client, "konsulent")
    response = client.post("/security/2fa/verify/", {"otp_token": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_administrators_and_admin_site_users_must_use_two_factor(world):
    client = Client()
    client.force_login(world.administrator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/security/2fa/setup/")


@pytest.mark.parametrize("who", ["foster_parent", "birth_parent", "provider_user"])
def test_families_and_providers_are_not_forced(world, who):
    client = Client()
    client.force_login(getattr(world, who))
    response = client.get("/")
    assert not response.get("Location", "").startswith("/security/")


def test_a_family_that_opted_in_must_then_enter_codes(world):
    confirmed_device_for(world.foster_parent)
    client = Client()
    client.force_login(world.foster_parent)
    assert client.get("/")["Location"].startswith("/security/2fa/verify/")


def test_session_api_calls_wait_for_the_code_with_the_api_error_shape(world):
    client = Client()
    client.force_login(world.consultant)
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "otp_required"


def test_verified_staff_reach_pages_and_the_session_api(world, verified_client_for):
    client = verified_client_for(world.consultant)
    assert client.get("/workspace/").status_code == 200
    assert client.get("/api/v1/me/").json()["username"] == "konsulent"


def test_token_clients_are_systems_and_are_not_asked_for_codes(world):
    token, _ = Token.objects.get_or_create(user=world.consultant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/me/").status_code == 200


# --- Tokens for staff only after two-factor (api.views.TokenView calls security.twofactor) ------------


def test_staff_without_a_device_get_no_token(world):
    response = APIClient().post(TOKEN_URL, {"username": "konsulent", "password": "pw-konsulent-123"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "otp_setup_required"
    assert not Token.objects.filter(user=world.consultant).exists()


def test_staff_get_a_token_only_with_a_current_code(world):
    device = confirmed_device_for(world.consultant)
    client = APIClient()
    body = {"username": "konsulent", "password": "pw-konsulent-123"}
    assert client.post(TOKEN_URL, body, format="json").json()["error"]["code"] == "otp_required"
    assert client.post(TOKEN_URL, {**body, "otp_token": "123"}, format="json").json()["error"]["code"] == "otp_invalid"
    assert client.post(TOKEN_URL, {**body, "otp_token": code_for(device)}, format="json").status_code == 429
    with time_machine.travel(time.time() + 3, tick=False):
        response = client.post(TOKEN_URL, {**body, "otp_token": code_for(device)}, format="json")
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=world.consultant).key


def test_a_system_account_gets_its_token_with_the_password(world):
    response = APIClient().post(
        TOKEN_URL, {"username": "udenforstaaende", "password": "pw-udenforstaaende-123"}, format="json"
    )
    assert response.status_code == 200 and response.json()["token"]
