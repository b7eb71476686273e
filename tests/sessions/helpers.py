"""Builders for the session tests, on top of the named world in tests/conftest.py.

``NOW`` is Monday 2 November 2026, 09:00 in Copenhagen (winter time). A year from then crosses
both daylight-saving changes of 2027: Sunday 28 March (02:00 -> 03:00) and Sunday 31 October
(03:00 -> 02:00).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from support import services
from support.models import (
    Child,
    Household,
    NeedStatus,
    Placement,
    Provider,
    Service,
    SupportNeed,
    WeeklyAvailability,
)
from tests.conftest import make_household

CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CPH)
DST_STARTS = dt.date(2027, 3, 28)
DST_ENDS = dt.date(2027, 10, 31)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

postgres_only = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the no-overlap exclusion constraint (EXCLUDE USING gist) needs PostgreSQL",
    ),
]


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=CPH)


def hhmm(value: dt.datetime) -> str:
    return value.astimezone(CPH).strftime("%H:%M")


def available(owner: Household | Provider, day: str, start: str, end: str) -> None:
    """Add a weekly window, e.g. ``available(home, "tue", "10:00", "14:00")``."""
    field = "household" if isinstance(owner, Household) else "provider"
    to_min = lambda s: int(s[:2]) * 60 + int(s[3:])  # noqa: E731
    WeeklyAvailability.objects.create(**{field: owner}, day=day, start_minute=to_min(start), end_minute=to_min(end))


def add_provider(world, name="Behandler (fiktiv)", *, service="supervision", lat=56.15, lon=10.21, **extra) -> Provider:
    args = {"max_travel_km": 40, "capacity_minutes_per_week": 2400, "max_cases": 20, "languages": ["da"]}
    args.update(extra)
    provider = Provider.objects.create(name=name, latitude=lat, longitude=lon, **args)
    provider.services.add(Service.objects.get(code=service))
    provider.municipalities.add(world.aarhus)
    return provider


def add_placement(world, name: str, *, home: Household | None = None, **home_args) -> Placement:
    """A new child placed in ``home`` (or a new foster household), with the world's consultant."""
    home = home or make_household(world.aarhus, f"Familien {name} (fiktiv)", **home_args)
    child = Child.objects.create(municipality=world.aarhus, display_name=f"Barn {name}", birth_date=dt.date(2015, 1, 1))
    return Placement.objects.create(
        municipality=world.aarhus, child=child, foster_household=home, consultant=world.consultant,
        starts_on=dt.date(2026, 1, 1),
    )


def assigned_need(
    world,
    *,
    provider: Provider | None = None,
    placement: Placement | None = None,
    service: str = "supervision",
    minutes: int = 60,
    per_week: str = "1",
    starts_on: dt.date = dt.date(2026, 11, 2),
    **extra,
) -> SupportNeed:
    """An accepted assignment: a need with status assigned and its current provider."""
    need = services.create_support_need(
        placement=placement or world.placement, recipient=extra.pop("recipient", "foster_household"),
        service=service, minutes_per_session=minutes, sessions_per_week=per_week, starts_on=starts_on,
        by=world.consultant, **extra,
    )
    SupportNeed.objects.filter(pk=need.pk).update(
        status=NeedStatus.ASSIGNED, current_provider=provider or world.provider
    )
    need.refresh_from_db()
    return need
