"""The `support-matching-result/1` document, and an independent checker for it.

`check_result` deliberately re-implements the hard rules and the score one pair at a time in
plain Python (with scheduler.geo for distances) rather than reusing the vectorised code in
feasibility.py: the tests and the benchmark use it to catch mistakes in that code, which
they could not do if both shared it. Capacity is checked with exact fractions, the same
reading of the numbers the solver uses (instance.exact), plus the 1e-6 tolerance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scheduler.geo import distance_km
from scheduler.matching.explain import Explainer, score_terms
from scheduler.matching.feasibility import Feasibility
from scheduler.matching.instance import Instance, Need, Provider
from scheduler.matching.limits import TOLERANCE, Limits
from scheduler.matching.solver import Solution

RESULT_FORMAT = "support-matching-result/1"


def build_result(
    feas: Feasibility, limits: Limits, solution: Solution, *, solve_seconds: float
) -> dict[str, Any]:
    """The result document: every need exactly once, in the instance's order."""
    inst = feas.instance
    explainer = Explainer(feas, limits, solution.provider_of)
    assignments: list[dict[str, Any]] = []
    unassigned: list[dict[str, Any]] = []
    for i, need in enumerate(inst.needs):
        p = int(solution.provider_of[i])
        if p < 0:
            explained = explainer.explain(i)
            unassigned.append(
                {
                    "need": need.id,
                    "reasons": [line for line, _detail in explained],
                    # Extra field: the same reasons as data, for saying them in another language.
                    "details": [detail for _line, detail in explained],
                }
            )
            continue
        k = limits.pair_of(i, p)
        assignments.append(
            {
                "need": need.id,
                "provider": inst.providers[p].id,
                "score": int(feas.pair_score[k]),
                # Extra fields (readers ignore unknown ones): the score's parts, and the facts
                # behind the travel term.
                "terms": score_terms(feas, k),
                "distance_km": int(feas.pair_distance[k]),
                "remote": bool(feas.pair_remote[k]),
            }
        )
    return {
        "format": RESULT_FORMAT,
        "instance": inst.name,
        "status": "optimal" if solution.optimal else "feasible",
        "objective": int(solution.objective),
        "bound": int(solution.bound),
        "solve_seconds": round(solve_seconds, 3),
        "assignments": assignments,
        "unassigned": unassigned,
        "stats": solution.stats,
    }


# --- the checker --------------------------------------------------------------------------------


def pair_violations(need: Need, provider: Provider) -> list[str]:
    """Which of the six hard rules the pair breaks, in words (empty: the pair is feasible)."""
    out = []
    if need.service not in provider.services:
        out.append(f"rule 1: {provider.id} does not offer {need.service}")
    missing = need.required_competences - provider.competences
    if missing:
        out.append(f"rule 2: {provider.id} lacks {', '.join(sorted(missing))}")
    if need.language not in provider.languages:
        out.append(f"rule 3: {provider.id} does not speak {need.language}")
    if provider.id in need.excluded_providers:
        out.append(f"rule 4: {provider.id} is excluded")
    d = pair_distance(need, provider)
    if not (need.remote_ok and provider.offers_remote) and d > provider.max_travel_km:
        out.append(f"rule 5: {d} km is beyond {provider.id}'s range of {provider.max_travel_km} km")
    if need.availability and provider.availability:
        fits = any(
            a.day == b.day and min(a.end, b.end) - max(a.start, b.start) >= need.minutes_per_session
            for a in need.availability
            for b in provider.availability
        )
        if not fits:
            out.append(
                f"rule 6: no window of {provider.id} overlaps one of the need's by {need.minutes_per_session} minutes"
            )
    return out


def pair_distance(need: Need, provider: Provider) -> int:
    return distance_km(need.location.lat, need.location.lon, provider.location.lat, provider.location.lon)


def pair_score(need: Need, provider: Provider) -> int:
    """The contract's score with its default weights."""
    travel = 0 if (need.remote_ok and provider.offers_remote) else pair_distance(need, provider)
    return (
        1000 * need.priority
        + 200 * (provider.id == need.current_provider)
        + 20 * len(need.preferred_competences & provider.competences)
        - travel
    )


def check_result(instance: Instance, result: Any) -> list[str]:
    """Every way `result` breaks the contract for `instance` (empty list: it is valid)."""
    problems: list[str] = []
    if not isinstance(result, dict):
        return ["result: must be an object"]
    if result.get("format") != RESULT_FORMAT:
        problems.append(f"format: expected {RESULT_FORMAT!r}, got {result.get('format')!r}")
    if result.get("instance") != instance.name:
        problems.append(f"instance: expected {instance.name!r}, got {result.get('instance')!r}")
    status = result.get("status")
    if status not in ("optimal", "feasible"):
        problems.append(f"status: must be 'optimal' or 'feasible', got {status!r}")
    objective, bound = result.get("objective"), result.get("bound")
    for key, value in (("objective", objective), ("bound", bound)):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{key}: must be an integer, got {value!r}")
    if not isinstance(result.get("solve_seconds"), int | float):
        problems.append("solve_seconds: must be a number")

    needs = {n.id: n for n in instance.needs}
    providers = {p.id: p for p in instance.providers}
    seen: dict[str, str] = {}
    total = 0
    load: dict[str, Any] = defaultdict(int)
    cases: dict[str, list[str]] = defaultdict(list)
    assigned_to: dict[str, str] = {}

    assignments = result.get("assignments")
    unassigned = result.get("unassigned")
    if not isinstance(assignments, list) or not isinstance(unassigned, list):
        problems.append("assignments and unassigned must both be lists")
        return problems

    for i, a in enumerate(assignments):
        where = f"assignments[{i}]"
        if not isinstance(a, dict):
            problems.append(f"{where}: must be an object")
            continue
        nid, pid = a.get("need"), a.get("provider")
        if nid not in needs:
            problems.append(f"{where}.need: unknown need {nid!r}")
            continue
        if nid in seen:
            problems.append(f"{where}.need: {nid} appears more than once (also in {seen[nid]})")
        seen[nid] = where
        if pid not in providers:
            problems.append(f"{where}.provider: unknown provider {pid!r}")
            continue
        need, provider = needs[nid], providers[pid]
        for v in pair_violations(need, provider):
            problems.append(f"{where}: {nid} -> {pid} breaks {v}")
        expected = pair_score(need, provider)
        if a.get("score") != expected:
            problems.append(f"{where}.score: expected {expected}, got {a.get('score')!r}")
        terms = a.get("terms")
        if terms is not None and (not isinstance(terms, dict) or sum(terms.values()) != expected):
            problems.append(f"{where}.terms: do not add up to the score {expected}")
        total += expected
        load[pid] += need.load
        cases[pid].append(nid)
        assigned_to[nid] = pid

    for i, u in enumerate(unassigned):
        where = f"unassigned[{i}]"
        if not isinstance(u, dict) or u.get("need") not in needs:
            problems.append(f"{where}: must name a known need")
            continue
        nid = u["need"]
        if nid in seen:
            problems.append(f"{where}.need: {nid} appears more than once (also in {seen[nid]})")
        seen[nid] = where
        reasons = u.get("reasons")
        if not isinstance(reasons, list) or not reasons or not all(isinstance(r, str) and r for r in reasons):
            problems.append(f"{where}.reasons: must be a non-empty list of sentences")

    for nid in needs:
        if nid not in seen:
            problems.append(f"need {nid} appears in neither assignments nor unassigned")

    for pid, total_load in load.items():
        p = providers[pid]
        if total_load > p.capacity + TOLERANCE:
            problems.append(
                f"provider {pid}: {float(total_load):g} minutes/week exceed capacity {p.capacity_minutes_per_week}"
            )
        if len(cases[pid]) > p.max_cases:
            problems.append(f"provider {pid}: {len(cases[pid])} cases exceed max_cases {p.max_cases}")
    for a, b in instance.separations:
        na, nb = instance.needs[a].id, instance.needs[b].id
        if na in assigned_to and assigned_to.get(na) == assigned_to.get(nb):
            problems.append(f"needs {na} and {nb} must be kept apart but share provider {assigned_to[na]}")

    if isinstance(objective, int) and objective != total:
        problems.append(f"objective: expected the sum of scores {total}, got {objective}")
    if isinstance(objective, int) and isinstance(bound, int):
        if bound < objective:
            problems.append(f"bound: {bound} is below the objective {objective}")
        if status == "optimal" and bound != objective:
            problems.append(f"bound: must equal the objective when optimal ({bound} != {objective})")
    return problems
