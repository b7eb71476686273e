"""Builders for risk-model inputs: a settled placement with full data, and ways to disturb it.

The settled placement has every driver known on every weekly cycle of the trend window, so a
test that changes one thing sees exactly that change.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from support.risk import (
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    PlacementInputs,
    SdqReport,
    SystemSignals,
    score_placement,
)

TODAY = date(2026, 3, 16)  # a Monday; the last complete school month is February 2026
WEEKS = 14  # more than the 12-cycle trend window


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def weekly_checkins(stresses=None, *, stress: int = 2, commitment: int | None = 9,
                    behaviours: int | None = 2, weeks: int = WEEKS) -> tuple[CheckIn, ...]:
    """One check-in a week ending today. `stresses` lists stress oldest first (its last is today)."""
    if stresses is None:
        stresses = [stress] * weeks
    n = len(stresses)
    return tuple(
        CheckIn(on=days_ago(7 * (n - 1 - i)), stress=value, commitment=commitment, problem_behaviours=behaviours)
        for i, value in enumerate(stresses)
    )


def absence_months(pct: float = 3.0, unlawful: float = 0.0, *, last: date = date(2026, 2, 1), months: int = 9) -> tuple[AbsenceMonth, ...]:
    out = []
    y, m = last.year, last.month
    for _ in range(months):
        out.append(AbsenceMonth(month=date(y, m, 1), total_pct=pct, unlawful_pct=unlawful))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return tuple(reversed(out))


def settled(**changes) -> PlacementInputs:
    """An 11-year-old, placed at 9 in a non-kin family two years ago, doing well.

    Drivers: behaviour 0, carer strain 0, school 0, commitment .1, child view .25, system 0,
    so R = (10 x .1 + 10 x .25) = 3.5. Baseline B = 27.5 (low).
    """
    base = PlacementInputs(
        placement_id="PL-1",
        birth_date=date(2014, 5, 1),
        placement_start=date(2024, 1, 15),
        baseline=Baseline(),
        checkins=weekly_checkins(),
        sdq=(
            SdqReport(on=days_ago(105), informant="parent", total=10, impact=0),
            SdqReport(on=days_ago(105), informant="teacher", total=8),
        ),
        absence=absence_months(),
        child_views=tuple(ChildView(on=days_ago(14 * k), wellbeing=4) for k in range(8)),
        system=SystemSignals(),
    )
    return dataclasses.replace(base, **changes)


def bare(**changes) -> PlacementInputs:
    """A placement with no reports at all."""
    base = PlacementInputs(placement_id="PL-2", birth_date=date(2012, 6, 1), placement_start=date(2025, 1, 6))
    return dataclasses.replace(base, **changes)


HIGH_BASELINE = Baseline(prior_placements=2, residential_history=True, kinship=False)  # with age >= 12: B = 75


def score(inputs: PlacementInputs, **kwargs):
    kwargs.setdefault("today", TODAY)
    return score_placement(inputs, **kwargs)


def reason_codes(result) -> set[str]:
    return {r.code for r in result.reasons}
