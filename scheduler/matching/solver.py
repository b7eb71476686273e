"""Choose the assignment with the highest total score: exact reductions, then CP-SAT per component.

The model is a generalised assignment problem with side constraints: a boolean x[n,p] per
feasible pair, each need at most once, per provider a knapsack row (minutes, exact integers
from limits.py) and a cardinality row (max_cases), and x[a,p] + x[b,p] <= 1 for needs kept
apart. The objective is the contract's integer score sum, so "optimal" means exactly that.

Before CP-SAT sees anything, three exact reductions shrink it (none changes the optimum):

1. Pairs with score <= 0 are dropped (taking them never raises the sum), and so are pairs
   whose need alone exceeds the provider's minutes or whose provider takes no cases.
2. A provider is *free* when even all its remaining candidates together fit its minutes and
   cases and none of them must be kept apart: nothing anyone does there constrains anyone
   else. A need whose best remaining pair is with a free provider is settled there; for
   other needs, pairs scoring no more than their best free pair are dropped (moving the need
   to that free provider is never worse). Repeat until nothing changes. In loose instances
   this settles most needs without a solver.
3. What remains splits into connected components of the need–provider graph (needs are
   linked by a shared candidate provider; a `separate_from` pair only constrains a provider
   both could use, so it never links needs that do not already share one). Components are
   solved independently, smallest first, each given a share of the remaining time
   proportional to its size, so time a small one does not need flows on to the big ones.

Each component starts from the greedy assignment as a hint (and keeps it if CP-SAT finds
nothing better in time); if greedy already reaches the component's trivial upper bound
(every need on its best pair), it is optimal and CP-SAT is skipped.

Tight components (greedy below _LOOSE_RATIO of the trivial bound: capacity binds) first go
through a Lagrangian phase (_lagrangian_phase, bounds.py): "each need at most once" is
relaxed, leaving one exact knapsack per provider. This gives a bound far stronger than the
LP on these instances, and its per-provider choices, repaired into feasible plans, give a
much better start than greedy. CP-SAT then runs on the *core* (pairs some knapsack took),
where good plans are found fast, and finally on the whole component (or region by region
for huge ones) with the best plan as hint.

The reported bound is the sum over components of the smallest valid bound found (trivial,
CP-SAT's proven bound, Lagrangian bounds), so `status` is "optimal" only when every
component's plan reaches its bound.

Identical providers would make the search symmetric, but real pools (different addresses,
ranges and current clients) almost never contain exact twins, so no symmetry breaking is
added; CP-SAT's own symmetry detection covers the rest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from scheduler.matching.bounds import knapsack_bound, lagrangian_bound
from scheduler.matching.feasibility import Feasibility
from scheduler.matching.greedy import greedy
from scheduler.matching.limits import Limits

# Components with at most this many pair variables, when greedy does not settle them, are
# still given to CP-SAT but need no share of the time: they finish in milliseconds.
_SMALL_COMPONENT = 200
# Below this many seconds a CP-SAT call is not worth making; the greedy answer stands.
_MIN_SOLVE_SECONDS = 0.02
# Rounds of the rounding cuts per provider (see _rounding_cuts).
_CUT_ROUNDS = 6
# Above this many variables CP-SAT's probing presolve costs more time than it saves.
_LARGE_COMPONENT = 20_000
_NO_LOWER_BOUND = -(2**62)
# Components with more pairs than this are not given to CP-SAT whole: its presolve and root
# LP alone would eat the time. They are improved region by region instead (see
# _improve_by_regions) and bounded by the Lagrangian relaxation (bounds.py).
_DIRECT_LIMIT = 20_000
# Up to this size a large component still gets one CP-SAT run on the whole of it, for part
# of its time: its bound (LP with cuts, tightened by search) beats the Lagrangian one.
_WHOLE_BOUND_LIMIT = 150_000
_WHOLE_BOUND_SHARE = 0.5
_LAGRANGIAN_SHARE = 0.15
# Share of a component's time for the Lagrangian phase (bounds.py: LP-strength prices, then
# the per-provider knapsack relaxation with its repair heuristic) before CP-SAT, and a cap.
_KNAPSACK_SHARE = 0.3
_KNAPSACK_MAX_SECONDS = 40.0
# Part of that phase for the LP-strength prices that seed the knapsack relaxation: they
# settle within a few seconds even on a national component, the knapsack bound keeps
# falling for as long as it runs.
_LP_PRICE_SHARE = 0.1
# Share of a component's time for CP-SAT on its core (see _solve_core).
_CORE_SHARE = 0.3
# Components small enough for CP-SAT whole keep most of their time for it (it is what proves
# optimality there): smaller shares for the Lagrangian phase and the core.
_KNAPSACK_SHARE_DIRECT = 0.15
_CORE_SHARE_DIRECT = 0.35
# Components where greedy reaches at least this fraction of the trivial bound are left to
# CP-SAT alone: capacity hardly binds there and the knapsack phase would only cost time.
# Components small enough for CP-SAT whole need to be clearly tight to be worth it (on the
# benchmark: tight shapes 0.58-0.86, loose ones 0.91-0.99).
_LOOSE_RATIO = 0.98
_LOOSE_RATIO_DIRECT = 0.9
# Below this many pairs CP-SAT proves a component faster than the Lagrangian phase pays off.
_LAGRANGIAN_MIN_PAIRS = 1_000
# Pairs per region subproblem in that mode.
_REGION_PAIRS = 5_000
# Slack kept before a deadline for CP-SAT stopping late.
_OVERSHOOT = 0.3


@dataclass
class Solution:
    provider_of: np.ndarray  # provider index per need, -1 = unassigned
    objective: int
    bound: int
    optimal: bool
    stats: dict = field(default_factory=dict)


def solve(feas: Feasibility, limits: Limits, *, deadline: float, workers: int = 2, seed: int = 0) -> Solution:
    """Best assignment found before `deadline` (a time.monotonic() value), with a proven bound."""
    t0 = time.monotonic()
    n_needs = len(feas.instance.needs)
    provider_of = np.full(n_needs, -1, dtype=np.int64)
    active = (feas.pair_score > 0) & limits.fits_alone()

    settled, active = _settle_free_providers(feas, limits, active)
    for n, k in settled.items():
        provider_of[n] = feas.pair_provider[k]
    objective = int(sum(int(feas.pair_score[k]) for k in settled.values()))
    bound = objective

    # Greedy over what is left (settled needs only use free providers, so they never take
    # room anyone else could want): the hint, the fallback and a lower bound per component.
    open_needs = np.unique(feas.pair_need[active]).astype(np.int64)
    hint = greedy(feas, limits, needs=open_needs, provider_of=provider_of, active=active)

    # Room already taken by settled needs, which CP-SAT rows must leave free.
    used_load = np.zeros(len(feas.instance.providers), dtype=np.int64)
    used_cases = np.zeros(len(feas.instance.providers), dtype=np.int64)
    for k in settled.values():
        used_load[feas.pair_provider[k]] += limits.pair_load[k]
        used_cases[feas.pair_provider[k]] += 1

    components = _components(feas, active)
    sizes = np.array([c[1].size for c in components], dtype=np.int64)
    remaining_size = int(sizes.sum())
    stats = {
        "pairs": feas.n_pairs,
        "active_pairs": int(active.sum()),
        "settled_without_solver": len(settled),
        "components": len(components),
        "largest_component_pairs": int(sizes.max()) if sizes.size else 0,
        "cpsat_calls": 0,
        "components_not_proven": 0,
    }
    optimal = True
    for needs, pairs in components:
        size = pairs.size
        comp_hint = hint[needs]
        greedy_value = _value(feas, limits, needs, comp_hint)
        best_each = _best_per_need(feas, pairs)
        trivial_bound = int(best_each.sum())
        if greedy_value == trivial_bound:
            provider_of[needs] = comp_hint
            objective += greedy_value
            bound += trivial_bound
            remaining_size -= size
            continue

        now = time.monotonic()
        budget = max(0.0, deadline - now)
        if size <= _SMALL_COMPONENT or remaining_size <= size:
            share = budget
        else:
            # Proportional to size, but never so little that a mid-sized component cannot
            # get through presolve; what a component does not use flows to the next.
            share = min(budget, max(budget * size / remaining_size, min(2.0, 0.25 * budget)))
        remaining_size -= size
        if size > _DIRECT_LIMIT:
            stats["region_mode_components"] = stats.get("region_mode_components", 0) + 1
            assignment, value, comp_bound = _large_component(
                feas,
                limits,
                needs,
                pairs,
                comp_hint,
                greedy_value,
                trivial_bound,
                used_load,
                used_cases,
                time.monotonic() + share,
                workers,
                seed,
                stats,
            )
            proven = value >= comp_bound
        else:
            comp_end = time.monotonic() + share
            lagrangian_bound_value = trivial_bound
            solve_pairs, floor = pairs, _NO_LOWER_BOUND
            if size > _LAGRANGIAN_MIN_PAIRS and greedy_value < _LOOSE_RATIO_DIRECT * trivial_bound:
                comp_hint, greedy_value, lagrangian_bound_value, core, prices = _lagrangian_phase(
                    feas,
                    limits,
                    needs,
                    pairs,
                    comp_hint,
                    greedy_value,
                    used_load,
                    used_cases,
                    _KNAPSACK_SHARE_DIRECT * share,
                    stats,
                )
                if greedy_value < lagrangian_bound_value:
                    comp_hint, greedy_value = _solve_core(
                        feas,
                        limits,
                        needs,
                        core,
                        comp_hint,
                        greedy_value,
                        used_load,
                        used_cases,
                        _CORE_SHARE_DIRECT * share,
                        workers,
                        seed,
                        stats,
                    )
                # Pairs the Lagrangian fixing keeps: every plan better than the current one
                # lies among them, so CP-SAT may search there only; what it proves holds
                # for the component above that value (the floor).
                floor = greedy_value
                solve_pairs = _fixed_pairs(
                    feas, limits, needs, pairs, prices, comp_hint, greedy_value, used_load, used_cases, stats
                )
            share = comp_end - time.monotonic()
            result = None
            if greedy_value >= lagrangian_bound_value:
                result = comp_hint, greedy_value, greedy_value, True
            elif share >= _MIN_SOLVE_SECONDS:
                stats["cpsat_calls"] += 1
                result = _solve_component(
                    feas, limits, needs, solve_pairs, comp_hint, used_load, used_cases, share, workers, seed
                )
            if result is None:
                assignment, value, comp_bound, proven = comp_hint, greedy_value, lagrangian_bound_value, False
            else:
                assignment, value, comp_bound, proven = result
                if value < greedy_value:  # CP-SAT stopped before reaching its own hint
                    assignment, value = comp_hint, greedy_value
                comp_bound = min(max(comp_bound, floor), lagrangian_bound_value)
                proven = proven or value >= comp_bound
        provider_of[needs] = assignment
        objective += value
        bound += max(comp_bound, value)
        if not proven:
            optimal = False
            stats["components_not_proven"] += 1
            # Where the gap is: pairs, plan value and bound of each component left open.
            stats.setdefault("open_components", []).append([int(size), int(value), int(max(comp_bound, value))])

    if not optimal:
        # A stopped search may leave a need out although a candidate still has room; filling
        # such gaps can only raise the sum (the bound, being proven, stays valid).
        unassigned = np.nonzero(provider_of < 0)[0]
        filled = greedy(feas, limits, needs=unassigned, provider_of=provider_of)
        gained = _value(feas, limits, unassigned, filled[unassigned])
        provider_of, objective = filled, objective + gained
    if objective >= bound:
        optimal, bound = True, objective
    stats["solve_seconds"] = round(time.monotonic() - t0, 3)
    return Solution(provider_of=provider_of, objective=objective, bound=bound, optimal=optimal, stats=stats)


def _large_component(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    pairs: np.ndarray,
    start: np.ndarray,
    start_value: int,
    trivial_bound: int,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    deadline: float,
    workers: int,
    seed: int,
    stats: dict,
) -> tuple[np.ndarray, int, int]:
    """Bound the component, then improve `start` region by region until `deadline`.

    Tight components (greedy well below the trivial bound, so capacity binds) go through the
    Lagrangian phase first: the knapsack bound, a repaired plan as the new start, and CP-SAT
    on the core. Loose ones keep the cheaper route: up to _WHOLE_BOUND_LIMIT pairs, CP-SAT
    runs on the whole component for part of the time (its bound and possibly a better
    start), and the LP-strength Lagrangian bound is computed in any case; the smaller valid
    bound wins.
    """
    budget = max(0.0, deadline - time.monotonic())
    bound = trivial_bound
    if start_value < _LOOSE_RATIO * trivial_bound:
        start, start_value, knap, core, prices = _lagrangian_phase(
            feas,
            limits,
            needs,
            pairs,
            start,
            start_value,
            used_load,
            used_cases,
            _KNAPSACK_SHARE * budget,
            stats,
        )
        bound = min(bound, knap)
        if start_value >= bound:
            return start, start_value, start_value
        start, start_value = _solve_core(
            feas,
            limits,
            needs,
            core,
            start,
            start_value,
            used_load,
            used_cases,
            _CORE_SHARE * budget,
            workers,
            seed,
            stats,
        )
        # Better plans only use the pairs the Lagrangian fixing keeps (plus the current plan's).
        pairs = _fixed_pairs(
            feas, limits, needs, pairs, prices, start, start_value, used_load, used_cases, stats
        )
    else:
        if pairs.size <= _WHOLE_BOUND_LIMIT and budget * _WHOLE_BOUND_SHARE >= 2.0:
            stats["cpsat_calls"] += 1
            whole = _solve_component(
                feas,
                limits,
                needs,
                pairs,
                start,
                used_load,
                used_cases,
                budget * _WHOLE_BOUND_SHARE,
                workers,
                seed,
            )
            if whole is not None:
                assignment, value, whole_bound, proven = whole
                bound = min(bound, whole_bound)
                if value > start_value:
                    start, start_value = assignment, value
                if proven:
                    return start, start_value, start_value
        scale = np.array(limits.scale, dtype=np.float64)
        budget = max(0.0, deadline - time.monotonic())
        bound = min(
            bound,
            lagrangian_bound(
                feas,
                limits,
                pairs,
                used_minutes=used_load / scale,
                used_cases=used_cases,
                lower=start_value,
                seconds=min(_LAGRANGIAN_SHARE * budget, 15.0),
            ),
        )
    assignment, value = _improve_by_regions(
        feas,
        limits,
        needs,
        pairs,
        start,
        start_value,
        used_load,
        used_cases,
        deadline,
        workers,
        seed,
        stats,
    )
    return assignment, value, bound


def _lagrangian_phase(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    pairs: np.ndarray,
    start: np.ndarray,
    start_value: int,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    seconds: float,
    stats: dict,
) -> tuple[np.ndarray, int, int, np.ndarray, np.ndarray]:
    """Bound a component by Lagrangian relaxation and improve `start` with its heuristic.

    First the provider rows are priced (lagrangian_bound: cheap, LP strength); the resulting
    per-need prices seed the stronger relaxation of "each need at most once", whose
    per-provider knapsacks are also repaired into plans (knapsack_bound). Returns the better
    of `start` and the best repaired plan, its value, the smaller proven bound, the core
    (pairs any knapsack took, see _solve_core) and the pairs that survive Lagrangian fixing
    against the returned value (no plan worth more uses any other pair).
    """
    seconds = min(seconds, _KNAPSACK_MAX_SECONDS)
    started = time.monotonic()
    scale = np.array(limits.scale, dtype=np.float64)
    lp_bound, prices = lagrangian_bound(
        feas,
        limits,
        pairs,
        used_minutes=used_load / scale,
        used_cases=used_cases,
        lower=start_value,
        seconds=_LP_PRICE_SHARE * seconds,
        need_prices=True,
    )
    left = seconds - (time.monotonic() - started)
    knap, prices, plan, plan_value, core = knapsack_bound(
        feas,
        limits,
        pairs,
        used_load=used_load,
        used_cases=used_cases,
        lower=start_value,
        seconds=max(left, 0.0),
        start=prices,
        plan_every=5 if pairs.size < 100_000 else 10,
    )
    stats["lagrangian_seconds"] = round(stats.get("lagrangian_seconds", 0.0) + time.monotonic() - started, 2)
    if plan is not None and plan_value > start_value:
        start, start_value = plan, plan_value
        stats["lagrangian_plans_used"] = stats.get("lagrangian_plans_used", 0) + 1
    return start, start_value, min(lp_bound, knap), pairs[core], prices


def _fixed_pairs(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    pairs: np.ndarray,
    prices: np.ndarray,
    plan: np.ndarray,
    plan_value: int,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    stats: dict,
) -> np.ndarray:
    """Lagrangian variable fixing: the pairs any plan worth more than `plan_value` may use
    (knapsack_bound's test at `prices`), plus those of `plan` itself, sorted."""
    *_, keep = knapsack_bound(
        feas,
        limits,
        pairs,
        used_load=used_load,
        used_cases=used_cases,
        lower=plan_value,
        seconds=0.0,
        start=prices,
        max_iterations=1,
        with_fixing=True,
    )
    out = np.union1d(pairs[keep], _plan_pairs(limits, needs, plan))
    stats["fixed_pairs"] = stats.get("fixed_pairs", 0) + int(pairs.size - out.size)
    return out


def _plan_pairs(limits: Limits, needs: np.ndarray, plan: np.ndarray) -> np.ndarray:
    """Pair indices used by `plan` (a provider per need of `needs`, -1 = none)."""
    used = [limits.pair_of(n, p) for n, p in zip(needs.tolist(), plan.tolist(), strict=True) if p >= 0]
    return np.array(used, dtype=np.int64)


def _solve_core(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    core: np.ndarray,
    start: np.ndarray,
    start_value: int,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    seconds: float,
    workers: int,
    seed: int,
    stats: dict,
) -> tuple[np.ndarray, int]:
    """CP-SAT on the component's core: the pairs the Lagrangian knapsacks ever took, plus
    those of `start`. A much smaller model than the component, where good plans are found
    fast; it only serves the primal side (the bound comes from the whole component)."""
    position = {n: i for i, n in enumerate(needs.tolist())}
    in_start = [limits.pair_of(n, p) for n, p in zip(needs.tolist(), start.tolist(), strict=True) if p >= 0]
    sub_pairs = np.union1d(core, np.array(in_start, dtype=np.int64))
    if sub_pairs.size == 0 or seconds < _MIN_SOLVE_SECONDS:
        return start, start_value
    sub_needs = np.unique(feas.pair_need[sub_pairs]).astype(np.int64)
    hint = np.array([start[position[n]] for n in sub_needs.tolist()], dtype=np.int64)
    stats["cpsat_calls"] += 1
    stats["core_pairs"] = stats.get("core_pairs", 0) + int(sub_pairs.size)
    result = _solve_component(
        feas, limits, sub_needs, sub_pairs, hint, used_load, used_cases, seconds, workers, seed
    )
    if result is None:
        return start, start_value
    before = _value(feas, limits, sub_needs, hint)
    if result[1] <= before:
        return start, start_value
    out = start.copy()
    for n, p in zip(sub_needs.tolist(), result[0].tolist(), strict=True):
        out[position[n]] = p
    return out, start_value + result[1] - before


def _improve_by_regions(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    pairs: np.ndarray,
    start: np.ndarray,
    start_value: int,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    deadline: float,
    workers: int,
    seed: int,
    stats: dict,
) -> tuple[np.ndarray, int]:
    """Large-neighbourhood search over geographic regions of providers, with CP-SAT inside.

    Providers are grouped into regions (k-means on their coordinates, reseeded every round so
    borders move). For one region, everything outside stays fixed; the needs it serves and
    the open needs that could go there are re-optimised exactly by CP-SAT with the current
    plan as hint. A region's providers serve no one outside the subproblem, so its rows are
    exact, and separations with needs served elsewhere cannot bind there. The plan only ever
    changes for the better.
    """
    rng = np.random.default_rng(seed)
    t = feas.tables
    pn_all = feas.pair_need[pairs]
    pp_all = feas.pair_provider[pairs]
    provs = np.unique(pp_all)
    lat = np.degrees(t.prov_lat[provs])
    xy = np.column_stack([lat, t.prov_lon[provs] * np.cos(np.radians(lat))])
    k = max(2, math.ceil(pairs.size / _REGION_PAIRS))
    position = {n: i for i, n in enumerate(needs.tolist())}
    current = start.copy()
    value = start_value
    rounds = 0
    while time.monotonic() < deadline - _OVERSHOOT - 0.2:
        rounds += 1
        labels = _kmeans(xy, k, rng)
        region_of = np.full(len(feas.instance.providers), -1, dtype=np.int64)
        region_of[provs] = labels
        assigned_to = np.full(len(feas.instance.needs), -1, dtype=np.int64)
        assigned_to[needs] = current
        # Regions with the most open needs that could use them go first.
        pair_region = region_of[pp_all]
        open_pair = assigned_to[pn_all] < 0
        pressure = np.bincount(pair_region[open_pair], minlength=k)
        order = np.argsort(-pressure, kind="stable")
        for r in order.tolist():
            # CP-SAT overshoots its limit by up to a few tenths on a busy machine (presolve
            # checks the clock only between steps): keep that slack before the deadline.
            remaining = deadline - time.monotonic() - _OVERSHOOT
            if remaining < 0.2:
                break
            in_region = pair_region == r
            served_here = region_of[np.maximum(assigned_to[pn_all], 0)] == r
            served_here &= assigned_to[pn_all] >= 0
            wanted = in_region & (open_pair | served_here)
            sub_pairs = pairs[wanted]
            if sub_pairs.size == 0:
                continue
            sub_needs = np.unique(feas.pair_need[sub_pairs]).astype(np.int64)
            hint = np.array([assigned_to[n] for n in sub_needs.tolist()], dtype=np.int64)
            before = _value(feas, limits, sub_needs, hint)
            # Regions left in this round share what is left evenly, at least a second each.
            seconds = min(remaining, max(1.0, remaining / max(1, k)))
            result = _solve_component(
                feas,
                limits,
                sub_needs,
                sub_pairs,
                hint,
                used_load,
                used_cases,
                seconds,
                workers,
                seed + rounds,
            )
            stats["cpsat_calls"] = stats.get("cpsat_calls", 0) + 1
            if result is None or result[1] <= before:
                continue
            assignment, after = result[0], result[1]
            for n, p in zip(sub_needs.tolist(), assignment.tolist(), strict=True):
                current[position[n]] = p
                assigned_to[n] = p
            value += after - before
            open_pair = assigned_to[pn_all] < 0
    stats["region_rounds"] = stats.get("region_rounds", 0) + rounds
    return current, value


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 8) -> np.ndarray:
    """Plain k-means labels for provider coordinates (a few iterations are plenty here)."""
    k = min(k, len(xy))
    centres = xy[rng.choice(len(xy), size=k, replace=False)]
    labels = np.zeros(len(xy), dtype=np.int64)
    for _ in range(iterations):
        d = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = d.argmin(axis=1)
        for c in range(k):
            members = xy[labels == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return labels


def _value(feas: Feasibility, limits: Limits, needs: np.ndarray, assignment: np.ndarray) -> int:
    total = 0
    for n, p in zip(needs.tolist(), assignment.tolist(), strict=True):
        if p >= 0:
            total += int(feas.pair_score[limits.pair_of(n, p)])
    return total


def _best_per_need(feas: Feasibility, pairs: np.ndarray) -> np.ndarray:
    """Best active score per need among `pairs` (pairs are sorted by need)."""
    pn = feas.pair_need[pairs]
    starts = np.r_[0, np.nonzero(np.diff(pn))[0] + 1]
    return np.maximum.reduceat(feas.pair_score[pairs], starts)


def _settle_free_providers(
    feas: Feasibility, limits: Limits, active: np.ndarray
) -> tuple[dict[int, int], np.ndarray]:
    """Reduction 2 in the module docstring; returns {need: pair} settled and the pairs left."""
    active = active.copy()
    pn, pp, score = feas.pair_need, feas.pair_provider, feas.pair_score
    n_providers = len(feas.instance.providers)
    settled: dict[int, int] = {}
    # Minutes and cases already taken by settled needs (a provider once free stays free,
    # since candidate sets only shrink, but counting them keeps the test honest).
    used_load = np.zeros(n_providers, dtype=np.int64)
    used_cases = np.zeros(n_providers, dtype=np.int64)
    while True:
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        load = np.zeros(n_providers, dtype=np.int64)
        np.add.at(load, pp[idx], limits.pair_load[idx])
        count = np.bincount(pp[idx], minlength=n_providers)
        free = (used_load + load <= limits.capacity) & (used_cases + count <= limits.max_cases)
        for p in _providers_with_separated_candidates(feas, active):
            free[p] = False

        on_free = idx[free[pp[idx]]]
        if on_free.size == 0:
            break
        best_free = np.full(len(feas.instance.needs), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(best_free, pn[on_free], score[on_free])
        best_any = np.full(len(feas.instance.needs), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(best_any, pn[idx], score[idx])

        changed = False
        # Needs whose best pair is on a free provider: settle them there.
        done = np.nonzero((best_free == best_any) & (best_any > np.iinfo(np.int64).min))[0]
        for n in done.tolist():
            sl = feas.candidates(n)
            ks = np.nonzero(active[sl] & free[pp[sl]] & (score[sl] == best_free[n]))[0]
            k = sl.start + int(ks[0])
            settled[n] = k
            used_load[pp[k]] += limits.pair_load[k]
            used_cases[pp[k]] += 1
            active[sl] = False
            changed = True
        # Other needs: drop pairs dominated by their best free pair.
        has_free = best_free[pn[idx]] > np.iinfo(np.int64).min
        dominated = idx[has_free & (score[idx] <= best_free[pn[idx]])]
        dominated = dominated[~free[pp[dominated]]]
        if dominated.size:
            active[dominated] = False
            changed = True
        # Among a need's pairs on free providers only the best one matters.
        on_free_left = idx[free[pp[idx]] & active[idx]]
        worse_free = on_free_left[score[on_free_left] < best_free[pn[on_free_left]]]
        if worse_free.size:
            active[worse_free] = False
            changed = True
        if not changed:
            break
    return settled, active


def _providers_with_separated_candidates(feas: Feasibility, active: np.ndarray) -> set[int]:
    """Providers where two needs that must be kept apart are both still candidates."""
    out: set[int] = set()
    for a, b in feas.instance.separations:
        sa, sb = feas.candidates(a), feas.candidates(b)
        pa = feas.pair_provider[sa][active[sa]]
        pb = feas.pair_provider[sb][active[sb]]
        if pa.size and pb.size:
            out.update(np.intersect1d(pa, pb, assume_unique=True).tolist())
    return out


def _components(feas: Feasibility, active: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components as (need indices, active pair indices), smallest first.

    Union-find over providers, vectorised: every need hooks the roots of all its providers
    to the smallest of them, then pointer jumping flattens the forest; a handful of rounds
    suffice even for country-wide chains.
    """
    idx = np.nonzero(active)[0]
    if idx.size == 0:
        return []
    pn = feas.pair_need[idx].astype(np.int64)
    pp = feas.pair_provider[idx].astype(np.int64)
    n_needs = len(feas.instance.needs)
    parent = np.arange(len(feas.instance.providers), dtype=np.int64)
    while True:
        root = parent[pp]
        need_min = np.full(n_needs, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(need_min, pn, root)
        if np.array_equal(root, need_min[pn]):
            break  # every need's providers share one root
        # Hook roots onto the smallest root seen by any of their needs (pointers only
        # decrease, so no cycles), then flatten by pointer jumping.
        np.minimum.at(parent, root, need_min[pn])
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    label = parent[pp]
    order = np.lexsort((pn, label))
    label_sorted = label[order]
    cuts = np.nonzero(np.diff(label_sorted))[0] + 1
    comps = []
    for part in np.split(order, cuts):
        pairs = np.sort(idx[part])  # keep pairs sorted by need, then provider
        comps.append((np.unique(feas.pair_need[pairs]).astype(np.int64), pairs))
    comps.sort(key=lambda c: c[1].size)
    return comps


def _solve_component(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray,
    pairs: np.ndarray,
    hint: np.ndarray,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    seconds: float,
    workers: int,
    seed: int,
) -> tuple[np.ndarray, int, int, bool] | None:
    """CP-SAT on one component; None if it found no solution at all in time.

    The model is written straight into CP-SAT's protocol buffer: building it through the
    Python wrappers costs ~30 µs a variable, which for a national run is most of a minute;
    the buffer's repeated fields take whole lists at once.
    """
    started = time.monotonic()
    pn = feas.pair_need[pairs].tolist()
    pp = feas.pair_provider[pairs].tolist()
    score = feas.pair_score[pairs].tolist()
    load = limits.pair_load[pairs].tolist()

    model = cp_model.CpModel()
    proto = model.proto
    for _ in range(len(pairs)):
        proto.variables.add().domain.extend((0, 1))

    by_need: dict[int, list[int]] = {}
    by_provider: dict[int, list[int]] = {}
    at: dict[tuple[int, int], int] = {}
    for k, (n, p) in enumerate(zip(pn, pp, strict=True)):
        by_need.setdefault(n, []).append(k)
        by_provider.setdefault(p, []).append(k)
        at[(n, p)] = k

    def at_most_one(literals: list[int]) -> None:
        proto.constraints.add().at_most_one.literals.extend(literals)

    def linear_at_most(variables: list[int], coeffs: list[int], upper: int) -> None:
        linear = proto.constraints.add().linear
        linear.vars.extend(variables)
        linear.coeffs.extend(coeffs)
        linear.domain.extend((_NO_LOWER_BOUND, upper))

    for ks in by_need.values():
        if len(ks) > 1:
            at_most_one(ks)
    for p, ks in by_provider.items():
        cap = int(limits.capacity[p] - used_load[p])
        max_cases = int(limits.max_cases[p] - used_cases[p])
        loads = [load[k] for k in ks]
        if sum(loads) > cap:
            linear_at_most(ks, loads, cap)
        if len(ks) > max_cases:
            if max_cases == 1:
                at_most_one(ks)
            else:
                linear_at_most(ks, [1] * len(ks), max_cases)
        if _CUT_ROUNDS and 0 < cap < sum(loads):
            for coeffs, upper in _rounding_cuts(loads, cap, max_cases):
                chosen = [(k, c) for k, c in zip(ks, coeffs, strict=True) if c > 0]
                linear_at_most([k for k, _ in chosen], [c for _, c in chosen], upper)
    in_component = set(needs.tolist())
    for a, b in feas.instance.separations:
        if a not in in_component or b not in in_component:
            continue
        for ka in by_need.get(a, ()):
            kb = at.get((b, pp[ka]))
            if kb is not None:
                at_most_one([ka, kb])

    # CP-SAT minimises; a maximisation is stored negated with scaling factor -1, exactly as
    # CpModel.maximize does, so objective_value and best_objective_bound read as maxima.
    proto.objective.vars.extend(range(len(pairs)))
    proto.objective.coeffs.extend([-c for c in score])
    proto.objective.scaling_factor = -1
    hinted = dict(zip(needs.tolist(), hint.tolist(), strict=True))
    proto.solution_hint.vars.extend(range(len(pairs)))
    proto.solution_hint.values.extend([int(hinted.get(n) == p) for n, p in zip(pn, pp, strict=True)])

    solver = cp_model.CpSolver()
    # Model building is paid out of the same share of time.
    solver.parameters.max_time_in_seconds = max(_MIN_SOLVE_SECONDS, seconds - (time.monotonic() - started))
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    # With few workers CP-SAT's default portfolio runs only its light LP worker, whose bound
    # stalls at the plain LP relaxation. The "max_lp" worker (full linearisation, more cuts)
    # closes that gap on these knapsack rows; the remaining thread(s) run the
    # large-neighbourhood searches that improve the assignment.
    solver.parameters.subsolvers.append("max_lp")
    if len(pairs) > _LARGE_COMPONENT:
        solver.parameters.cp_model_probing_level = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    values = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(pairs)] > 0
    chosen = np.nonzero(values)[0]
    assignment = np.full(needs.size, -1, dtype=np.int64)
    position = {n: i for i, n in enumerate(needs.tolist())}
    for k in chosen.tolist():
        assignment[position[pn[k]]] = pp[k]
    value = int(sum(score[k] for k in chosen.tolist()))
    proven = status == cp_model.OPTIMAL
    comp_bound = value if proven else math.floor(solver.best_objective_bound + 1e-6)
    return assignment, value, comp_bound, proven


def _rounding_cuts(loads: list[int], cap: int, max_cases: int) -> list[tuple[list[int], int]]:
    """Valid inequalities that tighten one provider's knapsack row in the LP relaxation.

    For t = 2, 3, ...: f(a) = ceil(t * a / C) - 1 is superadditive with f(C) = t - 1, so
    sum f(load) * x <= t - 1 holds for every feasible choice (C = minutes left). With t = 2
    it says "at most one need larger than half the capacity", with t = 3 "needs over two
    thirds count double, needs over a third count once, at most two in all", and so on.
    CP-SAT finds some of these itself, but giving them up front closes much of the LP gap at
    the root, which is what lets it prove optimality. Returns (coefficients, upper bound).
    """
    cuts: list[tuple[list[int], int]] = []
    seen: set[tuple[int, ...]] = set()
    for t in range(2, min(max_cases, len(loads), _CUT_ROUNDS) + 1):
        weights = tuple(-(-t * a // cap) - 1 for a in loads)
        if sum(weights) <= t - 1 or weights in seen:
            continue  # redundant, or the same row again
        seen.add(weights)
        cuts.append((list(weights), t - 1))
    return cuts
