"""Derived signals from the scheduler's materialised sessions: cancelled sessions and respite days.

Occurrences are inserted directly: they stand for sessions planned and held (or cancelled) in
earlier weeks. What is tested is how the loader reads them: one query per kind for any number of
placements, one source per need (occurrences for needs with a confirmed series, the cadence
estimate for the rest), and what counts as cancelled or as respite.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler.models import OccurrenceStatus, SeriesKind, SeriesStatus, SessionOccurrence, SessionSeries
from support.models import CheckIn, NeedStatus, Provider, ProviderAbsence, Service, SupportNeed
from support.risk import DEFAULT_CONFIG
from support.risk.drivers import system_stressors
from support.wellbeing import derived
from support.wellbeing.loading import load_placements
from tests.wellbeing.conftest import CPH, NOW, TODAY, days_ago, new_placement


def _need(world, placement, service="supervision", *, provider=None, per_week=1, starts=None, minutes=90):
    return SupportNeed.objects.create(
        municipality=world.aarhus, placement=placement, recipient="foster_household",
        recipient_household=placement.foster_household, service=Service.objects.get(code=service),
        minutes_per_session=minutes, sessions_per_week=per_week, starts_on=starts or days_ago(120),
        status=NeedStatus.ASSIGNED, current_provider=provider or world.provider,
    )


def _series(need, *, kind=SeriesKind.SESSIONS, status=SeriesStatus.ACTIVE, first=None):
    return SessionSeries.objects.create(
        municipality=need.municipality, kind=kind, need=need, provider=need.current_provider,
        household=need.recipient_household,
        host_household=need.recipient_household if kind == SeriesKind.RESPITE else None, status=status,
        first_date=first or days_ago(90), start_minute=600, duration=dt.timedelta(minutes=90), weekdays=[0],
        rrule="FREQ=WEEKLY", created_at=NOW, updated_at=NOW,
    )


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CPH)


def _occurrence(series, day: dt.date, status=OccurrenceStatus.SCHEDULED, *, reason="", hours=2, start_hour=10):
    start = _at(day, start_hour)
    return SessionOccurrence.objects.create(series=series, original_start=start, start=start,
                                            end=start + dt.timedelta(hours=hours), status=status, reason=reason,
                                            created_at=NOW, updated_at=NOW)


def _respite_provider():
    return Provider.objects.create(name="Aflastning (fiktiv)", latitude=56.1, longitude=10.2,
                                   capacity_minutes_per_week=3000, max_cases=3)


def _loaded(*placements):
    return {item.placement_id: item for item in load_placements([p.pk for p in placements], today=TODAY,
                                                                 config=DEFAULT_CONFIG)}


def test_cancelled_occurrences_and_skips_for_an_absence_are_cancelled_sessions(world):
    series = _series(_need(world, world.placement))
    _occurrence(series, days_ago(21), OccurrenceStatus.CANCELLED, reason="provider ill")
    _occurrence(series, days_ago(14), OccurrenceStatus.SKIPPED, reason="absence: Leverandør absent (vacation)")
    _occurrence(series, days_ago(7), OccurrenceStatus.SKIPPED, reason="holiday: 2. påskedag")
    _occurrence(series, days_ago(28), OccurrenceStatus.SCHEDULED)
    _occurrence(series, days_ago(35), OccurrenceStatus.MOVED, reason="moved by the family")
    _occurrence(series, days_ago(45), OccurrenceStatus.CANCELLED, reason="outside the 30-day window")

    dates = derived.missed_session_dates([world.placement.pk], since=days_ago(30), until=TODAY)
    assert dates[world.placement.pk] == [days_ago(21), days_ago(14)]
    loaded = _loaded(world.placement)[world.placement.pk]
    # The loader reads further back, for the re-scored weeks of the trend; 30 days count today.
    assert loaded.inputs.system.missed_sessions == (days_ago(45), days_ago(21), days_ago(14))
    assert loaded.context["missed_sessions_recent"] == 2
    assert "missed_sessions" in system_stressors(loaded.inputs, day=TODAY, config=DEFAULT_CONFIG)


def test_a_scheduled_need_is_read_from_its_occurrences_not_estimated_from_its_cadence(world):
    # Weekly on Mondays from 8 weeks ago; the provider was away for the last two Mondays, but the
    # scheduler planned around the absence (moved both sessions): nothing was cancelled.
    need = _need(world, world.placement, starts=days_ago(56))
    start = dt.datetime.combine(days_ago(15), dt.time.min, tzinfo=CPH)
    ProviderAbsence.objects.create(provider=world.provider, starts_at=start, ends_at=start + dt.timedelta(days=14),
                                   reason="illness")
    series = _series(need)
    _occurrence(series, days_ago(14), OccurrenceStatus.MOVED, reason="moved around the absence")

    assert derived.missed_session_dates([world.placement.pk], since=days_ago(30), until=TODAY) == {}
    assert _loaded(world.placement)[world.placement.pk].inputs.system.missed_sessions == ()

    # A proposed series is not yet agreed: the cadence estimate still applies (two Mondays).
    SessionSeries.objects.filter(pk=series.pk).update(status=SeriesStatus.PROPOSED)
    dates = derived.missed_session_dates([world.placement.pk], since=days_ago(30), until=TODAY)
    assert dates[world.placement.pk] == [days_ago(14), days_ago(7)]


def test_a_cancelled_occurrence_the_family_also_reports_is_counted_once(world):
    series = _series(_need(world, world.placement))
    _occurrence(series, days_ago(7), OccurrenceStatus.CANCELLED, reason="provider ill")
    CheckIn.objects.create(municipality=world.aarhus, placement=world.placement, household=world.foster_home,
                           on=days_ago(5), stress=2, sessions_missed=1)  # same ISO week

    loaded = _loaded(world.placement)[world.placement.pk]
    assert loaded.inputs.system.missed_sessions == (days_ago(7),)


def test_respite_days_are_the_days_held_respite_weekends_cover(world):
    provider = _respite_provider()
    need = _need(world, world.placement, "respite", provider=provider, per_week="0.25", starts=days_ago(60),
                 minutes=1440)
    series = _series(need, kind=SeriesKind.RESPITE)
    friday = days_ago(10)
    # Friday 16:00 to Sunday 18:00, and one ending at midnight (it does not cover the next day).
    _occurrence(series, friday, start_hour=16, hours=50)
    _occurrence(series, days_ago(40), start_hour=16, hours=32)
    _occurrence(series, days_ago(30), OccurrenceStatus.CANCELLED, start_hour=16, hours=50, reason="respite family ill")
    _occurrence(series, days_ago(3), OccurrenceStatus.REMOVED, start_hour=16, hours=50, reason="series changed")

    loaded = _loaded(world.placement)[world.placement.pk]
    assert loaded.inputs.system.respite_days == (days_ago(40), days_ago(39), friday, days_ago(9), days_ago(8))
    assert loaded.context["days_since_respite"] == 8
    # The cancelled weekend is a cancelled session too.
    assert loaded.inputs.system.missed_sessions == (days_ago(30),)


def test_respite_in_progress_counts_up_to_today_and_sessions_series_are_not_respite(world):
    provider = _respite_provider()
    respite = _series(_need(world, world.placement, "respite", provider=provider, per_week="0.25", minutes=1440),
                      kind=SeriesKind.RESPITE)
    _occurrence(respite, days_ago(1), start_hour=16, hours=50)  # Saturday 16:00 to Monday 18:00
    supervision = _series(_need(world, world.placement))
    _occurrence(supervision, days_ago(2))

    loaded = _loaded(world.placement)[world.placement.pk]
    assert loaded.inputs.system.respite_days == (days_ago(1), TODAY)
    assert loaded.context["days_since_respite"] == 0


def test_a_declined_respite_series_is_not_held_respite(world):
    provider = _respite_provider()
    series = _series(_need(world, world.placement, "respite", provider=provider, per_week="0.25", minutes=1440),
                     kind=SeriesKind.RESPITE, status=SeriesStatus.DECLINED)
    _occurrence(series, days_ago(5), start_hour=16, hours=50)

    loaded = _loaded(world.placement)[world.placement.pk]
    # A declined series is not the scheduler's: the need's cadence estimate applies (from 120 days ago).
    assert loaded.inputs.system.respite_days == tuple(derived.respite_days(
        derived.fetch_needs([world.placement.pk]), {}, since=days_ago(365), until=TODAY)[world.placement.pk])
    assert days_ago(5) not in loaded.inputs.system.respite_days


def test_occurrence_signals_take_one_query_per_kind_for_any_number_of_placements(world):
    def run(placements):
        with CaptureQueriesContext(connection) as ctx:
            loaded = _loaded(*placements)
        return loaded, len(ctx.captured_queries)

    few = [world.placement]
    many = [world.placement] + [new_placement(world, name=f"Barn {i}") for i in range(6)]
    for i, placement in enumerate(many):
        series = _series(_need(world, placement))
        _occurrence(series, days_ago(7 + i % 3), OccurrenceStatus.CANCELLED, reason="provider ill")
        respite = _series(_need(world, placement, "respite", provider=_respite_provider(), per_week="0.25",
                                minutes=1440), kind=SeriesKind.RESPITE)
        _occurrence(respite, days_ago(12 + i), start_hour=16, hours=50)

    loaded_few, queries_few = run(few)
    loaded_many, queries_many = run(many)
    assert queries_few == queries_many
    for i, placement in enumerate(many):
        system = loaded_many[placement.pk].inputs.system
        assert system.missed_sessions == (days_ago(7 + i % 3),)
        assert system.respite_days == (days_ago(12 + i), days_ago(11 + i), days_ago(10 + i))
    assert loaded_few[world.placement.pk].inputs.system == loaded_many[world.placement.pk].inputs.system
