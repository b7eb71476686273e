"""Who sees and manages calendar feeds, deliveries and CalDAV connections, in the style of test_permissions.

The tables are the specification: a list holds exactly the rows the role may see, a detail
answers 200 or 404, and a write answers 2xx for those who manage the row, 403 for those who see
it but may not change it, and 404 for everyone else.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from calendars.models import CalDavConnection, Channel, Feed, OutboxMessage, OutboxStatus
from calendars.services import feeds as feed_services
from support.models import Household, Provider, Team
from tests.api.conftest import ROLES
from tests.module_data import fresh_copy

NOW = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))

FEED_SUBJECTS = {
    "foster_home": lambda a: a.w.foster_home,
    "other_foster_home": lambda a: a.w.other_foster_home,
    "birth_home": lambda a: a.w.birth_home,
    "odense_foster_home": lambda a: a.w.odense_foster_home,
    "provider": lambda a: a.w.provider,
    "odense_provider": lambda a: a.odense_provider,
    "consultant": lambda a: a.w.consultant,
    "team_lead": lambda a: a.w.team_lead,
    "other_consultant": lambda a: a.w.other_consultant,
    "team": lambda a: a.w.team,
    "odense_team": lambda a: a.odense_team,
}
AARHUS_FEEDS = {"foster_home", "other_foster_home", "birth_home", "provider", "consultant", "team_lead", "team"}

# role -> the feeds it sees
FEEDS_VISIBLE = {
    "consultant": AARHUS_FEEDS,
    "team_lead": AARHUS_FEEDS,
    "other_consultant": {"odense_foster_home", "odense_provider", "other_consultant", "odense_team"},
    "foster_parent": {"foster_home"},
    "birth_parent": {"birth_home"},
    "provider_user": {"provider"},
    "administrator": set(FEED_SUBJECTS),
    "outsider": set(),
}
# feed -> who may rotate and revoke it (besides the global administrator)
FEED_MANAGERS = {
    "foster_home": {"foster_parent", "consultant", "team_lead"},
    "other_foster_home": {"consultant", "team_lead"},
    "birth_home": {"birth_parent", "consultant", "team_lead"},
    "odense_foster_home": {"other_consultant"},
    "provider": {"provider_user", "consultant", "team_lead"},
    "odense_provider": {"other_consultant"},
    "consultant": {"consultant", "team_lead"},  # themselves, and their team lead
    "team_lead": {"team_lead"},
    "other_consultant": {"other_consultant"},
    "team": {"consultant", "team_lead"},  # its members
    "odense_team": set(),  # the Odense consultant is in no team and leads none
}
# feed -> the parents who may opt it in to more detail
FEED_PARENTS = {"foster_home": "foster_parent", "birth_home": "birth_parent"}


def feed_status(role: str, key: str, ok: int) -> int:
    if role == "administrator" or role in FEED_MANAGERS[key]:
        return ok
    return 403 if key in FEEDS_VISIBLE[role] else 404


# The world is built once for the module (tests/api/conftest.py: _api_world_once).
@pytest.fixture
def api_world(_api_world_once, request, db):
    return fresh_copy(_api_world_once, request)


@pytest.fixture
def feeds(api_world) -> dict[str, Feed]:
    return {key: feed_services.issue_feed(subject=subject(api_world), by=api_world.w.administrator, now=NOW).feed
            for key, subject in FEED_SUBJECTS.items()}


def url(basename: str, pk=None, action: str | None = None) -> str:
    if action:
        return reverse(f"api:{basename}-{action}", args=[pk])
    return reverse(f"api:{basename}-list") if pk is None else reverse(f"api:{basename}-detail", args=[pk])


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# --- Feeds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_feed_list_holds_exactly_the_feeds_the_role_may_see(api_world, feeds, client_for, role):
    response = client_for(api_world.user(role)).get(url("calendar-feed"), {"page_size": 200})
    assert response.status_code == 200, response.content
    assert ids(response) == {feeds[key].pk for key in FEEDS_VISIBLE[role]}
    assert all("token" not in row and "token_hash" not in row for row in response.json()["results"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(FEED_SUBJECTS))
def test_feed_detail_answers_200_when_visible_and_404_otherwise(api_world, feeds, client_for, role, key):
    response = client_for(api_world.user(role)).get(url("calendar-feed", feeds[key].pk))
    assert response.status_code == (200 if key in FEEDS_VISIBLE[role] else 404), response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(FEED_SUBJECTS))
def test_rotating_is_for_the_owner_and_the_municipalitys_staff(api_world, feeds, client_for, role, key):
    feed = feeds[key]
    before = feed.token_hash
    response = client_for(api_world.user(role)).post(url("calendar-feed", feed.pk, "rotate"))
    assert response.status_code == feed_status(role, key, ok=200), response.content
    feed.refresh_from_db()
    assert (feed.token_hash != before) == (response.status_code == 200)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(FEED_SUBJECTS))
def test_revoking_is_refused_the_same_way(api_world, feeds, client_for, role, key):
    feed = feeds[key]
    response = client_for(api_world.user(role)).post(url("calendar-feed", feed.pk, "revoke"))
    assert response.status_code == feed_status(role, key, ok=200), response.content
    feed.refresh_from_db()
    assert (feed.revoked_at is not None) == (response.status_code == 200)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(FEED_SUBJECTS))
def test_only_the_households_parents_choose_more_detail(api_world, feeds, client_for, role, key):
    feed = feeds[key]
    response = client_for(api_world.user(role)).patch(url("calendar-feed", feed.pk), {"detailed": True}, format="json")
    if key not in FEEDS_VISIBLE[role]:
        expected = 404
    elif FEED_PARENTS.get(key) == role:
        expected = 200
    else:
        expected = 400  # staff may manage the feed, but what it shows is the family's choice
    assert response.status_code == expected, response.content
    feed.refresh_from_db()
    assert feed.detailed == (expected == 200)


SUBJECT_FIELD = {
    "foster_home": "household", "other_foster_home": "household", "birth_home": "household",
    "odense_foster_home": "household", "provider": "provider", "odense_provider": "provider",
    "consultant": "consultant", "team_lead": "consultant", "other_consultant": "consultant", "team": "team",
    "odense_team": "team",
}


def _subject_visible(api_world, role: str, key: str) -> bool:
    """Whether the role can name the subject at all (else 400 on the field, as for any unseen id)."""
    user, subject = api_world.user(role), FEED_SUBJECTS[key](api_world)
    model = {"household": Household, "provider": Provider, "team": Team}.get(SUBJECT_FIELD[key])
    if model is None:
        from api.serializers_calendars import feed_consultants

        return feed_consultants(user).filter(pk=subject.pk).exists()
    return model.objects.for_user(user).filter(pk=subject.pk).exists()


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
@pytest.mark.parametrize("key", list(FEED_SUBJECTS))
def test_creating_a_feed_is_for_those_who_manage_its_subject(api_world, client_for, role, key):
    subject = FEED_SUBJECTS[key](api_world)
    user = None if role == "anonymous" else api_world.user(role)
    response = client_for(user).post(url("calendar-feed"), {SUBJECT_FIELD[key]: subject.pk}, format="json")
    if role == "anonymous":
        assert response.status_code == 401
        return
    if not _subject_visible(api_world, role, key):
        # Administrators configure and do not read cases: households are not theirs to name either.
        assert response.status_code == 400, response.content
        assert SUBJECT_FIELD[key] in response.json()["error"]["fields"]
    elif role == "administrator" or role in FEED_MANAGERS[key]:
        assert response.status_code == 201, response.content
        assert len(response.json()["token"]) >= 43
    else:
        assert response.status_code == 403, response.content
    assert Feed.objects.exists() == (response.status_code == 201)


def test_the_team_lead_can_see_but_not_manage_the_consultants_feed_of_the_other_way_round(api_world, feeds, client_for):
    # The specification above, in words: a consultant sees their team lead's feed (same municipality)
    # but only the team lead manages it.
    response = client_for(api_world.w.consultant).post(url("calendar-feed", feeds["team_lead"].pk, "revoke"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


# --- Deliveries -----------------------------------------------------------------------------------------------


def _connection(provider) -> CalDavConnection:
    connection = CalDavConnection(provider=provider, url="https://caldav.example.test/cal/", username="u",
                                  created_at=NOW, updated_at=NOW)
    connection.set_password("app-password")
    connection.save()
    return connection


def _row(key: str, **fields) -> OutboxMessage:
    return OutboxMessage.objects.create(key=key, uid=f"{key}@plejenet", not_before=NOW, created_at=NOW, updated_at=NOW,
                                        **fields)


@pytest.fixture
def deliveries(api_world) -> dict[str, OutboxMessage]:
    w = api_world.w
    connections = {"provider": _connection(w.provider), "odense_provider": _connection(api_world.odense_provider)}
    return {
        "aarhus_email": _row("a", channel=Channel.EMAIL, method="REQUEST", recipient="testrup@family.test",
                             municipality=w.aarhus, payload={"body": "Privat tekst"}),
        "odense_email": _row("o", channel=Channel.EMAIL, method="CANCEL", recipient="eksempel@family.test",
                             municipality=w.odense, status=OutboxStatus.FAILED, attempts=3, last_error="SMTP 550"),
        "aarhus_caldav": _row("ac", channel=Channel.CALDAV, method="SYNC", connection=connections["provider"],
                              municipality=w.aarhus),
        "odense_caldav": _row("oc", channel=Channel.CALDAV, method="SYNC", connection=connections["odense_provider"],
                              municipality=w.odense),
    }


DELIVERIES_VISIBLE = {
    "consultant": {"aarhus_email", "aarhus_caldav"},
    "team_lead": {"aarhus_email", "aarhus_caldav"},
    "other_consultant": {"odense_email", "odense_caldav"},
    "foster_parent": set(),
    "birth_parent": set(),
    "provider_user": {"aarhus_caldav"},  # pushes to its own calendar
    "administrator": {"aarhus_email", "odense_email", "aarhus_caldav", "odense_caldav"},
    "outsider": set(),
}


@pytest.mark.parametrize("role", ROLES)
def test_delivery_list_holds_exactly_the_rows_the_role_may_see(api_world, deliveries, client_for, role):
    response = client_for(api_world.user(role)).get(url("calendar-delivery"), {"page_size": 200})
    assert response.status_code == 200, response.content
    assert ids(response) == {deliveries[key].pk for key in DELIVERIES_VISIBLE[role]}
    assert "Privat tekst" not in response.content.decode()
    assert all("payload" not in row for row in response.json()["results"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["aarhus_email", "odense_email", "aarhus_caldav", "odense_caldav"])
def test_delivery_detail_answers_200_when_visible_and_404_otherwise(api_world, deliveries, client_for, role, key):
    response = client_for(api_world.user(role)).get(url("calendar-delivery", deliveries[key].pk))
    assert response.status_code == (200 if key in DELIVERIES_VISIBLE[role] else 404), response.content


def test_deliveries_can_only_be_read(api_world, deliveries, client_for):
    client = client_for(api_world.w.administrator)
    pk = deliveries["aarhus_email"].pk
    assert client.post(url("calendar-delivery"), {}, format="json").status_code == 405
    assert client.patch(url("calendar-delivery", pk), {}, format="json").status_code == 405
    assert client.delete(url("calendar-delivery", pk)).status_code == 405


# --- CalDAV connections ------------------------------------------------------------------------------------------


@pytest.fixture
def connections(api_world) -> dict[str, CalDavConnection]:
    return {"provider": _connection(api_world.w.provider), "odense_provider": _connection(api_world.odense_provider)}


CALDAV_VISIBLE = {
    "consultant": {"provider"}, "team_lead": {"provider"}, "other_consultant": {"odense_provider"},
    "foster_parent": set(), "birth_parent": set(), "provider_user": {"provider"},
    "administrator": {"provider", "odense_provider"}, "outsider": set(),
}
CALDAV_WRITERS = {"provider": {"provider_user", "administrator"}, "odense_provider": {"administrator"}}


def caldav_status(role: str, key: str, ok: int) -> int:
    if role in CALDAV_WRITERS[key]:
        return ok
    return 403 if key in CALDAV_VISIBLE[role] else 404


@pytest.mark.parametrize("role", ROLES)
def test_caldav_list_holds_exactly_the_connections_the_role_may_see(api_world, connections, client_for, role):
    response = client_for(api_world.user(role)).get(url("caldav-connection"), {"page_size": 200})
    assert response.status_code == 200, response.content
    assert ids(response) == {connections[key].pk for key in CALDAV_VISIBLE[role]}
    body = response.content.decode()
    assert "password" not in body and "app-password" not in body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["provider", "odense_provider"])
def test_caldav_detail_answers_200_when_visible_and_404_otherwise(api_world, connections, client_for, role, key):
    response = client_for(api_world.user(role)).get(url("caldav-connection", connections[key].pk))
    assert response.status_code == (200 if key in CALDAV_VISIBLE[role] else 404), response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["provider", "odense_provider"])
def test_disconnecting_is_for_the_providers_own_users(api_world, connections, client_for, role, key):
    connection = connections[key]
    response = client_for(api_world.user(role)).delete(url("caldav-connection", connection.pk))
    assert response.status_code == caldav_status(role, key, ok=204), response.content
    connection.refresh_from_db()
    assert (connection.status == "disconnected") == (response.status_code == 204)
    assert (connection.password_encrypted == "") == (response.status_code == 204)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["provider", "odense_provider"])
def test_changing_a_connection_is_refused_the_same_way(api_world, connections, client_for, role, key):
    # An unreachable address: a writer passes the permission check and gets the server's 400.
    connection = connections[key]
    body = {"url": "https://127.0.0.1:9/cal/", "username": "u"}
    response = client_for(api_world.user(role)).patch(url("caldav-connection", connection.pk), body, format="json")
    assert response.status_code == caldav_status(role, key, ok=400), response.content
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "caldav_unreachable"
    connection.refresh_from_db()
    assert connection.url == "https://caldav.example.test/cal/"


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_connecting_is_for_provider_users_and_only_their_own_provider(api_world, client_for, role):
    user = None if role == "anonymous" else api_world.user(role)
    body = {"provider": api_world.w.provider.pk, "url": "https://127.0.0.1:9/cal/", "username": "u", "password": "p"}
    response = client_for(user).post(url("caldav-connection"), body, format="json")
    if role == "anonymous":
        assert response.status_code == 401
    elif role in ("provider_user", "administrator"):
        # Allowed; the server cannot be reached, so the service refuses with 400 on the URL.
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "caldav_unreachable"
    else:
        assert response.status_code == 403, response.content
    assert not CalDavConnection.objects.exists()
    body["provider"] = api_world.odense_provider.pk
    if role == "provider_user":
        response = client_for(user).post(url("caldav-connection"), body, format="json")
        assert response.status_code == 400 and "provider" in response.json()["error"]["fields"]
