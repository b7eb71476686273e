"""The input types: validation, ordering, and the attributes that must never exist."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

import support.risk.inputs as inputs_module
from support.risk import (
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    Incident,
    Period,
    PlacementInputs,
    RiskInputError,
    SdqReport,
)

FORBIDDEN = (
    "ethnic", "race", "religio", "faith", "nationality", "citizenship", "language", "migrant", "immigra",
    "diagnos", "disab", "handicap", "benefit", "income", "welfare", "unemploy", "address", "postcode",
    "zip", "free_text", "note", "comment", "parent_health", "substance", "mental",
)


def all_input_fields():
    for obj in vars(inputs_module).values():
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == inputs_module.__name__:
            for f in dataclasses.fields(obj):
                yield obj.__name__, f.name


def test_no_input_type_has_a_protected_or_proxy_attribute():
    offending = [(cls, name) for cls, name in all_input_fields() if any(word in name.lower() for word in FORBIDDEN)]
    assert offending == []


@pytest.mark.parametrize(
    "build",
    [
        lambda: CheckIn(date(2026, 1, 1), stress=11),
        lambda: CheckIn(date(2026, 1, 1), stress=-1),
        lambda: CheckIn(date(2026, 1, 1), stress=5, commitment=11),
        lambda: CheckIn(date(2026, 1, 1), stress=5, sleep=0),
        lambda: CheckIn(date(2026, 1, 1), stress=5, problem_behaviours=31),
        lambda: CheckIn(date(2026, 1, 1), stress=True),
        lambda: SdqReport(date(2026, 1, 1), "parent", 41),
        lambda: SdqReport(date(2026, 1, 1), "teacher", 10, impact=7),
        lambda: SdqReport(date(2026, 1, 1), "grandmother", 10),
        lambda: AbsenceMonth(date(2026, 1, 1), 5, unlawful_pct=6),
        lambda: AbsenceMonth(date(2026, 1, 1), 101),
        lambda: ChildView(date(2026, 1, 1), 0),
        lambda: Incident(date(2026, 1, 1), "bad_mood"),
        lambda: Period(date(2026, 1, 2), date(2026, 1, 1)),
        lambda: Baseline(prior_placements=-1),
        lambda: PlacementInputs("P", birth_date=date(2020, 1, 1), placement_start=date(2019, 1, 1)),
        lambda: PlacementInputs("P", birth_date=date(2010, 1, 1), placement_start=date(2020, 1, 1),
                                absence=(AbsenceMonth(date(2025, 1, 1), 1), AbsenceMonth(date(2025, 1, 20), 2))),
    ],
)
def test_out_of_range_inputs_fail_loudly(build):
    with pytest.raises(RiskInputError):
        build()


def test_sequences_are_stored_sorted_by_date_and_months_normalised():
    inputs = PlacementInputs(
        "P", birth_date=date(2010, 1, 1), placement_start=date(2020, 1, 1),
        checkins=[CheckIn(date(2026, 2, 1), 1), CheckIn(date(2026, 1, 1), 2)],
        absence=[AbsenceMonth(date(2026, 2, 17), 3)],
    )
    assert [c.on for c in inputs.checkins] == [date(2026, 1, 1), date(2026, 2, 1)]
    assert isinstance(inputs.checkins, tuple)
    assert inputs.absence[0].month == date(2026, 2, 1)


def test_a_period_is_open_from_its_start_until_its_end():
    p = Period(date(2026, 1, 1), date(2026, 2, 1))
    assert not p.open_on(date(2025, 12, 31))
    assert p.open_on(date(2026, 1, 1)) and p.open_on(date(2026, 1, 31))
    assert not p.open_on(date(2026, 2, 1))
    assert Period(date(2026, 1, 1)).open_on(date(2030, 1, 1))


def test_a_leap_day_birthday_turns_18_on_28_february():
    assert inputs_module.birthday(date(2008, 2, 29), 18) == date(2026, 2, 28)
