"""Shared values for the recurrence tests: zones, places and small builders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.recurrence import Interval, Location, Party, WeeklyWindow

CPH = ZoneInfo("Europe/Copenhagen")

# The 2026 and 2027 daylight-saving changes in Denmark (last Sunday of March / October).
DST_STARTS_2026 = date(2026, 3, 29)
DST_ENDS_2026 = date(2026, 10, 25)
DST_STARTS_2027 = date(2027, 3, 28)
DST_ENDS_2027 = date(2027, 10, 31)
DST_SUNDAYS = (DST_STARTS_2026, DST_ENDS_2026, DST_STARTS_2027, DST_ENDS_2027)

# Two places 30 km apart on the same meridian (0.2698 degrees of latitude), and a third
# about 60 km away from the first.
HOME = Location(55.6761, 12.5683)
FAR_30KM = Location(55.6761 + 0.2698, 12.5683)
FAR_60KM = Location(55.6761 - 0.5396, 12.5683)


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An aware Copenhagen wall time (fold=0, like the core)."""
    return datetime(y, m, d, h, mi, tzinfo=CPH)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=UTC)


def weekdays(start: str, end: str, days: tuple[int, ...] = (0, 1, 2, 3, 4)) -> list[WeeklyWindow]:
    return [WeeklyWindow.of(d, start, end) for d in days]


def booking(start: datetime, minutes: int, location: Location | None = None, ref: str = "") -> Interval:
    return Interval(start, start + timedelta(minutes=minutes), location, ref)


def weekly_bookings(
    first: datetime, minutes: int, weeks: int, location: Location | None = None, ref: str = "other"
) -> list[Interval]:
    """The same local wall time every week (like another session series)."""
    wall = first.replace(tzinfo=None)
    return [
        booking((wall + timedelta(weeks=i)).replace(tzinfo=first.tzinfo), minutes, location, f"{ref}#{i}")
        for i in range(weeks)
    ]


def provider(**kwargs) -> Party:
    kwargs.setdefault("windows", weekdays("08:00", "16:00"))
    kwargs.setdefault("location", FAR_30KM)
    return Party("provider", **kwargs)


def household(**kwargs) -> Party:
    kwargs.setdefault("location", HOME)
    return Party("household", **kwargs)
