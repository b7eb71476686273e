"""No double booking under concurrency, guaranteed by PostgreSQL's exclusion constraint.

Run with ``DATABASE_URL=postgres://...``; on SQLite these tests are skipped with the reason.
The race tests use real threads, each with its own database connection, against committed data
(``transaction=True``), so they see exactly what concurrent requests would.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from scheduler import sessions_booking
from scheduler.models import Booking, BookingParty
from scheduler.services import meetings, sessions
from scheduler.sessions_booking import fast_insert
from support.errors import Conflict
from support.models import Competence, Service
from support.reference_data import install
from tests.sessions.helpers import (
    CPH,
    NOW,
    add_placement,
    add_provider,
    assigned_need,
    available,
    local,
    postgres_only,
)

pytestmark = postgres_only

SLOT = local(2026, 11, 4, 11)
RACERS = 8


@pytest.fixture
def reference_data(transactional_db):
    # A transactional test starts from an empty database when another one flushed it before.
    install(Service, Competence)


def race(placements, attempt) -> list[tuple]:
    """Run ``attempt(placement)`` in one thread per placement, all released at once."""
    barrier = threading.Barrier(len(placements))
    results: list[tuple] = []
    lock = threading.Lock()

    def run(placement):
        try:
            barrier.wait(timeout=30)
            outcome = ("won", attempt(placement).pk)
        except Conflict as exc:
            outcome = ("conflict", exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - any other failure must show up in the assertion
            outcome = ("error", repr(exc))
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(p,)) for p in placements]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def book(placement):
    return meetings.book_meeting(placement=placement, kind="follow_up", start=SLOT, by=None, now=NOW)


@pytest.mark.django_db(transaction=True)
def test_many_threads_racing_for_one_consultant_slot_exactly_one_wins(reference_data, world):
    placements = [add_placement(world, f"Kapløb {i}") for i in range(RACERS)]  # one consultant, eight families
    results = race(placements, book)
    assert sorted(r[0] for r in results) == ["conflict"] * (RACERS - 1) + ["won"]
    assert all("already booked" in r[2] for r in results if r[0] == "conflict")
    assert Booking.objects.filter(party__key=f"user:{world.consultant.pk}", active=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_alone_stops_the_race_when_the_application_check_is_bypassed(
    reference_data, world, monkeypatch
):
    placements = [add_placement(world, f"Uden lås {i}") for i in range(RACERS)]
    keys = {i.party for p in placements for i in meetings.invitees_for(placement=p)}
    BookingParty.objects.bulk_create([BookingParty(key=k) for k in keys])

    def unlocked(keys):
        return dict(BookingParty.objects.filter(key__in=list(keys)).values_list("key", "id"))

    # Without locks and without the overlap query, only the exclusion constraint is left.
    monkeypatch.setattr(sessions_booking, "lock_parties", unlocked)
    monkeypatch.setattr(meetings, "_unavailable", lambda *args, **kwargs: [])
    results = race(placements, book)
    assert sorted(r[0] for r in results) == ["conflict"] * (RACERS - 1) + ["won"]
    assert {r[1] for r in results if r[0] == "conflict"} == {"double_booking"}
    assert Booking.objects.filter(party__key=f"user:{world.consultant.pk}", active=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_bulk_scheduling_in_two_threads_books_everyone_once(reference_data, world):
    # Two providers share the foster homes, so the threads must wait for each other's locks.
    other = add_provider(world, "Anden behandler (fiktiv)")
    placements = [add_placement(world, f"Tråd {i}") for i in range(6)]
    for p in placements:
        for day in ("mon", "tue", "wed"):
            available(p.foster_household, day, "09:00", "12:00")
        assigned_need(world, placement=p, provider=world.provider)
        assigned_need(world, placement=p, provider=other, service="supervision")
    summary = sessions.schedule_assignments(municipality=world.aarhus, by=None, now=NOW, confirm=True, workers=2)
    assert (summary.considered, summary.confirmed, summary.failures) == (12, 12, [])
    rows = sorted(Booking.objects.filter(active=True).values_list("party_id", "start", "end"))
    for (party, _start, end), (next_party, next_start, _end) in zip(rows, rows[1:], strict=False):
        assert party != next_party or end <= next_start


@pytest.mark.django_db
def test_the_constraint_rejects_an_overlapping_booking_inserted_directly(world):
    meeting = book(world.placement)
    consultant = BookingParty.objects.get(key=f"user:{world.consultant.pk}")
    stranger = BookingParty.objects.create(key="user:999999")

    def insert(start, end, *, party=consultant, active=True):
        with transaction.atomic():
            return Booking.objects.create(party=party, start=start, end=end, active=active, meeting=meeting)

    with pytest.raises(IntegrityError, match="booking_no_overlap"):
        insert(SLOT + dt.timedelta(minutes=30), SLOT + dt.timedelta(minutes=90))
    # Touching is not overlapping (half-open ranges); released bookings and other parties don't count.
    insert(SLOT + dt.timedelta(hours=1), SLOT + dt.timedelta(hours=2))
    released = insert(SLOT, SLOT + dt.timedelta(hours=1), active=False)
    insert(SLOT, SLOT + dt.timedelta(hours=1), party=stranger)
    # Re-activating a released booking that overlaps is refused too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=released.pk).update(active=True)
    # So is the bulk path the scheduler writes occurrences' bookings with.
    row = (consultant.pk, SLOT, SLOT + dt.timedelta(minutes=15), True, meeting.pk)
    with pytest.raises(IntegrityError, match="booking_no_overlap"), transaction.atomic():
        fast_insert(Booking, ["party", "start", "end", "active", "meeting"], [row])


@pytest.mark.django_db
def test_the_constraints_veto_becomes_a_clear_conflict(world, monkeypatch):
    book(world.placement)
    monkeypatch.setattr(meetings, "_unavailable", lambda *args, **kwargs: [])
    other = add_placement(world, "Veto")
    with pytest.raises(Conflict) as err:
        book(other)
    assert err.value.code == "double_booking"
    assert "no longer free" in err.value.message


@pytest.mark.django_db
def test_the_repeated_october_hour_is_two_different_times_to_the_constraint(world):
    meeting = book(world.placement)
    party = BookingParty.objects.create(key="user:424242")
    # 31 October 2027: 02:00-03:00 happens twice, first in summer time (00:00Z), then in winter time (01:00Z).
    summer = dt.datetime(2027, 10, 31, 2, 0, tzinfo=CPH)
    winter = summer.replace(fold=1)
    assert winter.astimezone(dt.UTC) - summer.astimezone(dt.UTC) == dt.timedelta(hours=1)
    for start in (summer, winter):
        with transaction.atomic():
            Booking.objects.create(party=party, start=start, end=start.astimezone(dt.UTC) + dt.timedelta(hours=1),
                                   meeting=meeting)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(party=party, start=winter, end=winter.astimezone(dt.UTC) + dt.timedelta(minutes=30),
                               meeting=meeting)

