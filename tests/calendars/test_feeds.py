"""Subscribable feeds: what they say, who can read them, and HTTP behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from icalendar import Calendar

from calendars import feeds, publish
from calendars.access import hash_token
from calendars.links import subscription_links
from calendars.models import Feed
from calendars.services import feeds as feed_services
from scheduler.models import OccurrenceStatus
from scheduler.services import meetings, sessions
from support.errors import DomainError, NotFoundInScope
from support.models import Milestone
from tests.calendars.conftest import count_queries
from tests.sessions.helpers import NOW, add_placement, add_provider, assigned_need, available, local


def url(token: str) -> str:
    return f"/cal/{token}.ics"


def household_feed(world, **extra):
    return feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW, **extra)


def vevents(body: bytes) -> list:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def occurrence(series, n: int = 0):
    return series.occurrences.filter(status=OccurrenceStatus.SCHEDULED).order_by("start")[n]


# --- Format -------------------------------------------------------------------------------------------------------


def test_a_household_feed_is_an_rfc5545_calendar_with_the_series_uid(tuesdays, active_series, client, frozen):
    issued = household_feed(tuesdays)
    response = client.get(url(issued.token))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    assert cal["VERSION"] == "2.0" and "Plejenet" in str(cal["PRODID"])
    assert str(cal["X-WR-CALNAME"]) == str(cal["NAME"]) == "Plejenet — Familien Testrup (fiktiv)"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in response.content
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in response.content
    [tz] = cal.walk("VTIMEZONE")
    assert tz["TZID"] == "Europe/Copenhagen"
    [event] = vevents(response.content)
    assert event["UID"] == active_series.uid
    assert event["SEQUENCE"] == 0
    assert event["DTSTAMP"].dt == active_series.updated_at
    assert event["DTSTART"].dt == local(2026, 11, 3, 10) and event["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    assert event["DURATION"].dt == dt.timedelta(hours=1)
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;WKST=MO"
    assert event["URL"].startswith("http") and active_series.uid in event["URL"]


def test_every_line_ends_in_crlf_and_is_folded_at_75_octets(tuesdays, active_series, client, frozen):
    world = tuesdays
    world.provider.name = "Supervisor Åse Ærøskøbing-Østergård (fiktiv), familieplejens faste supervisor i Østjylland"
    world.provider.save(update_fields=["name"])
    world.foster_home.street = "Søndre Ringvej 117, 2. sal th., ved den gamle købmandsgård"
    world.foster_home.postcode, world.foster_home.city = "8000", "Aarhus C"
    world.foster_home.save()
    body = client.get(url(household_feed(world).token)).content
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines), "long lines are folded"
    for line in lines:
        line.decode("utf-8")  # a fold never splits a multi-byte character
    summary = str(vevents(body)[0]["SUMMARY"])
    assert summary == f"Supervision — {world.provider.name}"


# --- Tokens ----------------------------------------------------------------------------------------------------------


def test_the_token_is_random_and_stored_only_as_its_hash(tuesdays):
    issued = household_feed(tuesdays)
    assert len(issued.token) >= 43  # 256 bits, url-safe base64
    feed = Feed.objects.get(pk=issued.feed.pk)
    assert feed.token_hash == hash_token(issued.token) and issued.token not in feed.token_hash
    assert not Feed.objects.filter(token_hash=issued.token).exists()


def test_unknown_revoked_and_malformed_tokens_get_the_same_404(tuesdays, active_series, client, frozen):
    world = tuesdays
    issued = household_feed(world)
    assert client.get(url(issued.token)).status_code == 200
    feed_services.revoke_feed(feed=issued.feed, by=world.foster_parent, now=NOW)
    revoked = client.get(url(issued.token))
    unknown = client.get(url("A" * 43))
    malformed = client.get(url("not-a-token"))
    assert revoked.status_code == unknown.status_code == malformed.status_code == 404
    assert revoked.content == unknown.content == malformed.content
    assert revoked["Content-Type"] == unknown["Content-Type"]


def test_rotating_gives_a_new_link_and_kills_the_old_one(tuesdays, active_series, client, frozen):
    world = tuesdays
    issued = household_feed(world)
    rotated = feed_services.rotate_feed(feed=issued.feed, by=world.consultant, now=NOW)  # the case's consultant
    assert client.get(url(issued.token)).status_code == 404
    assert client.get(url(rotated.token)).status_code == 200
    assert rotated.feed.pk == issued.feed.pk


def test_outsiders_and_other_families_cannot_manage_a_feed(tuesdays):
    world = tuesdays
    issued = household_feed(world)
    for intruder in (world.outsider, world.other_foster_parent, world.other_consultant, world.provider_user):
        with pytest.raises(NotFoundInScope):
            feed_services.rotate_feed(feed=issued.feed, by=intruder, now=NOW)
        with pytest.raises(NotFoundInScope):
            feed_services.revoke_feed(feed=issued.feed, by=intruder, now=NOW)
    with pytest.raises(NotFoundInScope):
        feed_services.issue_feed(subject=world.other_foster_home, by=world.foster_parent, now=NOW)
    assert list(feed_services.feeds_for(world.outsider)) == []
    assert list(feed_services.feeds_for(world.foster_parent)) == [issued.feed]


def test_one_live_feed_per_subscriber(tuesdays):
    world = tuesdays
    issued = household_feed(world)
    with pytest.raises(DomainError) as exc:
        household_feed(world)
    assert exc.value.code == "feed_exists"
    feed_services.revoke_feed(feed=issued.feed, by=world.foster_parent, now=NOW)
    assert household_feed(world).feed.pk != issued.feed.pk


def test_repeated_misses_from_one_client_are_rate_limited(tuesdays, active_series, client, settings, frozen):
    settings.CALENDAR_FEED_MISS_LIMIT = 3
    settings.CALENDAR_FEED_MISS_WINDOW = 600
    issued = household_feed(tuesdays)
    for i in range(3):
        assert client.get(url(f"{'B' * 42}{i}"), REMOTE_ADDR="203.0.113.9").status_code == 404
    blocked = client.get(url(issued.token), REMOTE_ADDR="203.0.113.9")  # even a good token, while blocked
    assert blocked.status_code == 429 and 0 < int(blocked["Retry-After"]) <= 600
    assert client.get(url(issued.token), REMOTE_ADDR="198.51.100.7").status_code == 200  # another client
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):  # the window has passed
        assert client.get(url(issued.token), REMOTE_ADDR="203.0.113.9").status_code == 200


def test_a_fetch_is_recorded_by_client_family_and_truncated_network(tuesdays, active_series, client, frozen):
    issued = household_feed(tuesdays)
    client.get(url(issued.token), REMOTE_ADDR="2001:db8:1234:5678::9", HTTP_USER_AGENT="Mozilla/5.0 Thunderbird/128")
    feed = Feed.objects.get(pk=issued.feed.pk)
    assert feed.fetch_count == 1 and feed.last_fetched_at == NOW
    assert (feed.last_client, feed.last_network) == ("Thunderbird", "2001:db8:1234::/48")
    client.get(url(issued.token), REMOTE_ADDR="192.0.2.77", HTTP_USER_AGENT="Google-Calendar-Importer")
    feed.refresh_from_db()
    assert feed.fetch_count == 1, "at most one write a minute per feed"
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        client.get(url(issued.token), REMOTE_ADDR="192.0.2.77", HTTP_USER_AGENT="Google-Calendar-Importer")
    feed.refresh_from_db()
    assert feed.fetch_count == 2 and feed.last_fetched_at == NOW + dt.timedelta(minutes=2)
    assert (feed.last_client, feed.last_network) == ("Google Calendar", "192.0.2.0/24")


# --- Conditional GET ------------------------------------------------------------------------------------------------


def test_a_matching_conditional_get_answers_304_without_rendering(tuesdays, active_series, client, frozen, monkeypatch):
    issued = household_feed(tuesdays)
    first = client.get(url(issued.token))
    etag, modified = first["ETag"], first["Last-Modified"]

    def no_rendering(*args, **kwargs):
        raise AssertionError("a 304 must not render the feed")

    monkeypatch.setattr(feeds, "render", no_rendering)
    with count_queries() as queries:
        again = client.get(url(issued.token), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    # Only the feed row, by its token (the fetch was recorded a moment ago).
    assert len(queries) == 1, queries
    assert "calendars_feed" in queries[0] and "JOIN" not in queries[0]
    assert client.get(url(issued.token), HTTP_IF_MODIFIED_SINCE=modified).status_code == 304


def test_a_change_changes_the_etag_and_raises_the_sequence(tuesdays, active_series, client, frozen):
    world = tuesdays
    issued = household_feed(world)
    etag = client.get(url(issued.token))["ETag"]
    moved = occurrence(active_series, 2)
    with transaction.atomic():  # as the scheduler does; the hook call is idempotent
        sessions.move_occurrence(occurrence=moved, new_start=moved.start + dt.timedelta(hours=1),
                                 reason="Plejemor har lægetid", by=world.consultant, now=NOW)
        publish.changed(series=active_series, occurrence=moved, by=world.consultant, now=NOW)
    response = client.get(url(issued.token), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    master, override = vevents(response.content)
    assert master["SEQUENCE"] == override["SEQUENCE"] == 1
    assert override["UID"] == master["UID"] == active_series.uid
    assert override["RECURRENCE-ID"].dt == moved.original_start
    assert override["RECURRENCE-ID"].params["TZID"] == "Europe/Copenhagen"
    assert override["DTSTART"].dt == local(2026, 11, 17, 11)
    assert b"l\xc3\xa6getid" not in response.content  # the reason is free text: never in a feed


def test_a_cancelled_occurrence_stays_cancelled_for_30_days_then_becomes_an_exdate(
    tuesdays, active_series, client, frozen
):
    world = tuesdays
    issued = household_feed(world)
    etag = client.get(url(issued.token))["ETag"]
    gone = occurrence(active_series, 1)
    with transaction.atomic():
        sessions.cancel_occurrence(occurrence=gone, reason="Syg", by=world.consultant, now=NOW)
        publish.changed(series=active_series, occurrence=gone, by=world.consultant, now=NOW)
    assert client.get(url(issued.token), HTTP_IF_NONE_MATCH=etag).status_code == 200
    master, override = vevents(client.get(url(issued.token)).content)
    assert override["RECURRENCE-ID"].dt == gone.original_start and override["STATUS"] == "CANCELLED"
    assert str(override["SUMMARY"]).startswith("Aflyst: ")
    assert "EXDATE" not in master
    with time_machine.travel(NOW + dt.timedelta(days=29), tick=False):
        assert len(vevents(client.get(url(issued.token)).content)) == 2
    with time_machine.travel(NOW + dt.timedelta(days=31), tick=False):
        [master] = vevents(client.get(url(issued.token)).content)
        assert [d.dt for d in master["EXDATE"].dts] == [gone.original_start]


# --- Privacy ------------------------------------------------------------------------------------------------------


def test_by_default_a_feed_never_names_the_child_or_carries_free_text(tuesdays, active_series, client, frozen):
    world = tuesdays
    available(world.birth_home, "wed", "09:00", "15:00")
    available(world.provider, "wed", "09:00", "15:00")
    meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 11, 10),
                          title="Opfølgning om Demo-barn A.s skolefravær", by=world.consultant, now=NOW)
    target = occurrence(active_series, 1)
    sessions.cancel_occurrence(occurrence=target, reason="Demo-barn A. er indlagt", by=world.consultant, now=NOW)
    body = client.get(url(household_feed(world).token)).content.decode()
    assert "Demo-barn" not in body and "indlagt" not in body and "skolefravær" not in body
    summaries = {str(e["SUMMARY"]) for e in vevents(body.encode())}
    assert summaries == {"Supervision — Supervisor Mette K. (fiktiv)", "Aflyst: Supervision — Supervisor Mette K. (fiktiv)",
                         "Opfølgningsmøde"}


def test_a_household_may_opt_its_feed_in_to_more_detail(tuesdays, active_series, client, frozen):
    world = tuesdays
    issued = household_feed(world)
    with pytest.raises(DomainError) as exc:
        feed_services.set_feed_detail(feed=issued.feed, detailed=True, by=world.consultant, now=NOW)
    assert exc.value.code == "household_decides"
    feed_services.set_feed_detail(feed=issued.feed, detailed=True, by=world.foster_parent, now=NOW)
    [event] = vevents(client.get(url(issued.token)).content)
    assert "Demo-barn A." in str(event["SUMMARY"])
    with pytest.raises(DomainError):
        feed_services.issue_feed(subject=world.provider, by=world.provider_user, now=NOW, detailed=True)


def test_sensitive_services_are_called_an_appointment(tuesdays, client, frozen):
    world = tuesdays
    psychologist = add_provider(world, "Psykolog Lis (fiktiv)", service="psychologist")
    available(psychologist, "tue", "09:00", "15:00")
    series = sessions.propose_series(need=assigned_need(world, provider=psychologist, service="psychologist"),
                                     by=world.consultant, now=NOW)
    sessions.confirm_series(series=series, by=world.consultant, now=NOW)
    [event] = vevents(client.get(url(household_feed(world).token)).content)
    assert str(event["SUMMARY"]) == "Samtale — Psykolog Lis (fiktiv)"


# --- Other subscribers, and no N+1 ----------------------------------------------------------------------------------


def test_consultant_and_team_feeds_show_their_cases_meetings_and_milestones(tuesdays, client, frozen):
    world = tuesdays
    available(world.birth_home, "wed", "09:00", "15:00")
    meeting = meetings.book_meeting(placement=world.placement, kind="start_up", start=local(2026, 11, 11, 10),
                                    by=world.consultant, now=NOW)
    Milestone.objects.create(
        municipality=world.aarhus, subject=f"placement:{world.placement.pk}", placement=world.placement,
        rule_code="handleplan", rule_version="1", source="Barnets lov", title_da="Handleplan revideres",
        title_en="Plan review", due_on=dt.date(2026, 12, 1), warn_on=dt.date(2026, 11, 15), uid="ms-1@plejenet",
    )
    mine = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW)
    body = client.get(url(mine.token)).content
    by_uid = {str(e["UID"]): e for e in vevents(body)}
    assert str(by_uid[meeting.uid]["SUMMARY"]) == f"Opstartsmøde (anbringelse #{world.placement.pk})"
    assert by_uid["ms-1@plejenet"]["DTSTART"].dt == dt.date(2026, 12, 1)
    assert "Demo-barn" not in body.decode()
    team = feed_services.issue_feed(subject=world.team, by=world.team_lead, now=NOW)
    assert [str(e["UID"]) for e in vevents(client.get(url(team.token)).content)] == [meeting.uid]
    with pytest.raises(NotFoundInScope):
        feed_services.issue_feed(subject=world.consultant, by=world.other_consultant, now=NOW)


def _provider_with_cases(world, n: int):
    provider = add_provider(world, f"Travl supervisor {n} (fiktiv)")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        available(provider, day, "08:00", "18:00")
    for i in range(n):
        placement = add_placement(world, f"N{n}-{i}")
        series = sessions.propose_series(need=assigned_need(world, provider=provider, placement=placement),
                                         by=world.consultant, now=NOW)
        sessions.confirm_series(series=series, by=world.consultant, now=NOW)
        sessions.cancel_occurrence(occurrence=occurrence(series, 1), reason="aflyst", by=world.consultant, now=NOW)
    return provider


def test_rendering_takes_the_same_number_of_queries_for_one_case_or_many(world, frozen):
    counts = []
    for n in (1, 6):
        provider = _provider_with_cases(world, n)
        feed = Feed.objects.select_related("provider").get(
            pk=feed_services.issue_feed(subject=provider, by=world.administrator, now=NOW).feed.pk)
        with count_queries() as queries:
            body = feeds.render(feed, NOW)
        assert len(vevents(body)) == 2 * n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_subscription_links_and_qr_code(tuesdays, settings):
    settings.SITE_URL = "https://plejenet.example.dk"
    issued = household_feed(tuesdays)
    links = issued.links
    assert links == subscription_links(issued.token)
    assert links.https == f"https://plejenet.example.dk/cal/{issued.token}.ics"
    assert links.webcal == f"webcal://plejenet.example.dk/cal/{issued.token}.ics"
    svg = links.qr_svg()
    assert svg.startswith("<svg") and "<path" in svg and issued.token not in svg


def test_a_change_refreshes_every_feed_that_shows_it_and_no_other(tuesdays, client, frozen):
    world = tuesdays
    assigned_need(world)  # the provider supports the placement, so is invited
    subjects = {"family": (world.foster_home, world.foster_parent), "provider": (world.provider, world.provider_user),
                "consultant": (world.consultant, world.consultant), "team": (world.team, world.team_lead),
                "other family": (world.other_foster_home, world.other_foster_parent)}
    tokens = {name: feed_services.issue_feed(subject=s, by=by, now=NOW).token for name, (s, by) in subjects.items()}
    before = {name: client.get(url(t))["ETag"] for name, t in tokens.items()}
    with transaction.atomic():
        meeting = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 11, 10),
                                        by=world.consultant, now=NOW)
        publish.changed(meeting=meeting, by=world.consultant, now=NOW)
    after = {name: client.get(url(t), HTTP_IF_NONE_MATCH=before[name]) for name, t in tokens.items()}
    assert {name: r.status_code for name, r in after.items()} == {
        "family": 200, "provider": 200, "consultant": 200, "team": 200, "other family": 304,
    }
    assert all(meeting.uid in r.content.decode() for name, r in after.items() if r.status_code == 200)


def test_a_feed_is_rendered_once_per_etag_for_clients_that_never_ask_conditionally(
    tuesdays, active_series, client, frozen, monkeypatch
):
    world = tuesdays
    issued = household_feed(world)
    first = client.get(url(issued.token))
    real_render = feeds.render
    monkeypatch.setattr(feeds, "render", lambda *a, **k: pytest.fail("rendered again for the same ETag"))
    again = client.get(url(issued.token))
    assert again.status_code == 200 and again.content == first.content and again["ETag"] == first["ETag"]
    monkeypatch.setattr(feeds, "render", real_render)
    with transaction.atomic():
        sessions.cancel_occurrence(occurrence=occurrence(active_series, 1), reason="x", by=world.consultant, now=NOW)
        publish.changed(series=active_series, by=world.consultant, now=NOW)
    changed = client.get(url(issued.token))
    assert changed["ETag"] != first["ETag"] and b"STATUS:CANCELLED" in changed.content


def test_a_birth_familys_feed_names_a_meeting_place_only_when_it_is_their_own_home(tuesdays, client, frozen):
    world = tuesdays
    available(world.birth_home, "wed", "09:00", "15:00")
    available(world.birth_home, "thu", "09:00", "15:00")
    world.foster_home.street, world.foster_home.postcode, world.foster_home.city = "Testvej 7", "8000", "Aarhus C"
    world.foster_home.save()
    at_foster = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 11, 10),
                                      by=world.consultant, now=NOW, in_person_at=world.foster_home)
    at_birth = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 12, 10),
                                     by=world.consultant, now=NOW, in_person_at=world.birth_home)
    assert (at_foster.place_household, at_birth.place_household) == (world.foster_home, world.birth_home)

    birth = feed_services.issue_feed(subject=world.birth_home, by=world.birth_parent, now=NOW)
    body = client.get(url(birth.token)).content.decode()
    where = {str(e["UID"]): str(e["LOCATION"]) for e in vevents(body.encode())}
    assert where[at_foster.uid] == "Sted: oplyses af jeres konsulent"
    assert where[at_birth.uid] == at_birth.place_name
    assert "Testvej" not in body and world.foster_home.name not in body

    foster = household_feed(world)
    where = {str(e["UID"]): str(e["LOCATION"]) for e in vevents(client.get(url(foster.token)).content)}
    assert where[at_foster.uid] == "Testvej 7, 8000 Aarhus C"
