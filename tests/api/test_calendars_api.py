"""Calendar feeds, deliveries and CalDAV over the API: what the writes do, and lists that cost the same."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from calendars import crypto
from calendars.access import hash_token
from calendars.models import CalDavConnection, Channel, Feed, OutboxMessage, OutboxStatus
from calendars.services import feeds as feed_services
from tests.calendars.conftest import radicale  # noqa: F401  (the real CalDAV server on loopback)
from tests.conftest import make_household

NOW = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))
_seq = itertools.count(1)


def feeds_url(pk=None, action=None) -> str:
    if action:
        return reverse(f"api:calendar-feed-{action}", args=[pk])
    return reverse("api:calendar-feed-list") if pk is None else reverse("api:calendar-feed-detail", args=[pk])


@pytest.fixture
def site(settings):
    settings.SITE_URL = "https://plejenet.example.dk"


# --- Feeds -------------------------------------------------------------------------------------------------------


def test_creating_a_feed_shows_its_token_and_links_once(api_world, client_for, client, site):
    w = api_world.w
    api = client_for(w.foster_parent)
    response = api.post(feeds_url(), {"household": w.foster_home.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert body["links"] == {"https": f"https://plejenet.example.dk/cal/{token}.ics",
                             "webcal": f"webcal://plejenet.example.dk/cal/{token}.ics"}
    assert (body["kind"], body["household"], body["is_live"], body["detailed"]) == ("household", w.foster_home.pk,
                                                                                    True, False)
    feed = Feed.objects.get(pk=body["id"])
    assert feed.token_hash == hash_token(token) and token not in feed.token_hash
    # Never again: not in the detail, not in the list.
    assert token not in api.get(feeds_url(feed.pk)).content.decode()
    assert token not in api.get(feeds_url()).content.decode()
    # And it is a working feed.
    fetched = client.get(f"/cal/{token}.ics")
    assert fetched.status_code == 200
    assert Calendar.from_ical(fetched.content)["VERSION"] == "2.0"


def test_a_second_live_feed_for_the_same_household_is_a_conflict(api_world, client_for):
    w = api_world.w
    api = client_for(w.consultant)
    assert api.post(feeds_url(), {"household": w.foster_home.pk}, format="json").status_code == 201
    response = api.post(feeds_url(), {"household": w.foster_home.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "feed_exists"


def test_rotating_kills_the_old_link_and_shows_the_new_one_once(api_world, client_for, client):
    w = api_world.w
    issued = feed_services.issue_feed(subject=w.provider, by=w.provider_user, now=NOW)
    response = client_for(w.provider_user).post(feeds_url(issued.feed.pk, "rotate"))
    assert response.status_code == 200, response.content
    new = response.json()["token"]
    assert new != issued.token and response.json()["links"]["webcal"].endswith(f"/cal/{new}.ics")
    assert client.get(f"/cal/{issued.token}.ics").status_code == 404
    assert client.get(f"/cal/{new}.ics").status_code == 200


def test_revoking_stops_the_link_and_a_new_feed_can_be_made(api_world, client_for, client):
    w = api_world.w
    issued = feed_services.issue_feed(subject=w.birth_home, by=w.birth_parent, now=NOW)
    api = client_for(w.birth_parent)
    response = api.post(feeds_url(issued.feed.pk, "revoke"))
    assert response.status_code == 200 and response.json()["is_live"] is False
    assert client.get(f"/cal/{issued.token}.ics").status_code == 404
    assert api.post(feeds_url(issued.feed.pk, "revoke")).status_code == 404  # already gone
    assert api.get(feeds_url(), {"live": "true"}).json()["count"] == 0
    assert api.get(feeds_url(), {"live": "false"}).json()["count"] == 1
    new = api.post(feeds_url(), {"household": w.birth_home.pk}, format="json")
    assert new.status_code == 201
    listed = api.get(feeds_url()).json()["results"]
    assert [(row["id"], row["is_live"]) for row in listed] == [(new.json()["id"], True), (issued.feed.pk, False)]


def test_a_household_opts_in_to_detail_and_staff_are_told_it_is_the_familys_choice(api_world, client_for):
    w = api_world.w
    feed = feed_services.issue_feed(subject=w.foster_home, by=w.consultant, now=NOW).feed
    response = client_for(w.foster_parent).patch(feeds_url(feed.pk), {"detailed": True}, format="json")
    assert response.status_code == 200 and response.json()["detailed"] is True
    response = client_for(w.consultant).patch(feeds_url(feed.pk), {"detailed": False}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "household_decides"
    feed.refresh_from_db()
    assert feed.detailed is True


@pytest.mark.parametrize(("body", "field"), [
    ({}, "household"),
    ({"household": 1, "provider": 1}, "provider"),
    ({"household": "x"}, "household"),
    ({"household": 2**70}, "household"),
    ({"team": None}, "team"),
    ({"provider": 1, "language": "de"}, "language"),
    ({"provider": 1, "token": "mine"}, "token"),
])
def test_bad_feed_input_gets_400_naming_the_field(api_world, client_for, body, field):
    if "provider" in body and body["provider"] == 1:
        body = {**body, "provider": api_world.w.provider.pk}
    if body.get("household") == 1:
        body = {**body, "household": api_world.w.foster_home.pk}
    response = client_for(api_world.w.consultant).post(feeds_url(), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Feed.objects.exists()


def test_detail_only_for_household_feeds_and_only_a_boolean(api_world, client_for):
    w = api_world.w
    api = client_for(w.consultant)
    response = api.post(feeds_url(), {"provider": w.provider.pk, "detailed": True}, format="json")
    assert response.status_code == 400 and "detailed" in response.json()["error"]["fields"]
    feed = feed_services.issue_feed(subject=w.foster_home, by=w.foster_parent, now=NOW).feed
    response = client_for(w.foster_parent).patch(feeds_url(feed.pk), {"detailed": "maybe"}, format="json")
    assert response.status_code == 400 and "detailed" in response.json()["error"]["fields"]
    assert client_for(w.foster_parent).put(feeds_url(feed.pk), {"detailed": True}, format="json").status_code == 405


# --- Deliveries -------------------------------------------------------------------------------------------------


def _connection(provider, **extra) -> CalDavConnection:
    connection = CalDavConnection(provider=provider, url="https://caldav.example.test/cal/", username="u",
                                  created_at=NOW, updated_at=NOW, **extra)
    connection.set_password("app-password")
    connection.save()
    return connection


def _email_row(w, **extra) -> OutboxMessage:
    n = next(_seq)
    fields = {"channel": Channel.EMAIL, "method": "REQUEST", "recipient": f"familie{n}@family.test",
              "municipality": w.aarhus, "payload": {"text": "Kære familie, Demo-barn A."}, "not_before": NOW}
    fields.update(extra)
    return OutboxMessage.objects.create(key=f"k{n}", uid=f"u{n}@plejenet", created_at=NOW, updated_at=NOW, **fields)


def test_a_delivery_says_how_it_went_without_its_content(api_world, client_for):
    w = api_world.w
    later = NOW + dt.timedelta(minutes=2)
    waiting = _email_row(w, attempts=1, not_before=later, last_error="ConnectionRefusedError: [Errno 111]",
                         last_error_at=NOW)
    failed = _email_row(w, status=OutboxStatus.FAILED, attempts=1, permanent=True, last_error="SMTP 550")
    push = OutboxMessage.objects.create(channel=Channel.CALDAV, method="SYNC", key="c", uid="c@plejenet",
                                        connection=_connection(w.provider), municipality=w.aarhus, not_before=NOW,
                                        created_at=NOW, updated_at=NOW, status=OutboxStatus.SENT, sent_at=NOW)
    api = client_for(w.consultant)
    row = api.get(reverse("api:calendar-delivery-detail", args=[waiting.pk])).json()
    assert (row["channel"], row["kind"], row["status"], row["attempts"]) == ("email", "REQUEST", "pending", 1)
    assert dt.datetime.fromisoformat(row["next_attempt_at"]) == later
    assert row["last_error"].startswith("ConnectionRefusedError") and row["recipient"] == waiting.recipient
    assert "Demo-barn" not in str(row) and "payload" not in row
    row = api.get(reverse("api:calendar-delivery-detail", args=[push.pk])).json()
    assert (row["channel"], row["kind"], row["provider"], row["next_attempt_at"]) == ("caldav", "SYNC",
                                                                                      w.provider.pk, None)
    problems = api.get(reverse("api:calendar-delivery-list"), {"problems": "true"}).json()["results"]
    assert {r["id"] for r in problems} == {waiting.pk, failed.pk}
    failed_only = api.get(reverse("api:calendar-delivery-list"), {"status": "failed"}).json()["results"]
    assert [r["id"] for r in failed_only] == [failed.pk]
    assert api.get(reverse("api:calendar-delivery-list"), {"status": "nonsense"}).status_code == 400


# --- CalDAV ----------------------------------------------------------------------------------------------------


def test_a_provider_connects_changes_and_disconnects_its_calendar(api_world, client_for, radicale):  # noqa: F811
    w = api_world.w
    url = radicale.new_calendar(f"api-{next(_seq)}")
    api = client_for(w.provider_user)
    body = {"provider": w.provider.pk, "url": url, "username": radicale.user, "password": radicale.password}
    response = api.post(reverse("api:caldav-connection-list"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert radicale.password not in response.content.decode() and "password" not in data
    assert (data["status"], data["url"], data["username"]) == ("active", url, radicale.user)
    connection = CalDavConnection.objects.get(pk=data["id"])
    assert radicale.password not in connection.password_encrypted
    assert crypto.decrypt(connection.password_encrypted) == radicale.password

    detail = reverse("api:caldav-connection-detail", args=[connection.pk])
    # Changing the user name without the password: the stored one is used to check the server.
    response = api.patch(detail, {"username": "someone-else"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "caldav_unreachable"
    response = api.patch(detail, {"url": url.rstrip("/")}, format="json")
    assert response.status_code == 200, response.content
    response = api.patch(detail, {"password": "wrong"}, format="json")
    assert response.status_code == 400
    connection.refresh_from_db()
    assert connection.password() == radicale.password  # a refused change keeps what worked

    # Staff of the municipality read the status, not the password.
    seen = client_for(w.consultant).get(detail)
    assert seen.status_code == 200 and seen.json()["status"] == "active"

    assert api.delete(detail).status_code == 204
    connection.refresh_from_db()
    assert (connection.status, connection.password_encrypted) == ("disconnected", "")
    response = api.patch(detail, {"username": radicale.user}, format="json")
    assert response.status_code == 400 and "password" in response.json()["error"]["fields"]


def test_an_insecure_or_broken_url_gets_400(api_world, client_for, settings):
    settings.DEBUG = False
    api = client_for(api_world.w.provider_user)
    for url_, code in (("http://caldav.example.com/cal/", "insecure_url"), ("not a url", "invalid")):
        body = {"provider": api_world.w.provider.pk, "url": url_, "username": "u", "password": "p"}
        response = api.post(reverse("api:caldav-connection-list"), body, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == code, response.content
        assert "url" in response.json()["error"]["fields"]


# --- Lists cost the same with 2 rows as with 12 -------------------------------------------------------------------


def _more_feeds(api_world):
    w = api_world.w
    household = make_household(w.aarhus, f"Familie {next(_seq)} (fiktiv)")
    feed_services.issue_feed(subject=household, by=w.consultant, now=NOW)


def _more_deliveries(api_world):
    w = api_world.w
    _email_row(w)
    provider = w.provider
    connection = CalDavConnection.objects.filter(provider=provider).first() or _connection(provider)
    n = next(_seq)
    OutboxMessage.objects.create(channel=Channel.CALDAV, method="SYNC", key=f"c{n}", uid=f"c{n}@plejenet",
                                 connection=connection, municipality=w.aarhus, not_before=NOW, created_at=NOW,
                                 updated_at=NOW, status=OutboxStatus.FAILED)


def _more_connections(api_world):
    from tests.api.test_queries import _provider

    connection = _connection(_provider(api_world.w))
    OutboxMessage.objects.create(channel=Channel.CALDAV, method="SYNC", key=f"x{connection.pk}", uid="x@plejenet",
                                 connection=connection, not_before=NOW, created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize(("endpoint", "role", "make"), [
    ("calendar-feed", "consultant", _more_feeds),
    ("calendar-feed", "administrator", _more_feeds),
    ("calendar-delivery", "consultant", _more_deliveries),
    ("calendar-delivery", "administrator", _more_deliveries),
    ("caldav-connection", "consultant", _more_connections),
    ("caldav-connection", "administrator", _more_connections),
])
def test_calendar_lists_cost_the_same_whatever_the_number_of_rows(api_world, client_for, endpoint, role, make):
    client = client_for(api_world.user(role))
    path = reverse(f"api:{endpoint}-list")

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(db_connection) as queries:
            response = client.get(path, {"page_size": 100})
        assert response.status_code == 200, response.content
        return len(queries), response.json()["count"]

    for _ in range(2):
        make(api_world)
    few, rows_few = count()
    for _ in range(10):
        make(api_world)
    many, rows_many = count()
    assert rows_many >= rows_few + 10
    assert many == few, (few, many)


# --- The schema ----------------------------------------------------------------------------------------------------


def test_the_calendar_endpoints_are_documented_and_secrets_are_write_only_or_once(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = set(schema["paths"])
    assert {"/api/v1/calendar-feeds/", "/api/v1/calendar-feeds/{id}/", "/api/v1/calendar-feeds/{id}/rotate/",
            "/api/v1/calendar-feeds/{id}/revoke/", "/api/v1/calendar-deliveries/", "/api/v1/calendar-deliveries/{id}/",
            "/api/v1/caldav-connections/", "/api/v1/caldav-connections/{id}/"} <= paths
    assert set(schema["paths"]["/api/v1/calendar-deliveries/{id}/"]) == {"get"}
    components = schema["components"]["schemas"]
    assert "token" in components["IssuedFeed"]["properties"] and "token" not in components["Feed"]["properties"]
    assert "password" in components["CalDavConnectRequest"]["properties"]
    assert "password" not in components["CalDavConnection"]["properties"]
    assert "payload" not in components["Delivery"]["properties"]
    assert schema["paths"]["/api/v1/calendar-feeds/"]["post"]["responses"]["201"]["content"]["application/json"][
        "schema"]["$ref"] == "#/components/schemas/IssuedFeed"
