"""'Add to my calendar' on the portal, and the consultants' calendar page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from calendars.access import hash_token
from calendars.models import CalDavConnection, Channel, Feed, OutboxMessage, OutboxStatus
from calendars.services import feeds as feed_services
from tests.web.conftest import text_of

NOW = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))
TOKEN = re.compile(r"/cal/([A-Za-z0-9_-]{40,64})\.ics")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://plejenet.example.dk"


def create_link(client, subject: str, *, language: str = "en"):
    return client.post("/portal/calendar/", {"action": "create", "subject": subject}, HTTP_ACCEPT_LANGUAGE=language)


def token_in(response) -> str:
    tokens = set(TOKEN.findall(response.content.decode()))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def assert_csp_safe(response):
    page = response.content.decode()
    assert "Content-Security-Policy" in response.headers
    # Scripts only from our own files; no inline script, no inline styles, no CDN.
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", page))
    assert " style=" not in page and "<style" not in page
    assert "https://cdn" not in page and "unpkg" not in page


def test_a_foster_parent_creates_a_link_and_sees_it_once_with_a_qr_code(world, client_for, client):
    family = client_for(world.foster_parent)
    portal = family.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Add to my calendar" in text_of(portal)
    assert "Create my calendar link" in text_of(portal)

    response = create_link(family, f"household:{world.foster_home.pk}")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = token_in(response)
    page = response.content.decode()
    assert f'href="webcal://plejenet.example.dk/cal/{token}.ics"' in page
    assert f'value="https://plejenet.example.dk/cal/{token}.ics"' in page
    assert "<svg" in page and "<path" in page
    text = text_of(response)
    for words in ("iPhone and iPad", "Android and Google Calendar", "Outlook", "only time we show this link"):
        assert words in text
    assert world.child.display_name not in text
    assert_csp_safe(response)
    feed = Feed.objects.get(household=world.foster_home)
    assert feed.token_hash == hash_token(token)
    assert client.get(f"/cal/{token}.ics").status_code == 200

    # Back on the portal the link is live, but never shown again.
    portal = family.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Calendar link active" in text_of(portal) and token not in portal.content.decode()
    assert "Make a new link" in text_of(portal) and "Create my calendar link" not in text_of(portal)


def test_the_page_speaks_danish_by_default(world, client_for):
    family = client_for(world.birth_parent)
    assert "Føj til min kalender" in text_of(family.get("/portal/"))
    response = create_link(family, f"household:{world.birth_home.pk}", language="da")
    text = text_of(response)
    assert "Dit kalenderlink" in text and "iPhone og iPad" in text


def test_a_new_link_kills_the_old_one_and_stopping_kills_it_for_good(world, client_for, client):
    family = client_for(world.foster_parent)
    old = token_in(create_link(family, f"household:{world.foster_home.pk}"))
    feed = Feed.objects.get(household=world.foster_home)
    response = family.post("/portal/calendar/", {"action": "rotate", "feed": feed.pk})
    new = token_in(response)
    assert new != old
    assert client.get(f"/cal/{old}.ics").status_code == 404
    assert client.get(f"/cal/{new}.ics").status_code == 200
    response = family.post("/portal/calendar/", {"action": "revoke", "feed": feed.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/portal/#calendar"
    assert client.get(f"/cal/{new}.ics").status_code == 404
    assert "Create my calendar link" in text_of(family.get("/portal/", HTTP_ACCEPT_LANGUAGE="en"))


def test_creating_twice_says_there_is_already_a_link(world, client_for):
    family = client_for(world.foster_parent)
    create_link(family, f"household:{world.foster_home.pk}")
    response = create_link(family, f"household:{world.foster_home.pk}")
    assert response.status_code == 302
    page = family.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "There is already a calendar link" in text_of(page)
    assert Feed.objects.filter(household=world.foster_home).count() == 1


def test_the_family_chooses_more_detail(world, client_for):
    family = client_for(world.foster_parent)
    create_link(family, f"household:{world.foster_home.pk}")
    feed = Feed.objects.get(household=world.foster_home)
    family.post("/portal/calendar/", {"action": "detail", "feed": feed.pk, "detailed": "on"})
    feed.refresh_from_db()
    assert feed.detailed is True
    family.post("/portal/calendar/", {"action": "detail", "feed": feed.pk})
    feed.refresh_from_db()
    assert feed.detailed is False


def test_a_provider_gets_its_own_calendar_link(world, client_for):
    response = create_link(client_for(world.provider_user), f"provider:{world.provider.pk}")
    assert response.status_code == 200
    assert Feed.objects.get(provider=world.provider).token_hash == hash_token(token_in(response))


def test_nobody_touches_another_familys_calendar_from_the_portal(world, client_for):
    mine = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW).feed
    staff_feed = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW).feed
    other = client_for(world.other_foster_parent)
    assert create_link(other, f"household:{world.foster_home.pk}").status_code == 404
    assert other.post("/portal/calendar/", {"action": "revoke", "feed": mine.pk}).status_code == 404
    assert other.post("/portal/calendar/", {"action": "rotate", "feed": "x"}).status_code == 404
    outsider = client_for(world.outsider)
    assert outsider.post("/portal/calendar/", {"action": "revoke", "feed": mine.pk}).status_code == 404
    # A consultant manages families' links from the workspace, and their own feed is not a portal matter.
    consultant = client_for(world.consultant)
    assert consultant.post("/portal/calendar/", {"action": "revoke", "feed": staff_feed.pk}).status_code == 404
    assert client_for(world.foster_parent).get("/portal/calendar/").status_code == 405
    mine.refresh_from_db()
    staff_feed.refresh_from_db()
    assert mine.is_live and staff_feed.is_live


def test_people_without_a_household_or_provider_see_no_calendar_card(world, client_for):
    page = client_for(world.outsider).get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Add to my calendar" not in text_of(page)


# --- The consultants' page -------------------------------------------------------------------------------------


def _failed_invitation(world, municipality, recipient):
    return OutboxMessage.objects.create(
        channel=Channel.EMAIL, key=f"k-{recipient}", uid=f"{recipient}@plejenet", method="REQUEST", recipient=recipient,
        municipality=municipality, status=OutboxStatus.FAILED, attempts=3, permanent=True,
        last_error="SMTP 550: b'5.1.1 No such user here'", last_error_at=NOW, payload={"text": "Hemmelig brødtekst"},
        not_before=NOW, created_at=NOW, updated_at=NOW,
    )


def test_a_consultant_rotates_and_stops_a_familys_link(world, client_for, client):
    consultant = client_for(world.consultant)
    page = consultant.get("/workspace/calendars/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = text_of(page)
    assert world.foster_home.name in text and world.odense_foster_home.name not in text
    response = consultant.post("/workspace/calendars/", {"action": "create", "subject": f"household:{world.birth_home.pk}"})
    first = token_in(response)
    feed = Feed.objects.get(household=world.birth_home)
    second = token_in(consultant.post("/workspace/calendars/", {"action": "rotate", "feed": feed.pk}))
    assert client.get(f"/cal/{first}.ics").status_code == 404
    response = consultant.post("/workspace/calendars/", {"action": "revoke", "feed": feed.pk})
    assert response.status_code == 302 and response["Location"] == "/workspace/calendars/"
    assert client.get(f"/cal/{second}.ics").status_code == 404


def test_a_consultant_cannot_reach_another_municipalitys_families(world, client_for):
    odense = feed_services.issue_feed(subject=world.odense_foster_home, by=world.other_consultant, now=NOW).feed
    consultant = client_for(world.consultant)
    subject = f"household:{world.odense_foster_home.pk}"
    assert consultant.post("/workspace/calendars/", {"action": "create", "subject": subject}).status_code == 404
    assert consultant.post("/workspace/calendars/", {"action": "revoke", "feed": odense.pk}).status_code == 404
    odense.refresh_from_db()
    assert odense.is_live


def test_families_and_outsiders_do_not_get_the_consultants_page(world, client_for):
    for user in (world.foster_parent, world.provider_user, world.outsider):
        assert client_for(user).get("/workspace/calendars/").status_code == 404


def test_failed_deliveries_show_their_last_error_and_nothing_of_the_message(world, client_for):
    _failed_invitation(world, world.aarhus, "testrup@family.test")
    _failed_invitation(world, world.odense, "eksempel@family.test")
    connection = CalDavConnection(provider=world.provider, url="https://caldav.example.test/cal/", username="u",
                                  created_at=NOW, updated_at=NOW)
    connection.set_password("app-password")
    connection.save()
    OutboxMessage.objects.create(channel=Channel.CALDAV, key="c", uid="c@plejenet", method="SYNC", connection=connection,
                                 municipality=world.aarhus, attempts=2, last_error="CalDAV put: 503 Service Unavailable",
                                 last_error_at=NOW, not_before=NOW + dt.timedelta(minutes=4), created_at=NOW,
                                 updated_at=NOW)
    page = client_for(world.consultant).get("/workspace/calendars/", HTTP_ACCEPT_LANGUAGE="en")
    text = text_of(page)
    assert "testrup@family.test" in text and "No such user here" in text and "Given up" in text
    assert world.provider.name in text and "503 Service Unavailable" in text and "Retrying" in text
    assert "eksempel@family.test" not in text  # Odense's
    assert "Hemmelig" not in text and "app-password" not in text
    other = text_of(client_for(world.other_consultant).get("/workspace/calendars/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "eksempel@family.test" in other
    assert "testrup@family.test" not in other


def test_the_calendar_pages_pass_the_markup_audit(world, client_for):
    from tests.web.test_markup import audit

    family = client_for(world.foster_parent)
    feed_services.issue_feed(subject=world.foster_home, by=world.consultant, now=NOW)
    _failed_invitation(world, world.aarhus, "testrup@family.test")
    pages = {
        "portal with a live link": family.get("/portal/"),
        "portal without": client_for(world.birth_parent).get("/portal/"),
        "link page": create_link(client_for(world.provider_user), f"provider:{world.provider.pk}"),
        "consultants' page": client_for(world.consultant).get("/workspace/calendars/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert audit(response).problems == [], name
