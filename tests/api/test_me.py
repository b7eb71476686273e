"""GET /api/v1/me/: who you are, your roles and what they reach; and the two ways to sign in."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.test import APIClient

from support.models import AuditEntry

ME = reverse("api:me")


def test_consultant_sees_their_municipality_team_and_role(world, client_for):
    body = client_for(world.consultant).get(ME).json()
    assert body["username"] == "konsulent"
    assert body["roles"] == ["consultant"]
    assert body["is_global_administrator"] is False
    assert body["municipalities"] == [{"id": world.aarhus.pk, "code": "751", "name": "Aarhus", "roles": ["consultant"]}]
    assert body["teams"] == [{"id": world.team.pk, "name": "Familieplejen Nord", "municipality": world.aarhus.pk}]
    assert body["households"] == body["providers"] == []


def test_foster_parent_sees_their_household(world, client_for):
    body = client_for(world.foster_parent).get(ME).json()
    assert body["roles"] == ["foster_parent"]
    assert body["households"] == [{
        "id": world.foster_home.pk, "name": world.foster_home.name, "kind": "foster",
        "municipality": world.aarhus.pk, "roles": ["foster_parent"],
    }]
    assert [m["id"] for m in body["municipalities"]] == [world.aarhus.pk]


def test_provider_user_sees_their_provider(world, client_for):
    body = client_for(world.provider_user).get(ME).json()
    assert body["roles"] == ["provider"]
    assert body["providers"] == [{"id": world.provider.pk, "name": world.provider.name}]
    assert body["municipalities"] == body["households"] == []


def test_administrator_is_global(world, client_for):
    body = client_for(world.administrator).get(ME).json()
    assert body["roles"] == ["administrator"]
    assert body["is_global_administrator"] is True


def test_outsider_is_someone_with_no_roles(world, client_for):
    response = client_for(world.outsider).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["roles"] == body["municipalities"] == body["teams"] == body["households"] == body["providers"] == []


def test_anonymous_gets_401(db):
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_session_sign_in_works(world):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="konsulent", password="pw-konsulent-123")
    assert client.get(ME).json()["username"] == "konsulent"


def test_session_writes_need_the_csrf_token(world):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="konsulent", password="pw-konsulent-123")
    response = client.patch(reverse("api:household-detail", args=[world.foster_home.pk]), {"name": "X"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_token_is_issued_for_a_correct_password_and_then_signs_in(world):
    client = APIClient()
    response = client.post(reverse("api:token"), {"username": "plejemor", "password": "pw-plejemor-123"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert AuditEntry.objects.filter(action="auth.token", actor=world.foster_parent).exists()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(ME).json()["username"] == "plejemor"


def test_wrong_password_gets_no_token(world):
    response = APIClient().post(reverse("api:token"), {"username": "plejemor", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "non_field_errors" in response.json()["error"]["fields"]


def test_a_removed_membership_removes_the_access_at_once(world, client_for):
    client = client_for(world.foster_parent)
    assert client.get(reverse("api:household-detail", args=[world.foster_home.pk])).status_code == 200
    world.foster_parent.memberships.all().delete()
    assert client.get(reverse("api:household-detail", args=[world.foster_home.pk])).status_code == 404
    assert client.get(ME).json()["roles"] == []
