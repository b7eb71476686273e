"""Changes to a series keep their history (who, when, why) and bump SEQUENCE."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.models import Booking, OccurrenceStatus, SeriesChange, SeriesStatus, SessionSeries
from scheduler.recurrence import ical_lines
from scheduler.services import sessions
from support.errors import Conflict, DomainError, InvalidTransition
from tests.sessions.helpers import (
    CPH,
    DST_ENDS,
    DST_STARTS,
    NOW,
    add_placement,
    assigned_need,
    available,
    hhmm,
    local,
)

LATER = NOW + dt.timedelta(days=1)


@pytest.fixture
def series(world):
    """An active weekly series, Tuesdays 10:00-11:00 from 3 November 2026."""
    for day in ("tue", "wed", "thu"):
        available(world.provider, day, "09:00", "15:00")
        available(world.foster_home, day, "10:00", "15:00")
    proposed = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    return sessions.confirm_series(series=proposed, by=world.consultant, now=NOW)


def nth(series: SessionSeries, n: int):
    return series.occurrences.exclude(status=OccurrenceStatus.SKIPPED).order_by("original_start")[n]


def test_moving_one_occurrence_keeps_its_recurrence_id_and_bumps_both_sequences(world, series):
    occ = nth(series, 2)  # Tuesday 17 November
    original = occ.original_start
    moved = sessions.move_occurrence(
        occurrence=occ, new_start=local(2026, 11, 18, 13, 0), reason="Foster mother at a course",
        by=world.foster_parent, now=LATER,
    )
    series.refresh_from_db()
    assert (moved.status, moved.original_start, moved.recurrence_id) == ("moved", original, "20261117T090000Z")
    assert (moved.sequence, series.sequence) == (1, 1)
    assert moved.end - moved.start == dt.timedelta(hours=1)
    assert {(b.start, b.active) for b in Booking.objects.filter(occurrence=moved)} == {
        (original, False), (local(2026, 11, 18, 13, 0), True),
    }
    change = series.changes.get(action=SeriesChange.Action.OCCURRENCE_MOVED)
    assert (change.by, change.at, change.reason, change.occurrence) == (
        world.foster_parent, LATER, "Foster mother at a course", moved,
    )
    assert change.details["from"]["start"] == original.isoformat()
    # The override is part of the rule rebuilt from the rows.
    rule = series.to_rule()
    assert [(o.original_start, o.start) for o in rule.overrides] == [(original, moved.start)]


def test_a_move_into_someone_elses_booking_is_refused_and_changes_nothing(world, series):
    other = add_placement(world, "Anden")
    available(other.foster_household, "wed", "09:00", "15:00")
    sessions.propose_series(need=assigned_need(world, placement=other), by=world.consultant, now=NOW)
    taken = Booking.objects.filter(party__key=f"provider:{world.provider.pk}", occurrence__series__need__placement=other)
    target = taken.order_by("start").first()
    occ = nth(series, 0)
    with pytest.raises(Conflict) as err:
        sessions.move_occurrence(occurrence=occ, new_start=target.start, reason="r", by=world.consultant, now=NOW)
    assert "already booked" in err.value.message
    occ.refresh_from_db()
    assert occ.status == OccurrenceStatus.SCHEDULED and occ.sequence == 0


def test_a_move_onto_a_holiday_is_refused(world, series):
    with pytest.raises(DomainError) as err:
        sessions.move_occurrence(occurrence=nth(series, 7), new_start=local(2026, 12, 24, 10), reason="r",
                                 by=world.consultant, now=NOW)
    assert err.value.code == "holiday" and "Juleaftensdag" in err.value.message


def test_cancelling_needs_a_reason_and_releases_the_time(world, series):
    occ = nth(series, 1)
    with pytest.raises(DomainError) as err:
        sessions.cancel_occurrence(occurrence=occ, reason="", by=world.consultant, now=NOW)
    assert err.value.code == "reason_required"
    cancelled = sessions.cancel_occurrence(occurrence=occ, reason="Child is ill", by=world.consultant, now=LATER)
    series.refresh_from_db()
    assert (cancelled.status, cancelled.reason, cancelled.sequence, series.sequence) == (
        "cancelled", "Child is ill", 1, 1,
    )
    assert not Booking.objects.filter(occurrence=cancelled, active=True).exists()
    # A calendar feed writes the cancellation as an EXDATE of the series.
    assert "20261110T100000" in ical_lines(series.to_rule())[-1]
    with pytest.raises(InvalidTransition):
        sessions.cancel_occurrence(occurrence=cancelled, reason="again", by=world.consultant, now=LATER)


def test_the_past_is_not_changed(world, series):
    occ = nth(series, 0)
    with pytest.raises(InvalidTransition):
        sessions.cancel_occurrence(occurrence=occ, reason="too late", by=world.consultant, now=occ.start)


def test_changing_the_series_from_a_date_splits_it_and_keeps_history(world, series):
    cancelled = sessions.cancel_occurrence(occurrence=nth(series, 12), reason="Ferie", by=world.consultant, now=NOW)
    new = sessions.change_series_from(
        series=series, from_date=dt.date(2027, 1, 1), start_time=dt.time(14, 0), weekdays=[1],
        reason="School ends later after New Year", by=world.consultant, now=LATER,
    )
    series.refresh_from_db()
    assert series.until == dt.date(2026, 12, 31) and series.status == SeriesStatus.ACTIVE
    assert series.sequence == 2  # the cancellation, then the change
    assert new.uid != series.uid and new.previous == series and new.status == SeriesStatus.ACTIVE
    assert new.sequence == 0 and new.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU"
    old_after = series.occurrences.filter(original_start__gte=local(2027, 1, 1))
    assert set(old_after.values_list("status", flat=True)) == {OccurrenceStatus.REMOVED}
    assert not Booking.objects.filter(occurrence__in=old_after, active=True).exists()
    new_starts = [o.start for o in new.occurrences.filter(status="scheduled").order_by("start")]
    assert new_starts[0] == local(2027, 1, 5, 14, 0)
    # 14:00 stays 14:00 when summer time starts.
    assert {hhmm(s) for s in new_starts} == {"14:00"}
    assert {s.hour for s in new_starts if DST_STARTS < s.date() < DST_ENDS} == {12}
    # The cancellation was on 26 January at 10:00, which the new rule (14:00) does not have.
    assert cancelled.start.astimezone(CPH).date() == dt.date(2027, 1, 26)
    assert not new.occurrences.filter(status="cancelled").exists()
    old_change = series.changes.get(action="changed_from")
    new_change = new.changes.get(action="continued")
    assert old_change.details["continued_by"] == new.uid and new_change.details["previous"] == series.uid
    assert (old_change.by, old_change.at, old_change.reason) == (world.consultant, LATER, "School ends later after New Year")


def test_a_change_from_the_first_session_replaces_the_series(world, series):
    new = sessions.change_series_from(series=series, from_date=NOW.date(), start_time=dt.time(12, 0), reason="Noon",
                                      by=world.consultant, now=NOW)
    series.refresh_from_db()
    assert series.status == SeriesStatus.REPLACED and series.sequence == 1
    assert hhmm(new.occurrences.order_by("start").first().start) == "12:00"
    assert not Booking.objects.filter(occurrence__series=series, active=True).exists()


def test_a_change_that_clashes_in_its_first_weeks_is_refused(world, series):
    other = add_placement(world, "Torsdag")
    available(other.foster_household, "thu", "09:00", "10:00")
    sessions.propose_series(need=assigned_need(world, placement=other), by=world.consultant, now=NOW)
    with pytest.raises(Conflict):
        sessions.change_series_from(series=series, from_date=dt.date(2026, 12, 1), weekdays=[3], start_time=dt.time(9),
                                    reason="Thursdays", by=world.consultant, now=NOW)
    series.refresh_from_db()
    assert series.until is None and series.sequence == 0  # rolled back whole


def test_ending_a_series_releases_later_sessions(world, series):
    ended = sessions.end_series(series=series, last_date=dt.date(2027, 2, 28), reason="Goals reached",
                                by=world.consultant, now=LATER)
    assert (ended.status, ended.until, ended.sequence) == (SeriesStatus.ENDED, dt.date(2027, 2, 28), 1)
    assert "UNTIL=20270228T225959Z" in ended.rrule
    later = ended.occurrences.filter(original_start__gte=local(2027, 3, 1))
    assert later.exists() and set(later.values_list("status", flat=True)) == {OccurrenceStatus.REMOVED}
    assert not Booking.objects.filter(occurrence__in=later, active=True).exists()
    assert ended.occurrences.filter(status="scheduled", start__lt=local(2027, 3, 1)).count() == 17
    change = ended.changes.get(action="ended")
    assert (change.reason, change.details["released"]) == ("Goals reached", later.count())


def test_a_proposal_is_declined_not_ended(world):
    available(world.foster_home, "tue", "09:00", "15:00")
    proposed = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    with pytest.raises(InvalidTransition):
        sessions.end_series(series=proposed, last_date=dt.date(2027, 1, 1), reason="r", by=world.consultant, now=NOW)
