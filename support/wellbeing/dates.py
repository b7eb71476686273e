"""Calendar arithmetic on dates (never datetimes), so daylight saving time cannot shift a deadline.

Month arithmetic clamps to the end of a short month (30 November + 3 months = 28/29 February).
For deadlines that is the safe direction: a clamped deadline is never later than the true one.
Birthdays come from the core: a 29 February birthday falls on 28 February in common years.
"""

from __future__ import annotations

import calendar
import datetime as dt

from support.risk.inputs import birthday  # noqa: F401  (re-exported: one definition of a birthday)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by `months` (negative moves back), clamped to the last day of the month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)
