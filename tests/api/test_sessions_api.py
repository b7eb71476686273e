# ruff: noqa: F811  (the fixtures imported from tests/api/sessions_world.py are parameters here)
"""Writing session series, occurrences, meetings and absences over the API: 409 on a clash or a
decided thing, 400 naming the field, and the services' work visible in the answers."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.dateparse import parse_datetime

from scheduler.models import Booking, OccurrenceStatus, SeriesStatus
from scheduler.services import sessions
from tests.api.sessions_world import MONTHS, assign, frozen, sessions_world  # noqa: F401
from tests.sessions.helpers import NOW, local


def post(client, name, pk=None, body=None):
    return client.post(reverse(f"api:{name}", args=[pk] if pk is not None else []), body, format="json")


def fields(response) -> dict:
    return response.json()["error"]["fields"]


def test_moving_onto_another_session_of_the_provider_is_a_409_double_booking(sessions_world, client_for):
    s = sessions_world
    mine, theirs = s.occurrence("own"), s.occurrence("other_home")
    response = post(client_for(s.a.w.consultant), "session-occurrence-move", mine.pk,
                    {"new_start": theirs.start.isoformat(), "reason": "Prøver"})
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "clash"
    mine.refresh_from_db()
    assert mine.status == OccurrenceStatus.SCHEDULED and mine.sequence == 0
    assert Booking.objects.filter(occurrence=mine, active=True).count() == 2


def test_booking_a_meeting_when_the_consultant_is_taken_is_a_409(sessions_world, client_for):
    s = sessions_world
    taken = s.meetings["meeting"]
    response = post(client_for(s.a.w.consultant), "meeting-list", body={
        "placement": s.a.other_placement.pk, "kind": "follow_up", "start": taken.start.isoformat(),
    })
    assert response.status_code == 409, response.content
    assert "konsulent" in response.json()["error"]["message"]


def test_a_proposal_is_confirmed_once_then_the_decision_is_a_409(api_world, frozen, client_for):
    client = client_for(api_world.w.consultant)
    created = post(client, "session-series-list", body={"need": api_world.need.pk})
    assert created.status_code == 201, created.content
    series = created.json()
    assert series["status"] == "proposed" and series["rrule"].startswith("FREQ=WEEKLY;INTERVAL=2")
    assert post(client, "session-series-confirm", series["id"]).json()["status"] == "active"
    again = post(client, "session-series-confirm", series["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    declined = post(client, "session-series-decline", series["id"], {"reason": "For sent"})
    assert declined.status_code == 409
    # The same assignment cannot get a second series.
    twice = post(client, "session-series-list", body={"need": api_world.need.pk})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_scheduled"


def test_declining_releases_the_held_time_and_keeps_the_reason_for_staff(api_world, frozen, client_for):
    series = sessions.propose_series(need=api_world.need, by=api_world.w.consultant, now=NOW, months=MONTHS)
    client = client_for(api_world.w.consultant)
    response = post(client, "session-series-decline", series.pk, {"reason": "Familien ønsker torsdage"})
    assert response.status_code == 200 and response.json()["status"] == SeriesStatus.DECLINED
    assert not Booking.objects.filter(occurrence__series=series, active=True).exists()
    history = client.get(reverse("api:session-change-list"), {"series": series.pk}).json()["results"]
    assert [(h["action"], h["reason"]) for h in history][-1] == ("declined", "Familien ønsker torsdage")
    assert history[-1]["by_label"]
    family = client_for(api_world.w.foster_parent).get(reverse("api:session-change-list"), {"series": series.pk})
    assert [h["reason"] for h in family.json()["results"]] == [None, None]


def test_bad_input_answers_400_naming_the_field(sessions_world, client_for):
    s = sessions_world
    client = client_for(s.a.w.consultant)
    series, occurrence = s.series["own"], s.occurrence("own")
    cases = [
        ("session-series-decline", series.pk, {}, "reason"),
        ("session-series-decline", series.pk, {"reason": "x", "status": "active"}, "status"),  # not settable
        ("session-series-change-from", series.pk, {"from_date": "2026-12-01", "reason": "x"}, "non_field_errors"),
        ("session-series-change-from", series.pk, {"from_date": "2026-10-01", "interval_weeks": 4, "reason": "x"},
         "from_date"),
        ("session-series-change-from", series.pk, {"from_date": "2026-12-01", "weekdays": [0, 0], "reason": "x"},
         "weekdays"),
        ("session-series-change-from", series.pk, {"from_date": "2026-12-01", "weekdays": [7], "reason": "x"},
         "weekdays.0"),
        ("session-series-end", series.pk, {"last_date": "2026-10-01", "reason": "x"}, "last_date"),
        ("session-occurrence-move", occurrence.pk, {"new_start": "2026-10-01T10:00:00+02:00", "reason": "x"},
         "new_start"),
        ("session-occurrence-move", occurrence.pk, {"new_start": "2026-12-24T10:00:00+01:00", "reason": "x"},
         "new_start"),  # a closed day
        ("session-occurrence-move", occurrence.pk, {"new_start": "not a time", "reason": "x"}, "new_start"),
        ("session-occurrence-cancel", occurrence.pk, {"reason": "  "}, "reason"),
        ("meeting-search", None, {"placement": s.a.w.placement.pk, "window_start": "2026-11-10T10:00:00+01:00",
                                  "window_end": "2026-11-09T10:00:00+01:00"}, "window_end"),
        ("meeting-search", None, {"placement": s.a.w.placement.pk, "window_start": "2026-11-10T10:00:00+01:00",
                                  "window_end": "2026-11-10T10:30:00+01:00"}, "window_end"),  # too short
        ("meeting-list", None, {"placement": s.a.w.placement.pk, "kind": "party",
                                "start": "2026-11-10T10:00:00+01:00"}, "kind"),
        ("meeting-list", None, {"placement": s.a.w.placement.pk, "kind": "start_up",
                                "start": "2026-12-25T10:00:00+01:00"}, "start"),  # Christmas Day
        ("provider-absence-list", None, {"provider": s.a.w.provider.pk, "starts_at": "2026-11-10T10:00:00+01:00",
                                         "ends_at": "2026-11-09T10:00:00+01:00"}, "ends_at"),
    ]
    for name, pk, body, field in cases:
        response = post(client, name, pk, body)
        assert response.status_code == 400, (name, body, response.content)
        assert field in fields(response), (name, body, fields(response))
        assert response.json()["error"]["code"]
    series.refresh_from_db()
    assert series.status == SeriesStatus.ACTIVE and series.sequence == 0


def test_change_from_a_date_returns_the_new_series_and_keeps_the_chain(sessions_world, client_for):
    s = sessions_world
    old = s.series["own"]
    response = post(client_for(s.a.w.consultant), "session-series-change-from", old.pk, {
        "from_date": "2026-12-01", "start_time": "13:00", "weekdays": [1], "reason": "Skolen er flyttet",
    })
    assert response.status_code == 200, response.content
    new = response.json()
    assert new["previous"] == old.pk and new["id"] != old.pk
    assert (new["start_time"], new["weekdays"], new["status"]) == ("13:00", [1], "active")
    old.refresh_from_db()
    assert old.until == dt.date(2026, 11, 30) and old.sequence == 1


def test_an_absence_recorded_over_the_api_flags_sessions_and_the_replacement_can_be_accepted(
    sessions_world, client_for
):
    s = sessions_world
    target = s.occurrence("own")
    day = target.start.astimezone(local(2026, 1, 1).tzinfo).date()
    client = client_for(s.a.w.provider_user)  # a provider reports its own illness
    response = post(client, "provider-absence-list", body={
        "provider": s.a.w.provider.pk, "starts_at": local(day.year, day.month, day.day).isoformat(),
        "ends_at": local(day.year, day.month, day.day, 23).isoformat(), "reason": "illness",
    })
    assert response.status_code == 201, response.content
    flagged = response.json()["flagged_occurrences"]
    assert target.pk in flagged and len(flagged) == 3  # its three Aarhus series meet that Monday
    consultant = client_for(s.a.w.consultant)
    listed = consultant.get(reverse("api:session-occurrence-list"), {"needs_attention": "true"}).json()["results"]
    assert {o["id"] for o in listed} == set(flagged)
    row = next(o for o in listed if o["id"] == target.pk)
    assert row["proposed_start"] and "absent (illness)" in row["flag_reason"]
    # The provider learns a replacement is proposed, not the staff's words.
    own_view = client.get(reverse("api:session-occurrence-detail", args=[target.pk])).json()
    assert own_view["needs_attention"] and own_view["flag_reason"] is None
    accepted = post(consultant, "session-occurrence-accept-replacement", target.pk)
    assert accepted.status_code == 200, accepted.content
    assert parse_datetime(accepted.json()["start"]) == parse_datetime(row["proposed_start"])
    assert accepted.json()["status"] == "moved"
    assert not accepted.json()["needs_attention"]


def test_meeting_search_gives_the_earliest_slot_and_ranked_alternatives(sessions_world, client_for):
    s = sessions_world
    response = post(client_for(s.a.w.consultant), "meeting-search", body={
        "placement": s.a.w.placement.pk, "window_start": local(2026, 11, 9, 8).isoformat(),
        "window_end": local(2026, 11, 13, 16).isoformat(), "duration_minutes": 60, "max_alternatives": 3,
    })
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["found"] and body["slot"]["start"] >= "2026-11-09"
    assert {i["role"] for i in body["invitees"]} == {"consultant", "foster_parents", "birth_parents", "provider"}
    assert len(body["alternatives"]) <= 3
    booked = post(client_for(s.a.w.consultant), "meeting-list", body={
        "placement": s.a.w.placement.pk, "kind": "follow_up", "start": body["slot"]["start"],
    })
    assert booked.status_code == 201, booked.content
    assert all(p["attending"] for p in booked.json()["participants"])


def test_a_cancelled_meeting_cannot_be_moved(sessions_world, client_for):
    s = sessions_world
    client = client_for(s.a.w.consultant)
    meeting = s.meetings["meeting"]
    assert post(client, "meeting-cancel", meeting.pk, {"reason": "Syg"}).json()["status"] == "cancelled"
    moved = post(client, "meeting-move", meeting.pk, {"new_start": local(2026, 11, 20, 10).isoformat(), "reason": "x"})
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "invalid_transition"


def test_a_dst_week_move_keeps_the_local_time_in_the_answer(api_world, frozen, client_for):
    """Moving a session into the week summer time starts (28 March 2027) answers in local time +02:00."""
    series = sessions.confirm_series(
        series=sessions.propose_series(need=api_world.need, by=api_world.w.consultant, now=NOW), by=api_world.w.consultant,
        now=NOW,
    )
    occurrence = series.occurrences.booked().filter(start__gt=local(2027, 3, 20)).order_by("start").first()
    response = post(client_for(api_world.w.consultant), "session-occurrence-move", occurrence.pk, {
        "new_start": "2027-03-30T10:00:00", "reason": "Sommertid",  # no offset: Copenhagen wall time
    })
    assert response.status_code == 200, response.content
    assert response.json()["start"] == "2027-03-30T10:00:00+02:00"


def test_the_birth_family_reads_a_meeting_without_the_foster_homes_address(world, client_for):
    from scheduler.services import meetings

    world.foster_home.street, world.foster_home.postcode, world.foster_home.city = "Testvej 7", "8000", "Aarhus C"
    world.foster_home.save()
    meeting = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 11, 10),
                                    by=world.consultant, now=NOW, in_person_at=world.foster_home, allow_missing=True)
    path = reverse("api:meeting-detail", args=[meeting.pk])
    seen = {role: client_for(getattr(world, role)).get(path) for role in ("birth_parent", "foster_parent", "consultant")}
    assert {role: r.status_code for role, r in seen.items()} == dict.fromkeys(seen, 200)
    assert seen["birth_parent"].json()["place_name"] == "Sted: oplyses af jeres konsulent"
    assert "Testvej" not in seen["birth_parent"].content.decode()
    english = client_for(world.birth_parent).get(path, HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["place_name"] == "Place: your consultant will tell you"
    assert seen["foster_parent"].json()["place_name"] == "Testvej 7, 8000 Aarhus C"
    assert seen["consultant"].json()["place_name"] == "Testvej 7, 8000 Aarhus C"
