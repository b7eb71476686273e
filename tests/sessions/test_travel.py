"""Travel time between a provider's in-person sessions; remote sessions need none."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.models import Booking, OccurrenceStatus
from scheduler.services import sessions
from support.errors import Conflict
from tests.sessions.helpers import CPH, DST_STARTS, NOW, add_placement, assigned_need, available, hhmm

# 0.2698 degrees of latitude is 30 km: 36 minutes at the default 50 km/h.
FAR_LAT = 56.16 + 0.2698


@pytest.fixture
def two_homes(world):
    """Mondays: the provider 09-12, the foster home 09-10, a second home 30 km away 09-12."""
    available(world.provider, "mon", "09:00", "12:00")
    available(world.foster_home, "mon", "09:00", "10:00")
    far = add_placement(world, "Langtvæk", latitude=FAR_LAT, longitude=10.20)
    available(far.foster_household, "mon", "09:00", "12:00")
    first = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    return world, far, first


def occurrences_on(day: dt.date) -> list:
    return sorted(
        (o for o in Booking.objects.filter(active=True, party__key__startswith="provider:").select_related("occurrence")
         if o.start.astimezone(CPH).date() == day),
        key=lambda b: b.start,
    )


def test_the_next_in_person_session_leaves_time_to_travel(two_homes):
    world, far, first = two_homes
    second = sessions.propose_series(need=assigned_need(world, placement=far), by=world.consultant, now=NOW)
    assert hhmm(first.occurrences.first().start) == "09:00"
    # 10:00 would leave no time to drive 30 km; 10:36 is the earliest, 10:45 the next quarter.
    assert hhmm(second.occurrences.first().start) == "10:45"


def test_travel_time_holds_across_the_change_to_summer_time(two_homes):
    world, far, _first = two_homes
    sessions.propose_series(need=assigned_need(world, placement=far), by=world.consultant, now=NOW)
    before, after = DST_STARTS - dt.timedelta(days=6), DST_STARTS + dt.timedelta(days=8)
    # Summer time starts on Easter Sunday 2027; Easter Monday is closed.
    assert occurrences_on(DST_STARTS + dt.timedelta(days=1)) == []
    for monday, utc_hours in ((before, [8, 9]), (after, [7, 8])):
        day = occurrences_on(monday)
        assert [hhmm(b.start) for b in day] == ["09:00", "10:45"]
        assert [b.start.hour for b in day] == utc_hours
        assert day[1].start - day[0].end == dt.timedelta(minutes=45)


def test_a_remote_session_needs_no_travel_time(world):
    world.provider.offers_remote = True
    world.provider.max_travel_km = 10
    world.provider.save()
    available(world.provider, "mon", "09:00", "12:00")
    available(world.foster_home, "mon", "09:00", "10:00")
    far = add_placement(world, "Online", latitude=FAR_LAT, longitude=10.20)
    available(far.foster_household, "mon", "09:00", "12:00")
    sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    remote = sessions.propose_series(
        need=assigned_need(world, placement=far, remote_ok=True), by=world.consultant, now=NOW
    )
    assert remote.remote and remote.location is None
    assert hhmm(remote.occurrences.first().start) == "10:00"
    assert not Booking.objects.filter(occurrence__series=remote, latitude__isnull=False).exists()


def test_moving_a_session_too_close_to_another_is_refused_with_the_travel_time(two_homes):
    world, far, first = two_homes
    second = sessions.propose_series(need=assigned_need(world, placement=far), by=world.consultant, now=NOW)
    occ = second.occurrences.filter(status=OccurrenceStatus.SCHEDULED).order_by("start")[3]
    ten = occ.start.astimezone(CPH).replace(hour=10, minute=15)
    with pytest.raises(Conflict) as err:
        sessions.move_occurrence(occurrence=occ, new_start=ten, reason="Earlier please", by=world.consultant, now=NOW)
    assert "36 minutes to travel" in err.value.message
    occ.refresh_from_db()
    assert hhmm(occ.start) == "10:45" and occ.sequence == 0
