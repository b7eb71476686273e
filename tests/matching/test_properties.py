"""Property tests: on small random instances the engine's objective is the true optimum.

The optimum is found by exhaustive search written independently of the engine: it uses the
one-pair-at-a-time rule checks and scores of result.py and exact fractions for capacity, and
never looks at numpy, the reductions or CP-SAT.
"""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.matching.feasibility import compute, need_rule_masks
from scheduler.matching.greedy import greedy, objective
from scheduler.matching.instance import parse_instance
from scheduler.matching.limits import TOLERANCE, compute_limits
from scheduler.matching.result import check_result, pair_score, pair_violations
from tests.matching.helpers import document, solve

DAYS = ["mon", "tue", "wed"]
SERVICES = ["supervision", "respite"]
COMPETENCES = ["trauma", "adhd", "autism"]


@st.composite
def windows(draw):
    if draw(st.integers(0, 2)):
        return None  # mostly no windows, so the other rules and the limits get exercised
    out = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(8, 20))
        length = draw(st.integers(1, 4))
        end = min(24, start + length)
        out.append(
            {
                "day": draw(st.sampled_from(DAYS)),
                "from": f"{start:02d}:00",
                "to": "24:00" if end == 24 else f"{end:02d}:00",
            }
        )
    return out


def location(draw):
    # Around Aarhus, spread so most pairs are in reach and some are not.
    return {
        "lat": round(56.15 + draw(st.floats(-0.2, 0.2)), 4),
        "lon": round(10.2 + draw(st.floats(-0.3, 0.3)), 4),
    }


@st.composite
def instances(draw):
    n_providers = draw(st.integers(1, 4))
    n_needs = draw(st.integers(1, 7))
    providers = []
    for j in range(n_providers):
        providers.append(
            {
                "id": f"P{j + 1}",
                "services": draw(st.sampled_from([SERVICES, SERVICES, SERVICES[:1], SERVICES[1:]])),
                "competences": draw(st.lists(st.sampled_from(COMPETENCES), min_size=1, max_size=3)),
                "languages": draw(st.sampled_from([["da"], ["da", "en"], ["da", "en"], ["en"]])),
                "location": location(draw),
                "max_travel_km": draw(st.sampled_from([15, 40, 80, 80])),
                "offers_remote": draw(st.booleans()),
                "capacity_minutes_per_week": draw(st.sampled_from([0, 30, 45, 60, 90, 120.5, 59.94, 200])),
                "max_cases": draw(st.sampled_from([0, 1, 2, 3, 3, 5])),
                "availability": draw(windows()),
            }
        )
    needs = []
    for i in range(n_needs):
        needs.append(
            {
                "id": f"N{i + 1}",
                "service": draw(st.sampled_from(SERVICES)),
                "location": location(draw),
                "availability": draw(windows()),
                "minutes_per_session": draw(st.sampled_from([45, 60, 90, 120])),
                "sessions_per_week": draw(st.sampled_from([0.25, 0.333, 0.5, 1])),
                "required_competences": draw(st.sampled_from([[], [], ["trauma"], ["adhd"]])),
                "preferred_competences": draw(st.lists(st.sampled_from(COMPETENCES), max_size=2)),
                "language": draw(st.sampled_from(["da", "da", "da", "en"])),
                "remote_ok": draw(st.booleans()),
                "priority": draw(st.integers(1, 5)),
                "current_provider": draw(st.none() | st.sampled_from([p["id"] for p in providers])),
                "excluded_providers": draw(st.sampled_from([[], [], [], [providers[0]["id"]]])),
                "separate_from": [],
            }
        )
    for _ in range(draw(st.integers(0, 4))):
        if n_needs >= 2:
            a, b = draw(st.lists(st.integers(0, n_needs - 1), min_size=2, max_size=2, unique=True))
            needs[a]["separate_from"].append(needs[b]["id"])
    return document(providers, needs, name="random")


def brute_force_optimum(doc) -> int:
    inst = parse_instance(doc)
    options = []
    for n in inst.needs:
        options.append(
            [
                (j, pair_score(n, p))
                for j, p in enumerate(inst.providers)
                if not pair_violations(n, p) and pair_score(n, p) > 0
            ]
        )
    partners = {i: set() for i in range(len(inst.needs))}
    for a, b in inst.separations:
        partners[a].add(b)
        partners[b].add(a)
    load = [Fraction(0)] * len(inst.providers)
    cases = [0] * len(inst.providers)
    chosen = [-1] * len(inst.needs)
    best = 0

    def search(i: int, total: int) -> None:
        nonlocal best
        if i == len(inst.needs):
            best = max(best, total)
            return
        search(i + 1, total)  # leave need i open
        n = inst.needs[i]
        for j, score in options[i]:
            p = inst.providers[j]
            if cases[j] + 1 > p.max_cases or load[j] + n.load > p.capacity + TOLERANCE:
                continue
            if any(chosen[m] == j for m in partners[i]):
                continue
            chosen[i], cases[j], load[j] = j, cases[j] + 1, load[j] + n.load
            search(i + 1, total + score)
            chosen[i], cases[j], load[j] = -1, cases[j] - 1, load[j] - n.load

    search(0, 0)
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_engine_finds_the_brute_force_optimum_and_a_valid_result(doc):
    result = solve(doc, seconds=20)
    assert check_result(parse_instance(doc), result) == []
    assert result["status"] == "optimal"
    assert result["objective"] == result["bound"] == brute_force_optimum(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_vectorised_rules_agree_with_the_pair_by_pair_rules(doc):
    inst = parse_instance(doc)
    feas = compute(inst)
    got = set(zip(feas.pair_need.tolist(), feas.pair_provider.tolist(), strict=True))
    want = {
        (i, j)
        for i, n in enumerate(inst.needs)
        for j, p in enumerate(inst.providers)
        if not pair_violations(n, p)
    }
    assert got == want
    for k, (i, j) in enumerate(zip(feas.pair_need.tolist(), feas.pair_provider.tolist(), strict=True)):
        assert feas.pair_score[k] == pair_score(inst.needs[i], inst.providers[j])
    for i in range(len(inst.needs)):
        masks, _ = need_rule_masks(inst, feas.tables, i)
        remaining = np.ones(len(inst.providers), dtype=bool)
        for rule, ok in enumerate(masks):
            assert int((remaining & ~ok).sum()) == feas.removed_by_rule[i, rule]
            remaining &= ok
        assert int(remaining.sum()) + int(feas.removed_by_rule[i].sum()) == len(inst.providers)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(instances())
def test_greedy_is_valid_and_never_beats_the_optimum(doc):
    inst = parse_instance(doc)
    feas = compute(inst)
    limits = compute_limits(feas)
    assignment = greedy(feas, limits)
    # Rebuild a result-shaped document so the independent checker can judge the greedy plan.
    value = objective(feas, assignment)
    optimum = brute_force_optimum(doc)
    assert value <= optimum
    fake = {
        "format": "support-matching-result/1",
        "instance": inst.name,
        "status": "feasible",
        "objective": value,
        "bound": optimum,
        "solve_seconds": 0,
        "assignments": [
            {
                "need": inst.needs[i].id,
                "provider": inst.providers[p].id,
                "score": pair_score(inst.needs[i], inst.providers[p]),
            }
            for i, p in enumerate(assignment.tolist())
            if p >= 0
        ],
        "unassigned": [
            {"need": inst.needs[i].id, "reasons": ["-"]} for i, p in enumerate(assignment.tolist()) if p < 0
        ],
    }
    assert check_result(inst, fake) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_large_component_mode_stays_valid_and_its_bounds_hold(doc):
    """Force the mode used for huge components (whole-component CP-SAT skipped, Lagrangian
    bound, region-by-region search) onto small instances: results must stay valid, the
    Lagrangian bound must hold against the brute-force optimum, and search never worsens."""
    import time as _time

    from scheduler.matching import solver as solver_module
    from scheduler.matching.bounds import lagrangian_bound
    from scheduler.matching.engine import solve_instance

    inst = parse_instance(doc)
    optimum = brute_force_optimum(doc)
    feas = compute(inst)
    limits = compute_limits(feas)
    pairs = np.nonzero((feas.pair_score > 0) & limits.fits_alone())[0]
    if pairs.size:
        zeros = np.zeros(len(inst.providers))
        bound = lagrangian_bound(
            feas, limits, pairs, used_minutes=zeros, used_cases=zeros.astype(np.int64), lower=0, seconds=1.0
        )
        assert bound >= optimum

    saved = (solver_module._DIRECT_LIMIT, solver_module._WHOLE_BOUND_LIMIT, solver_module._REGION_PAIRS)
    solver_module._DIRECT_LIMIT, solver_module._WHOLE_BOUND_LIMIT, solver_module._REGION_PAIRS = 0, 0, 3
    try:
        result = solve_instance(inst, end=_time.monotonic() + 1.5)
    finally:
        solver_module._DIRECT_LIMIT, solver_module._WHOLE_BOUND_LIMIT, solver_module._REGION_PAIRS = saved
    assert check_result(inst, result) == []
    assert result["objective"] <= optimum <= result["bound"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances(), st.sampled_from([4, 16, 96]))
def test_knapsack_bound_holds_and_its_plans_are_valid(doc, grid):
    """The per-provider knapsack relaxation (bounds.knapsack_bound) never reports less than the
    brute-force optimum, at any grid and from zero or LP-strength prices, and the plans its
    repair heuristic returns respect every rule."""
    from scheduler.matching.bounds import knapsack_bound, lagrangian_bound

    inst = parse_instance(doc)
    optimum = brute_force_optimum(doc)
    feas = compute(inst)
    limits = compute_limits(feas)
    pairs = np.nonzero((feas.pair_score > 0) & limits.fits_alone())[0]
    if pairs.size == 0:
        return
    zeros = np.zeros(len(inst.providers), dtype=np.int64)
    _, prices = lagrangian_bound(
        feas,
        limits,
        pairs,
        used_minutes=zeros.astype(float),
        used_cases=zeros,
        lower=0,
        seconds=1.0,
        need_prices=True,
    )
    needs = np.unique(feas.pair_need[pairs])
    for start in (None, prices):
        bound, _, plan, plan_value, core = knapsack_bound(
            feas,
            limits,
            pairs,
            used_load=zeros,
            used_cases=zeros,
            lower=0,
            seconds=1.0,
            start=start,
            grid=grid,
            plan_every=1,
        )
        assert bound >= optimum
        assert core.shape == pairs.shape
        assert plan is not None and plan_value <= optimum
        provider_of = np.full(len(inst.needs), -1, dtype=np.int64)
        provider_of[needs] = plan
        assert objective(feas, provider_of) == plan_value
        assert check_result(inst, _as_result(inst, provider_of, plan_value, optimum)) == []

    # Lagrangian fixing against optimum - 1 must keep some optimal plan: excluding every
    # pair it drops leaves the brute-force optimum unchanged.
    *_, keep = knapsack_bound(
        feas,
        limits,
        pairs,
        used_load=zeros,
        used_cases=zeros,
        lower=optimum - 1,
        seconds=0.0,
        start=prices,
        grid=grid,
        max_iterations=1,
        with_fixing=True,
    )
    restricted = copy.deepcopy(doc)
    for k in pairs[~keep].tolist():
        need = restricted["needs"][int(feas.pair_need[k])]
        need["excluded_providers"] = [
            *need["excluded_providers"],
            inst.providers[int(feas.pair_provider[k])].id,
        ]
    assert brute_force_optimum(restricted) == optimum


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_lagrangian_phase_keeps_bound_valid_and_exact_when_optimal(doc):
    """Force the Lagrangian phase (knapsack bound, repair heuristic, core CP-SAT) onto every
    component: the reported bound is >= the brute-force optimum, and when the status is
    optimal, objective == bound == optimum."""
    import time as _time

    from scheduler.matching import solver as solver_module
    from scheduler.matching.engine import solve_instance

    inst = parse_instance(doc)
    optimum = brute_force_optimum(doc)
    names = ("_LAGRANGIAN_MIN_PAIRS", "_LOOSE_RATIO", "_LOOSE_RATIO_DIRECT")
    saved = [getattr(solver_module, name) for name in names]
    for name, forced in zip(names, (0, 2.0, 2.0), strict=True):
        setattr(solver_module, name, forced)
    try:
        result = solve_instance(inst, end=_time.monotonic() + 2.0)
    finally:
        for name, value in zip(names, saved, strict=True):
            setattr(solver_module, name, value)
    assert check_result(inst, result) == []
    assert result["objective"] <= optimum <= result["bound"]
    if result["status"] == "optimal":
        assert result["objective"] == result["bound"] == optimum


def _as_result(inst, provider_of, value, bound):
    return {
        "format": "support-matching-result/1",
        "instance": inst.name,
        "status": "feasible",
        "objective": value,
        "bound": bound,
        "solve_seconds": 0,
        "assignments": [
            {
                "need": inst.needs[i].id,
                "provider": inst.providers[p].id,
                "score": pair_score(inst.needs[i], inst.providers[p]),
            }
            for i, p in enumerate(provider_of.tolist())
            if p >= 0
        ],
        "unassigned": [
            {"need": inst.needs[i].id, "reasons": ["-"]} for i, p in enumerate(provider_of.tolist()) if p < 0
        ],
    }
