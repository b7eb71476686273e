"""Provider absences: known ones are skipped when planning; later ones flag sessions and propose new slots."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.models import Booking, OccurrenceStatus, SeriesChange
from scheduler.services import meetings, sessions
from support.errors import DomainError, InvalidTransition
from support.models import ProviderAbsence
from tests.sessions.helpers import NOW, add_placement, assigned_need, available, hhmm, local


@pytest.fixture
def weekly(world):
    """Provider Tue-Thu 09-15; foster family Tue-Thu 10-15; an active series on Tuesdays 10:00."""
    for day in ("tue", "wed", "thu"):
        available(world.provider, day, "09:00", "15:00")
        available(world.foster_home, day, "10:00", "15:00")
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    return world, sessions.confirm_series(series=series, by=world.consultant, now=NOW)


def absent(world, first: dt.date, last: dt.date, reason: str = "vacation"):
    return sessions.record_provider_absence(
        provider=world.provider, starts_at=local(first.year, first.month, first.day),
        ends_at=local(last.year, last.month, last.day) + dt.timedelta(days=1), reason=reason,
        by=world.consultant, now=NOW,
    )


def test_an_absence_flags_the_sessions_it_hits_and_proposes_new_slots(weekly):
    world, series = weekly
    report = absent(world, dt.date(2026, 11, 16), dt.date(2026, 11, 20))

    assert [o.start for o in report.flagged] == [local(2026, 11, 17, 10)]
    flagged = report.flagged[0]
    flagged.refresh_from_db()
    assert flagged.needs_attention and "absent (vacation)" in flagged.flag_reason
    # Not that week (away), not Tuesday 24th (already a session): Wednesday 25th at 10:00.
    assert (flagged.proposed_start, flagged.proposed_end) == (local(2026, 11, 25, 10), local(2026, 11, 25, 11))
    # Nothing moved yet; the history says what happened.
    assert flagged.status == OccurrenceStatus.SCHEDULED and flagged.sequence == 0
    change = series.changes.get(action=SeriesChange.Action.ABSENCE_FLAGGED)
    assert change.details["occurrences"] == [flagged.pk] and change.by == world.consultant

    moved = sessions.accept_replacement(occurrence=flagged, by=world.consultant, now=NOW)
    series.refresh_from_db()
    assert moved.start == local(2026, 11, 25, 10) and moved.status == OccurrenceStatus.MOVED
    assert not moved.needs_attention and moved.proposed_start is None
    assert (moved.sequence, series.sequence) == (1, 1)
    assert moved.reason.startswith("Replacement:")
    with pytest.raises(InvalidTransition):
        sessions.accept_replacement(occurrence=moved, by=world.consultant, now=NOW)


def test_replacements_for_two_series_of_one_provider_do_not_collide(weekly):
    world, first = weekly
    other = add_placement(world, "Nabo")
    for day in ("tue", "wed", "thu"):
        available(other.foster_household, day, "10:00", "15:00")
    second = sessions.propose_series(need=assigned_need(world, placement=other), by=world.consultant, now=NOW)
    report = absent(world, dt.date(2026, 11, 16), dt.date(2026, 11, 20), reason="illness")
    assert len(report.flagged) == 2
    proposals = sorted((o.proposed_start, o.proposed_end) for o in report.flagged)
    assert proposals[0][1] <= proposals[1][0]
    assert {o.series_id for o in report.flagged} == {first.pk, second.pk}


def test_a_replacement_in_the_week_summer_time_starts_keeps_local_time(weekly):
    world, _series = weekly
    report = absent(world, dt.date(2027, 3, 22), dt.date(2027, 3, 26))
    flagged = report.flagged[0]
    assert flagged.start == local(2027, 3, 23, 10) and flagged.start.astimezone(dt.UTC).hour == 9
    # Monday 29 March is Easter Monday and Tuesday 30th has its own session: Wednesday 31st.
    assert flagged.proposed_start == local(2027, 3, 31, 10)
    assert flagged.proposed_start.astimezone(dt.UTC).hour == 8
    assert hhmm(flagged.proposed_start) == "10:00"


def test_an_absence_known_when_planning_skips_those_sessions(world):
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "15:00")
    ProviderAbsence.objects.create(provider=world.provider, starts_at=local(2026, 12, 7), ends_at=local(2026, 12, 12),
                                   reason="course")
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    skipped = series.occurrences.get(status=OccurrenceStatus.SKIPPED)
    assert skipped.original_start == local(2026, 12, 8, 10) and skipped.reason.startswith("absence")
    assert not Booking.objects.filter(occurrence=skipped).exists()


def test_meetings_the_provider_attends_are_flagged_too(weekly):
    world, _series = weekly
    meeting = meetings.book_meeting(placement=world.placement, kind="follow_up", start=local(2026, 11, 18, 13),
                                    by=world.consultant, now=NOW)
    report = absent(world, dt.date(2026, 11, 16), dt.date(2026, 11, 20))
    assert [m.pk for m in report.meetings] == [meeting.pk]
    meeting.refresh_from_db()
    assert meeting.needs_attention and meeting.changes.filter(action="absence_flagged").exists()


def test_an_absence_must_make_sense(weekly):
    world, _series = weekly
    with pytest.raises(DomainError):
        sessions.record_provider_absence(provider=world.provider, starts_at=local(2026, 11, 20),
                                         ends_at=local(2026, 11, 16), reason="vacation", by=None, now=NOW)
    with pytest.raises(DomainError):
        sessions.record_provider_absence(provider=world.provider, starts_at=local(2026, 11, 16),
                                         ends_at=local(2026, 11, 20), reason="beach", by=None, now=NOW)
