"""Every reason line comes with a structured detail carrying the same facts, for translation."""

from __future__ import annotations

import json

import numpy as np

from scheduler.matching.explain import Explainer
from scheduler.matching.feasibility import compute
from scheduler.matching.instance import parse_instance
from scheduler.matching.limits import compute_limits
from scheduler.matching.result import check_result
from tests.matching.helpers import details, document, need, provider, reasons, solve


def solve_checked(doc):
    result = solve(doc)
    assert check_result(parse_instance(doc), result) == []
    # The details travel in JSON (stored in the database, exported): plain values only.
    assert json.loads(json.dumps(result)) == result
    return result


def by_code(result, nid: str) -> dict[str, dict]:
    found = {d["code"]: d["params"] for d in details(result, nid)}
    assert len(found) == len(details(result, nid)), "one detail per kind of reason"
    return found


def test_no_provider_at_all_is_a_detail_of_its_own():
    result = solve_checked(document([], [need()]))
    assert details(result, "N1") == [{"code": "no_providers", "params": {}}]


def test_service_nobody_offers_gives_the_head_and_rule_1_details():
    result = solve_checked(document([provider(), provider("P2")], [need(service="substance_treatment")]))
    assert details(result, "N1") == [
        {"code": "no_provider_offers", "params": {"service": "substance_treatment"}},
        {"code": "rule_service", "params": {"rule": 1, "count": 2, "service": "substance_treatment"}},
    ]


def test_every_rule_removing_providers_has_its_detail_in_the_english_order():
    providers = [
        provider("P2", competences=["adhd"]),  # rule 2: lacks trauma and self_harm
        provider("P3", competences=["trauma", "self_harm"], languages=["en"]),  # rule 3
        provider("P4", competences=["trauma", "self_harm"]),  # rule 4
        provider("P5", competences=["trauma", "self_harm"], location={"lat": 55.0, "lon": 9.0},
                 max_travel_km=10, offers_remote=True),  # rule 5
        provider("P6", competences=["trauma", "self_harm"],
                 availability=[{"day": "mon", "from": "08:00", "to": "16:00"}]),  # rule 6
    ]
    result = solve_checked(
        document(providers, [need(required_competences=["trauma", "self_harm"], excluded_providers=["P4"])])
    )
    got = details(result, "N1")
    assert [d["code"] for d in got] == [
        "all_ruled_out", "rule_competences", "rule_language", "rule_excluded", "rule_reach", "rule_time",
    ]
    params = {d["code"]: d["params"] for d in got}
    assert params["all_ruled_out"] == {"providers": 5}
    assert params["rule_competences"] == {
        "rule": 2, "count": 1,
        "competences": [{"competence": "self_harm", "count": 1}, {"competence": "trauma", "count": 1}],
    }
    assert params["rule_language"] == {"rule": 3, "count": 1, "language": "da"}
    assert params["rule_excluded"] == {"rule": 4, "count": 1, "providers": ["P4"], "providers_more": 0}
    reach = params["rule_reach"]
    assert reach["rule"] == 5 and reach["count"] == 1 and reach["closest_provider"] == "P5"
    assert reach["closest_range_km"] == 10 and reach["remote_refused"] == 1
    reach_line = next(r for r in reasons(result, "N1") if r.startswith("rule 5"))
    assert f"P5 at {reach['closest_km']} km, range 10 km" in reach_line
    assert "1 of them offers remote sessions" in reach_line
    assert params["rule_time"] == {"rule": 6, "count": 1, "minutes": 120}


def test_reach_detail_counts_no_remote_refusal_when_the_need_accepts_remote():
    far = provider(location={"lat": 55.0, "lon": 9.0}, max_travel_km=10)
    result = solve_checked(document([far], [need(remote_ok=True)]))
    (reach,) = [d["params"] for d in details(result, "N1") if d["code"] == "rule_reach"]
    assert reach["remote_refused"] == 0
    assert not any("remote sessions" in r for r in reasons(result, "N1"))


def test_long_lists_keep_the_first_eight_names_and_count_the_rest():
    providers = [provider(f"P{i}") for i in range(1, 11)]
    result = solve_checked(document(providers, [need(excluded_providers=[f"P{i}" for i in range(1, 11)])]))
    params = by_code(result, "N1")["rule_excluded"]
    assert params["count"] == 10
    assert params["providers"] == [f"P{i}" for i in range(1, 9)]
    assert params["providers_more"] == 2
    assert any(r.endswith("and 2 more") for r in reasons(result, "N1"))


def test_full_by_max_cases_names_provider_limit_and_needs():
    result = solve_checked(document([provider(max_cases=1)], [need("N1", priority=2), need("N2", priority=5)]))
    assert details(result, "N1") == [
        {
            "code": "candidates_full",
            "params": {
                "count": 1, "candidates_more": 0,
                "candidates": [
                    {"provider": "P1", "kind": "max_cases", "max_cases": 1, "needs": ["N2"], "needs_more": 0}
                ],
            },
        }
    ]


def test_full_by_minutes_carries_what_was_left_the_capacity_and_the_load():
    needs = [need(f"N{i}", priority=p) for i, p in ((1, 1), (2, 5), (3, 4))]
    result = solve_checked(document([provider(capacity_minutes_per_week=70)], needs))
    (candidate,) = by_code(result, "N1")["candidates_full"]["candidates"]
    assert candidate == {
        "provider": "P1", "kind": "minutes", "needs": ["N2", "N3"], "needs_more": 0,
        "left": 10, "capacity": 70, "load": 30,
    }
    assert "10 of 70 min/week left, this need takes 30" in reasons(result, "N1")[0]


def test_kept_apart_names_the_provider_and_the_need_it_serves():
    needs = [need("N1", priority=2, separate_from=["N2"]), need("N2", priority=4)]
    result = solve_checked(document([provider()], needs))
    assert by_code(result, "N1")["candidates_apart"] == {
        "count": 1, "candidates": [{"provider": "P1", "needs": ["N2"], "needs_more": 0}], "candidates_more": 0,
    }


def test_too_small_by_capacity_and_by_no_cases():
    result = solve_checked(
        document([provider("P1", capacity_minutes_per_week=20), provider("P2", max_cases=0)], [need()])
    )
    assert by_code(result, "N1")["candidates_too_small"] == {
        "count": 2, "candidates_more": 0,
        "candidates": [
            {"provider": "P1", "kind": "capacity", "capacity": 20, "load": 30},
            {"provider": "P2", "kind": "no_cases"},
        ],
    }


def test_too_far_carries_km_and_priority():
    far = {"lat": 46.0, "lon": 10.2}
    result = solve_checked(document([provider(max_travel_km=5000)], [need(location=far, priority=1)]))
    (candidate,) = by_code(result, "N1")["candidates_too_far"]["candidates"]
    assert candidate["provider"] == "P1" and candidate["priority"] == 1 and candidate["km"] > 1000
    assert f"travel {candidate['km']} km outweighs priority 1" in reasons(result, "N1")[0]


def test_hard_rules_summary_after_blocked_candidates_counts_per_rule():
    providers = [provider("P1", max_cases=0), provider("P2", languages=["en"]), provider("P3", services=["respite"])]
    result = solve_checked(document(providers, [need()]))
    assert by_code(result, "N1")["hard_rules_summary"] == {
        "count": 2, "providers": 3, "rules": [{"rule": 1, "count": 1}, {"rule": 3, "count": 1}],
    }


def test_unused_room_after_a_time_limit_names_the_providers():
    feas = compute(parse_instance(document([provider()], [need()])))
    explainer = Explainer(feas, compute_limits(feas), np.array([-1]))
    assert explainer.details(0) == [
        {"code": "candidates_unused_room", "params": {"count": 1, "providers": ["P1"], "providers_more": 0}}
    ]
    assert len(explainer.reasons(0)) == 1
