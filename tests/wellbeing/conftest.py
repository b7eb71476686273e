"""Helpers for the well-being tests: a fixed clock and quick ways to give a placement a history.

History is inserted directly (bulk), because it stands for weeks of reports made earlier; the
behaviour under test is always exercised through the services.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from support.models import (
    CheckIn,
    Child,
    ChildView,
    Household,
    Placement,
    RiskScore,
    SchoolAbsence,
    SdqScore,
)
from support.wellbeing.dates import add_months, first_of_month
from tests.conftest import make_household

CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CPH)  # a Monday
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    """The wall clock stands at NOW, for code that reads it (tasks, auto_now fields)."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


def days_ago(n: int, *, today: dt.date = TODAY) -> dt.date:
    return today - dt.timedelta(days=n)


def checkins(placement: Placement, values: list[dict], *, today: dt.date = TODAY) -> None:
    """One check-in a week, oldest first, the last one today. Each dict overrides the calm answer."""
    n = len(values)
    CheckIn.objects.bulk_create([
        CheckIn(
            municipality_id=placement.municipality_id, placement=placement, household_id=placement.foster_household_id,
            on=days_ago(7 * (n - 1 - i), today=today),
            **{"stress": 2, "commitment": 9, "problem_behaviours": 1, "sleep": 4, **v},
        )
        for i, v in enumerate(values)
    ])


def calm_history(placement: Placement, *, weeks: int = 14, today: dt.date = TODAY) -> None:
    """Every driver known and calm: R = 3.5 (commitment .1, child's view .25), green."""
    checkins(placement, [{}] * weeks, today=today)
    SdqScore.objects.create(municipality_id=placement.municipality_id, placement=placement, on=days_ago(60, today=today),
                            informant="parent", total=8, impact=0)
    ChildView.objects.create(municipality_id=placement.municipality_id, placement=placement, on=days_ago(10, today=today),
                             wellbeing=4)
    month = first_of_month(today)
    SchoolAbsence.objects.bulk_create([
        SchoolAbsence(municipality_id=placement.municipality_id, placement=placement, month=add_months(month, -k),
                      total_pct=3, unlawful_pct=0)
        for k in range(1, 10)
    ])


def new_placement(world, *, name: str = "Demo-barn B.", birth_date: dt.date = dt.date(2013, 2, 3),
                  starts_on: dt.date = dt.date(2025, 1, 6), household: Household | None = None,
                  consultant=None) -> Placement:
    child = Child.objects.create(municipality=world.aarhus, display_name=name, birth_date=birth_date)
    return Placement.objects.create(
        municipality=world.aarhus, child=child, foster_household=household or make_household(world.aarhus, f"Familie {name}"),
        consultant=consultant or world.consultant, starts_on=starts_on,
    )


def latest(placement: Placement) -> RiskScore:
    return RiskScore.objects.get(placement=placement, latest=True)
