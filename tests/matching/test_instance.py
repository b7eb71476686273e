"""Reading and validating `support-matching/1` documents: every problem, one line each."""

from __future__ import annotations

import pytest

from scheduler.matching.instance import InstanceError, parse_instance
from tests.matching.helpers import document, need, provider


def problems(doc) -> list[str]:
    with pytest.raises(InstanceError) as e:
        parse_instance(doc)
    return e.value.problems


def test_valid_document_parses_with_defaults_for_absent_optional_fields():
    n = need()
    for key in (
        "current_provider",
        "excluded_providers",
        "separate_from",
        "preferred_competences",
        "remote_ok",
        "availability",
        "household",
        "placement",
    ):
        del n[key]
    p = provider()
    del p["offers_remote"]
    del p["availability"]
    inst = parse_instance(document([p], [n]))
    assert inst.needs[0].remote_ok is False and inst.providers[0].offers_remote is False
    assert inst.needs[0].availability == () and inst.providers[0].availability == ()
    assert inst.needs[0].current_provider is None and inst.needs[0].separate_from == frozenset()


def test_unknown_fields_are_ignored():
    doc = document([provider(colour="blue")], [need(notes={"x": 1})])
    doc["exported_by"] = "someone"
    parse_instance(doc)


def test_all_problems_are_reported_at_once_with_their_paths():
    doc = document(
        [provider(max_cases=-1, location={"lat": 91, "lon": 10})],
        [need(priority=7), need("N2", sessions_per_week=0, language=3)],
    )
    assert problems(doc) == [
        "providers[0].location.lat: must be a number between -90 and 90, got 91",
        "providers[0].max_cases: must be an integer 0-1000000, got -1",
        "needs[0].priority: must be an integer 1-5, got 7",
        "needs[1].sessions_per_week: must be a number greater than 0 and at most 1000, got 0",
        "needs[1].language: must be a non-empty string, got 3",
    ]


def test_priority_must_be_a_json_integer():
    assert problems(document([provider()], [need(priority=3.5)])) == [
        "needs[0].priority: must be an integer 1-5, got 3.5"
    ]
    assert problems(document([provider()], [need(priority=True)])) == [
        "needs[0].priority: must be an integer 1-5, got true"
    ]


def test_bad_days_and_times_are_named():
    windows = [
        {"day": "monday", "from": "08:00", "to": "09:00"},
        {"day": "tue", "from": "10:00", "to": "09:00"},
        {"day": "wed", "from": "8:00", "to": "25:00"},
        {"day": "thu", "from": "24:00", "to": "24:00"},
        {"day": "fri", "from": "22:00", "to": "24:00"},
    ]
    assert problems(document([provider(availability=windows)], [need()])) == [
        'providers[0].availability[0].day: must be one of mon, tue, wed, thu, fri, sat, sun, got "monday"',
        "providers[0].availability[1]: 'from' (10:00) must be before 'to' (09:00) within one day",
        'providers[0].availability[2].from: must be a time HH:MM between 00:00 and 24:00, got "8:00"',
        'providers[0].availability[2].to: must be a time HH:MM between 00:00 and 24:00, got "25:00"',
        "providers[0].availability[3]: 'from' (24:00) must be before 'to' (24:00) within one day",
        "providers[0].availability[3].from: 24:00 is only allowed as 'to'",
    ]


def test_duplicate_ids_are_reported_with_the_first_use():
    doc = document([provider("P1"), provider("P1")], [need("N1"), need("N2"), need("N1")])
    assert problems(doc) == [
        'providers[1].id: duplicate id "P1" (first used at providers[0])',
        'needs[2].id: duplicate id "N1" (first used at needs[0])',
    ]


def test_separate_from_must_name_another_known_need():
    doc = document([provider()], [need("N1", separate_from=["N9", "N1"])])
    assert problems(doc) == [
        'needs[0].separate_from: a need cannot be kept apart from itself ("N1")',
        'needs[0].separate_from: unknown need id "N9"',
    ]


def test_separate_from_is_symmetric_and_deduplicated():
    doc = document(
        [provider()],
        [
            need("N1", separate_from=["N2"]),
            need("N2", separate_from=["N1"]),
            need("N3", separate_from=["N1"]),
        ],
    )
    assert parse_instance(doc).separations == ((0, 1), (0, 2))


def test_unknown_excluded_or_current_provider_is_accepted():
    parse_instance(document([provider()], [need(current_provider="P9", excluded_providers=["P8"])]))


def test_top_level_shape_problems():
    assert problems([]) == ["(document): must be a JSON object, got []"]
    assert problems({"needs": {}}) == [
        'format: required field is missing (expected "support-matching/1")',
        "name: required field is missing",
        "providers: required field is missing",
        "needs: must be a list, got {}",
    ]
    assert problems({**document([], []), "format": "support-matching/2"}) == [
        'format: must be "support-matching/1", got "support-matching/2"'
    ]


def test_non_finite_and_non_numeric_numbers_are_rejected():
    doc = document([provider(capacity_minutes_per_week=float("inf"), max_travel_km="far")], [need()])
    assert problems(doc) == [
        'providers[0].max_travel_km: must be a number at least 0, got "far"',
        "providers[0].capacity_minutes_per_week: must be a number at least 0 and at most 1e+09, got Infinity",
    ]
