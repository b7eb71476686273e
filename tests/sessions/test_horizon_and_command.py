"""The rolling horizon (daily task and its schedule) and the bulk command."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from scheduler.models import OccurrenceStatus, SeriesChange, SeriesStatus, SessionSeries
from scheduler.services import meetings, sessions
from scheduler.tasks_sessions import SCHEDULE_NAME, TASK_FUNC, ensure_schedules, extend_session_horizons
from tests.sessions.helpers import CPH, DST_STARTS, NOW, add_placement, assigned_need, available, hhmm, local


@pytest.fixture
def short(world):
    """A weekly Tuesday 10:00 series materialised only three months ahead."""
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW, months=3)
    return world, sessions.confirm_series(series=series, by=world.consultant, now=NOW)


def test_extending_the_horizon_is_idempotent_and_keeps_local_time_across_dst(short):
    world, series = short
    assert series.occurrences.count() == 13
    summary = sessions.extend_horizons(now=NOW, months=12)
    assert (summary.series, summary.booked) == (1, 39)
    again = sessions.extend_horizons(now=NOW, months=12)
    assert (again.series, again.booked) == (0, 0)
    series.refresh_from_db()
    assert series.occurrences.count() == 52 and series.sequence == 0
    after_dst = series.occurrences.filter(start__date__gt=DST_STARTS).order_by("start").first()
    assert hhmm(after_dst.start) == "10:00" and after_dst.start.hour == 8


def test_a_clash_found_when_extending_is_skipped_and_bumps_sequence(short):
    world, series = short
    meeting_at = local(2027, 5, 4, 10)  # a Tuesday beyond the three months, at the series' time
    meetings.book_meeting(placement=world.placement, kind="follow_up", start=meeting_at, by=world.consultant,
                          now=NOW, allow_missing=True)
    sessions.extend_horizons(now=NOW, months=12)
    series.refresh_from_db()
    skipped = series.occurrences.get(original_start=meeting_at)
    assert skipped.status == OccurrenceStatus.SKIPPED and skipped.reason.startswith("clash")
    assert meeting_at.astimezone(dt.UTC).isoformat() in series.exdates
    assert series.sequence == 1
    assert series.changes.filter(action=SeriesChange.Action.EXTENDED).exists()


def test_the_daily_task_reads_the_clock_and_extends(short):
    _world, series = short
    with time_machine.travel(NOW + dt.timedelta(days=30), tick=False):
        message = extend_session_horizons()
    assert message.startswith("1 series extended")
    series.refresh_from_db()
    assert series.materialised_until == NOW + dt.timedelta(days=30) + dt.timedelta(days=365)


def test_the_schedule_row_is_created_once(db):
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    assert ensure_schedules(now=NOW) is True
    assert ensure_schedules(now=NOW) is False
    row = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (row.func, row.schedule_type, row.repeats) == (TASK_FUNC, Schedule.DAILY, -1)
    assert row.next_run.astimezone(CPH) == local(2026, 11, 3, 3)


def test_the_command_schedules_every_assignment_without_a_series(world):
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    other = add_placement(world, "Kommando")
    available(other.foster_household, "tue", "10:00", "14:00")
    assigned_need(world)
    assigned_need(world, placement=other)
    out, err = io.StringIO(), io.StringIO()
    call_command("schedule_assignments", "--municipality", "751", "--confirm", "--by", "konsulent",
                 "--now", "2026-11-02T09:00", stdout=out, stderr=err)
    assert "2 assignment(s) without a series, 2 confirmed with 104 occurrence(s)" in out.getvalue()
    assert set(SessionSeries.objects.values_list("status", flat=True)) == {SeriesStatus.ACTIVE}
    assert SessionSeries.objects.filter(confirmed_by=world.consultant).count() == 2
    # A second run finds nothing left to do.
    out = io.StringIO()
    call_command("schedule_assignments", "--municipality", "751", "--now", "2026-11-02T09:00", stdout=out)
    assert "0 assignment(s) without a series" in out.getvalue() and "2 already scheduled" in out.getvalue()


def test_the_command_reports_needs_it_cannot_place(world):
    available(world.provider, "mon", "09:00", "10:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    need = assigned_need(world)
    out, err = io.StringIO(), io.StringIO()
    call_command("schedule_assignments", "--municipality", "751", "--now", "2026-11-02T09:00", stdout=out, stderr=err)
    assert f"need {need.pk} not scheduled (no_overlapping_windows)" in err.getvalue()
    assert "1 could not be scheduled" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--municipality", "999"], "no municipality with code '999'"),
        (["--municipality", "751", "--by", "nobody"], "no active user named 'nobody'"),
        (["--municipality", "751", "--months", "0"], "--months: must be 1..36"),
        (["--municipality", "751", "--now", "tomorrow"], "not an ISO date-time"),
        (["--municipality", "751", "--workers", "0"], "--workers: must be 1..16"),
    ],
)
def test_the_command_refuses_bad_input(world, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("schedule_assignments", *args)
