"""Days on which no session is booked: Danish public holidays plus configurable closed days.

Official public holidays in Denmark (helligdage, from ``holidays.country_holidays("DK")``):
Nytårsdag (1 Jan), Skærtorsdag, Langfredag, Påskedag, 2. påskedag, Kristi himmelfartsdag,
Pinsedag, 2. pinsedag, Juledag (25 Dec) and 2. juledag (26 Dec). Store bededag was one
until 2023; it was abolished from 2024 (Act no. 214 of 6 March 2023), and the ``holidays``
package knows this.

Customary closed days that are *not* public holidays but on which most municipal offices and
families do not expect appointments (by collective agreement or custom, not by law):
Grundlovsdag (5 June, Constitution Day, usually off from noon), Juleaftensdag (24 Dec),
Nytårsaftensdag (31 Dec) and 1. maj (Workers' Day, off in some agreements only).

``DanishHolidays()`` closes on the public holidays plus ``DEFAULT_CUSTOMARY`` (Constitution
Day, Christmas Eve, New Year's Eve): a half day off is treated as a whole closed day, because
a session calendar has no use for half-closed days. Pass ``customary=()`` for public holidays
only, add ``"workers_day"`` where the local agreement gives 1 May off, and use ``extra_days``
for one-off closures (e.g. a municipality's summer closure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

import holidays as holidays_lib

from .types import RecurrenceError

CUSTOMARY_DAYS: dict[str, tuple[int, int, str]] = {
    "workers_day": (5, 1, "1. maj"),
    "constitution_day": (6, 5, "Grundlovsdag"),
    "christmas_eve": (12, 24, "Juleaftensdag"),
    "new_years_eve": (12, 31, "Nytårsaftensdag"),
}
DEFAULT_CUSTOMARY: tuple[str, ...] = ("constitution_day", "christmas_eve", "new_years_eve")


class ClosedDays(Protocol):
    """Anything that can say whether a local date is closed, and why."""

    def closed_reason(self, day: date) -> str | None: ...


@lru_cache(maxsize=64)
def public_holidays(year: int, language: str = "da") -> Mapping[date, str]:
    """Denmark's official public holidays in ``year``, name in ``language`` ("da" or "en_US")."""
    return dict(holidays_lib.country_holidays("DK", years=year, language=language).items())


@dataclass(frozen=True)
class DanishHolidays:
    customary: tuple[str, ...] = DEFAULT_CUSTOMARY
    extra_days: tuple[tuple[date, str], ...] = ()
    language: str = "da"

    def __post_init__(self) -> None:
        unknown = [name for name in self.customary if name not in CUSTOMARY_DAYS]
        if unknown:
            raise RecurrenceError(
                "unknown_closed_day",
                f"unknown customary day(s) {unknown}; choose from {sorted(CUSTOMARY_DAYS)}",
            )
        object.__setattr__(self, "customary", tuple(self.customary))
        object.__setattr__(self, "extra_days", _normalise_extra(self.extra_days))

    def closed_reason(self, day: date) -> str | None:
        """The name of the holiday or closed day, or ``None`` if it is an ordinary day."""
        name = public_holidays(day.year, self.language).get(day)
        if name:
            return name
        for key in self.customary:
            month, dom, label = CUSTOMARY_DAYS[key]
            if (day.month, day.day) == (month, dom):
                return label
        for extra, label in self.extra_days:
            if extra == day:
                return label
        return None

    def is_closed(self, day: date) -> bool:
        return self.closed_reason(day) is not None


def _normalise_extra(
    extra: Iterable[tuple[date, str]] | Mapping[date, str] | Iterable[date],
) -> tuple[tuple[date, str], ...]:
    items = extra.items() if isinstance(extra, Mapping) else extra
    out: list[tuple[date, str]] = []
    for item in items:
        if isinstance(item, date):
            out.append((item, "Lukket"))
        else:
            day, label = item
            out.append((day, label))
    return tuple(sorted(out))


@dataclass(frozen=True)
class NoClosedDays:
    """A calendar without closed days (for respite care, or tests)."""

    def closed_reason(self, day: date) -> str | None:
        return None


DANISH_HOLIDAYS = DanishHolidays()
PUBLIC_HOLIDAYS_ONLY = DanishHolidays(customary=())
