"""Start-up and follow-up meetings: the earliest time every invited party is free."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.models import Booking, MeetingStatus
from scheduler.services import meetings, sessions
from support.errors import Conflict, DomainError
from tests.sessions.helpers import NOW, add_placement, assigned_need, available, local


@pytest.fixture
def invited(world):
    """Foster family Wed 09-12, birth parents Wed 10-15, the provider busy Wed 10-11 with another family."""
    available(world.foster_home, "wed", "09:00", "12:00")
    available(world.birth_home, "wed", "10:00", "15:00")
    available(world.provider, "wed", "09:00", "15:00")
    assigned_need(world)  # the provider supports this placement, so is invited
    other = add_placement(world, "Onsdag")
    available(other.foster_household, "wed", "10:00", "11:00")
    sessions.propose_series(need=assigned_need(world, placement=other), by=world.consultant, now=NOW)
    return world


def parties(world) -> dict[str, str]:
    return {
        "consultant": f"user:{world.consultant.pk}", "foster": f"household:{world.foster_home.pk}",
        "birth": f"household:{world.birth_home.pk}", "provider": f"provider:{world.provider.pk}",
        "child": f"child:{world.child.pk}",
    }


def test_the_earliest_slot_suits_everyone_invited(invited):
    world = invited
    search = meetings.find_meeting(placement=world.placement, window_start=NOW, window_end=local(2026, 11, 7), now=NOW)
    assert search.found
    assert search.result.slot.interval.start == local(2026, 11, 4, 11)
    assert set(search.labels) == set(parties(world).values()) - {parties(world)["child"]}
    assert search.labels[parties(world)["provider"]] == world.provider.name


def test_when_no_slot_suits_everyone_the_alternatives_name_who_cannot_come(invited):
    world = invited
    world.birth_home.availability.all().delete()
    available(world.birth_home, "thu", "10:00", "15:00")
    search = meetings.find_meeting(placement=world.placement, window_start=NOW, window_end=local(2026, 11, 7), now=NOW)
    assert not search.found
    best = search.result.alternatives[0]
    assert len(best.missing_required) == 1
    assert best.missing_required[0] in {parties(world)["birth"], parties(world)["foster"]}
    assert all(a.available for a in search.result.alternatives)


def test_the_child_is_optional_unless_required(invited):
    world = invited
    search = meetings.find_meeting(placement=world.placement, window_start=NOW, window_end=local(2026, 11, 7),
                                   now=NOW, include_child=True)
    child = next(i for i in search.invitees if i.role == "child")
    assert not child.required and search.found


def test_booking_stores_participants_and_books_each_of_them(invited):
    world = invited
    meeting = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 4, 11),
                                    by=world.consultant, now=NOW, in_person_at=world.foster_home)
    assert meeting.uid.startswith("meeting-") and meeting.sequence == 0
    assert meeting.location is not None and meeting.title
    roles = dict(meeting.participants.values_list("party", "role"))
    assert roles == {
        parties(world)["consultant"]: "consultant", parties(world)["foster"]: "foster_parents",
        parties(world)["birth"]: "birth_parents", parties(world)["provider"]: "provider",
    }
    assert set(Booking.objects.filter(meeting=meeting, active=True).values_list("party__key", flat=True)) == set(roles)
    assert meeting.changes.get().action == "booked"


def test_nobody_is_double_booked_by_a_meeting(invited):
    world = invited
    with pytest.raises(Conflict) as err:
        meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 4, 10),
                              by=world.consultant, now=NOW)
    assert world.provider.name in err.value.message and "already booked" in err.value.message
    # Booked anyway without the provider: kept as a participant who does not attend, with no booking.
    meeting = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 4, 10),
                                    by=world.consultant, now=NOW, allow_missing=True)
    provider = meeting.participants.get(role="provider")
    assert not provider.attending
    assert not Booking.objects.filter(meeting=meeting, party__key=provider.party).exists()
    # The consultant is now taken at that time for another placement too.
    other = add_placement(world, "Konsulent optaget")
    with pytest.raises(Conflict):
        meetings.book_meeting(placement=other, kind="start_up", start=local(2026, 11, 4, 10, 30),
                              by=world.consultant, now=NOW)


def test_moving_and_cancelling_a_meeting_bump_sequence_and_keep_history(invited):
    world = invited
    meeting = meetings.book_meeting(placement=world.placement, kind="start_up", start=local(2026, 11, 4, 11),
                                    by=world.consultant, now=NOW)
    moved = meetings.move_meeting(meeting=meeting, new_start=local(2026, 11, 11, 11), reason="Birth mother asked",
                                  by=world.consultant, now=NOW)
    assert moved.sequence == 1 and moved.start == local(2026, 11, 11, 11)
    assert Booking.objects.filter(meeting=moved, active=True).values_list("start", flat=True).distinct().get() \
        == local(2026, 11, 11, 11)
    cancelled = meetings.cancel_meeting(meeting=moved, reason="Placement ended", by=world.consultant, now=NOW)
    assert cancelled.status == MeetingStatus.CANCELLED and cancelled.sequence == 2
    assert not Booking.objects.filter(meeting=cancelled, active=True).exists()
    assert list(cancelled.changes.values_list("action", "sequence", "reason")) == [
        ("booked", 0, ""), ("moved", 1, "Birth mother asked"), ("cancelled", 2, "Placement ended"),
    ]


def test_meetings_are_not_booked_on_holidays_or_in_the_past(invited):
    world = invited
    with pytest.raises(DomainError) as err:
        meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 12, 24, 10),
                              by=world.consultant, now=NOW)
    assert err.value.code == "holiday"
    with pytest.raises(DomainError):
        meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 1, 10),
                              by=world.consultant, now=NOW)
    with pytest.raises(DomainError):
        meetings.book_meeting(placement=world.placement, kind="party", start=local(2026, 11, 4, 11),
                              by=world.consultant, now=NOW)


def test_a_meeting_search_in_the_week_summer_time_starts(invited):
    world = invited
    search = meetings.find_meeting(placement=world.placement, window_start=local(2027, 3, 29),
                                   window_end=local(2027, 4, 3), now=NOW)
    start = search.result.slot.interval.start
    assert start == local(2027, 3, 31, 11)
    assert start.astimezone(dt.UTC).hour == 9  # 11:00 summer time


def test_meetings_booked_before_the_place_household_field_get_it_from_their_address(invited):
    """Migration scheduler/0005 finds the home by the address the meeting was booked with."""
    import importlib

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from scheduler.models import Meeting

    world = invited
    at_home = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 4, 11),
                                    by=world.consultant, now=NOW, in_person_at=world.foster_home)
    moved_since = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 5, 11),
                                        by=world.consultant, now=NOW, in_person_at=world.foster_home)
    Meeting.objects.filter(pk=moved_since.pk).update(place_name="Gammel Testvej 1, 8000 Aarhus C")
    Meeting.objects.update(place_household=None)
    migration = importlib.import_module("scheduler.migrations.0005_meeting_place_household")
    state = MigrationExecutor(connection).loader.project_state(("scheduler", "0005_meeting_place_household"))
    migration.find_place_households(state.apps, None)
    assert Meeting.objects.get(pk=at_home.pk).place_household_id == world.foster_home.pk
    assert Meeting.objects.get(pk=moved_since.pk).place_household_id is None  # not shown to the birth family
