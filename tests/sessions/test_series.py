"""Proposing and confirming session series for accepted assignments."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from scheduler.models import (
    Booking,
    OccurrenceStatus,
    SeriesChange,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.recurrence import expand, ical_lines
from scheduler.services import sessions
from support.errors import Conflict, DomainError, InvalidTransition
from support.models import AuditEntry, NeedStatus, SupportNeed
from tests.conftest import make_household
from tests.sessions.helpers import (
    CPH,
    DST_ENDS,
    DST_STARTS,
    NOW,
    add_placement,
    assigned_need,
    available,
    hhmm,
)


@pytest.fixture
def tuesdays(world):
    """The provider works Tuesdays 09-15, the foster family can do Tuesdays 10-14."""
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    return world


def booked(series: SessionSeries) -> list[SessionOccurrence]:
    return list(series.occurrences.filter(status__in=[OccurrenceStatus.SCHEDULED, OccurrenceStatus.MOVED]))


def test_proposal_holds_the_first_shared_slot_until_the_consultant_confirms(tuesdays):
    world = tuesdays
    need = assigned_need(world)

    series = sessions.propose_series(need=need, by=world.consultant, now=NOW)

    assert series.status == SeriesStatus.PROPOSED
    assert re.fullmatch(r"series-[0-9a-f-]{36}@plejenet", series.uid)
    assert series.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU"
    first = series.occurrences.order_by("start").first()
    assert first.start == dt.datetime(2026, 11, 3, 10, 0, tzinfo=CPH)
    assert first.recurrence_id == "20261103T090000Z"
    # A year of weekly sessions, each holding the provider's and the household's time.
    occurrences = booked(series)
    assert len(occurrences) == 52
    assert Booking.objects.filter(active=True).count() == 2 * 52
    assert set(Booking.objects.values_list("party__key", flat=True)) == {
        f"provider:{world.provider.pk}", f"household:{world.foster_home.pk}",
    }

    confirmed = sessions.confirm_series(series=series, by=world.consultant, now=NOW)
    assert confirmed.status == SeriesStatus.ACTIVE
    assert confirmed.confirmed_by == world.consultant
    assert confirmed.sequence == 0  # confirming changes no time
    assert list(confirmed.changes.values_list("action", "by_label")) == [
        ("proposed", "konsulent"), ("confirmed", "konsulent"),
    ]
    assert AuditEntry.objects.filter(action="session_series.confirm", object_id=str(series.pk)).exists()
    with pytest.raises(InvalidTransition):
        sessions.confirm_series(series=series, by=world.consultant, now=NOW)


def test_a_ten_oclock_session_stays_at_ten_across_both_dst_changes(tuesdays):
    world = tuesdays
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW, months=13)

    around = [o for o in booked(series) if abs((o.start.date() - DST_STARTS).days) <= 7
              or abs((o.start.date() - DST_ENDS).days) <= 7]
    assert [o.start.astimezone(CPH).date() for o in around] == [
        dt.date(2027, 3, 23), dt.date(2027, 3, 30), dt.date(2027, 10, 26), dt.date(2027, 11, 2),
    ]
    assert {hhmm(o.start) for o in around} == {"10:00"}
    # The wall clock is fixed, so the UTC time moves by an hour: 09:00Z in winter, 08:00Z in summer.
    assert [o.start.hour for o in around] == [9, 8, 8, 9]
    assert all(o.end - o.start == dt.timedelta(minutes=60) for o in around)


def test_holidays_are_skipped_with_their_name_and_never_booked(world):
    available(world.provider, "thu", "09:00", "15:00")
    available(world.foster_home, "thu", "09:00", "15:00")
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)

    skipped = {o.start.astimezone(CPH).date(): o.reason for o in series.occurrences.filter(status="skipped")}
    assert "Juleaftensdag" in skipped[dt.date(2026, 12, 24)]
    assert "Skærtorsdag" in skipped[dt.date(2027, 3, 25)]
    assert "Kristi himmelfartsdag" in skipped[dt.date(2027, 5, 6)]
    assert not Booking.objects.filter(occurrence__status="skipped").exists()
    # They are EXDATEs of the series, so a calendar client leaves them out too.
    rule = series.to_rule()
    starts = {o.start.astimezone(CPH).date() for o in expand(rule, start=NOW, end=NOW + dt.timedelta(days=365))}
    assert dt.date(2027, 5, 6) not in starts and dt.date(2027, 5, 13) in starts
    assert any(line.startswith("EXDATE;TZID=Europe/Copenhagen:") and "20270506T090000" in line
               for line in ical_lines(rule))


@pytest.mark.parametrize(
    ("per_week", "rrule", "count"),
    [
        ("0.5", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", 26),
        ("0.25", "FREQ=WEEKLY;INTERVAL=4;BYDAY=TU", 13),
        ("2", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH", 100),
    ],
)
def test_the_needs_frequency_becomes_the_rule(world, per_week, rrule, count):
    for day in ("tue", "thu"):
        available(world.provider, day, "09:00", "15:00")
        available(world.foster_home, day, "10:00", "14:00")
    series = sessions.propose_series(need=assigned_need(world, per_week=per_week), by=world.consultant, now=NOW)
    assert series.rrule == rrule
    # Twice a week: 104 Tuesdays and Thursdays less four closed Thursdays (24 and 31 December,
    # Skærtorsdag, Kristi himmelfartsdag).
    assert len(booked(series)) == count


def test_start_and_end_dates_bound_the_series(tuesdays):
    world = tuesdays
    need = assigned_need(world, starts_on=dt.date(2027, 1, 5), ends_on=dt.date(2027, 3, 31))
    series = sessions.propose_series(need=need, by=world.consultant, now=NOW)
    dates = [o.start.astimezone(CPH).date() for o in booked(series)]
    assert dates[0] == dt.date(2027, 1, 5)
    assert dates[-1] == dt.date(2027, 3, 30)
    assert series.until == dt.date(2027, 3, 31)
    assert "UNTIL=20270331T215959Z" in series.rrule  # the last local second, in UTC (summer time)


def test_only_accepted_assignments_are_scheduled(tuesdays):
    world = tuesdays
    need = assigned_need(world)
    SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.OPEN, current_provider=None)
    with pytest.raises(InvalidTransition) as err:
        sessions.propose_series(need=need, by=world.consultant, now=NOW)
    assert err.value.code == "not_assigned"


def test_an_assignment_gets_one_series(tuesdays):
    world = tuesdays
    need = assigned_need(world)
    sessions.propose_series(need=need, by=world.consultant, now=NOW)
    with pytest.raises(Conflict) as err:
        sessions.propose_series(need=need, by=world.consultant, now=NOW)
    assert err.value.code == "already_scheduled"


def test_two_proposals_for_one_provider_never_share_a_slot(tuesdays):
    world = tuesdays
    other = add_placement(world, "Nabo", latitude=56.16, longitude=10.20)
    available(other.foster_household, "tue", "10:00", "14:00")
    first = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    second = sessions.propose_series(need=assigned_need(world, placement=other), by=world.consultant, now=NOW)
    assert hhmm(booked(first)[0].start) == "10:00"
    assert hhmm(booked(second)[0].start) == "11:00"  # the same address: no travel time needed
    provider_rows = Booking.objects.filter(party__key=f"provider:{world.provider.pk}", active=True).order_by("start")
    spans = [(b.start, b.end) for b in provider_rows]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


def test_declining_a_proposal_releases_its_time_and_keeps_the_rows(tuesdays):
    world = tuesdays
    need = assigned_need(world)
    series = sessions.propose_series(need=need, by=world.consultant, now=NOW)
    with pytest.raises(DomainError):
        sessions.decline_series(series=series, reason=" ", by=world.consultant, now=NOW)
    sessions.decline_series(series=series, reason="The family wants Thursdays", by=world.consultant, now=NOW)
    series.refresh_from_db()
    assert series.status == SeriesStatus.DECLINED
    assert not Booking.objects.filter(active=True).exists()
    assert series.occurrences.filter(status=OccurrenceStatus.REMOVED).count() == 52
    assert series.changes.last().reason == "The family wants Thursdays"
    # The need can be proposed again, and gets the same slot back.
    again = sessions.propose_series(need=need, by=world.consultant, now=NOW)
    assert booked(again)[0].start == dt.datetime(2026, 11, 3, 10, 0, tzinfo=CPH)


def test_no_shared_window_says_so_in_words(world):
    available(world.provider, "mon", "09:00", "12:00")
    available(world.foster_home, "tue", "17:00", "20:00")
    with pytest.raises(DomainError) as err:
        sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    assert err.value.code == "no_overlapping_windows"
    assert "never both available" in err.value.message


def test_the_stored_rule_round_trips_through_the_core(tuesdays):
    world = tuesdays
    series = sessions.propose_series(need=assigned_need(world, per_week="0.5"), by=world.consultant, now=NOW)
    rule = series.to_rule()
    expanded = expand(rule, start=NOW, end=NOW + dt.timedelta(days=365))
    assert [o.original_start for o in expanded] == [o.original_start for o in booked(series)]
    assert ical_lines(rule)[:2] == ["DTSTART;TZID=Europe/Copenhagen:20261103T100000",
                                    "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"]


def test_a_household_without_coordinates_cannot_have_in_person_sessions(world):
    home = make_household(world.aarhus, "Uden adresse (fiktiv)", latitude=None, longitude=None)
    placement = add_placement(world, "Adresseløs", home=home)
    with pytest.raises(DomainError) as err:
        sessions.propose_series(need=assigned_need(world, placement=placement), by=world.consultant, now=NOW)
    assert err.value.code == "no_location"


def test_history_records_the_proposal(tuesdays):
    world = tuesdays
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    change = SeriesChange.objects.get(series=series)
    assert (change.action, change.by, change.at, change.sequence) == ("proposed", world.consultant, NOW, 0)
    assert change.details["booked"] == 52
