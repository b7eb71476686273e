"""Session series, occurrences and meetings in each place a reader can meet them, for the API tests.

On top of ``ApiWorld`` (tests/api/conftest.py): a series for the foster home (own), one for the
other foster home of the same municipality, one for the birth parents, and one in Odense; their
first booked occurrences and first history rows; and a meeting about the placement, one about
the other placement and one in Odense. Everything is made through the scheduler's services at
``NOW`` (Monday 2 November 2026, 09:00 in Copenhagen); tests freeze the clock there too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine

from scheduler.models import Meeting, MeetingKind, SeriesChange, SessionOccurrence, SessionSeries
from scheduler.services import meetings, sessions
from support.models import NeedStatus, SupportNeed
from tests.api.conftest import ApiWorld
from tests.sessions.helpers import NOW, local

MONTHS = 3  # a short horizon keeps the fixture quick; the horizon itself is tested in tests/sessions


@dataclass
class SessionsWorld:
    a: ApiWorld
    series: dict[str, SessionSeries]
    meetings: dict[str, Meeting]

    def occurrence(self, key: str) -> SessionOccurrence:
        """The series' first booked occurrence that has not started yet."""
        return self.series[key].occurrences.booked().filter(start__gt=NOW).order_by("start").first()

    def change(self, key: str) -> SeriesChange:
        return self.series[key].changes.order_by("pk").first()


def assign(need: SupportNeed, provider) -> SupportNeed:
    SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.ASSIGNED, current_provider=provider)
    need.refresh_from_db()
    return need


def birth_need(a: ApiWorld) -> SupportNeed:
    from support import services

    need = services.create_support_need(
        placement=a.w.placement, recipient="birth_household", service="supervision", minutes_per_session=60,
        sessions_per_week="0.5", starts_on=dt.date(2026, 11, 2), by=a.w.consultant,
    )
    return assign(need, a.w.provider)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def sessions_world(api_world, frozen) -> SessionsWorld:
    return build_sessions_world(api_world)


def build_sessions_world(a: ApiWorld) -> SessionsWorld:
    """The series and meetings, made at NOW (the caller freezes the clock there)."""
    w = a.w
    propose = lambda need, by: sessions.confirm_series(  # noqa: E731
        series=sessions.propose_series(need=need, by=by, now=NOW, months=MONTHS), by=by, now=NOW
    )
    series = {
        "own": propose(a.need, w.consultant),
        "other_home": propose(assign(a.other_need, w.provider), w.consultant),
        "birth": propose(birth_need(a), w.consultant),
        "odense": propose(assign(a.odense_need, a.odense_provider), w.other_consultant),
    }

    def book(placement, by, day):
        return meetings.book_meeting(
            placement=placement, kind=MeetingKind.FOLLOW_UP, start=local(2026, 11, day, 13), by=by, now=NOW,
            allow_missing=True,
        )

    found = {
        "meeting": book(w.placement, w.consultant, 4),
        "other_meeting": book(a.other_placement, w.consultant, 5),
        "odense_meeting": book(w.odense_placement, w.other_consultant, 4),
    }
    return SessionsWorld(a=a, series=series, meetings=found)
