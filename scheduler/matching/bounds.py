"""A proven upper bound for components too big for CP-SAT to bound in time.

CP-SAT's own bound needs its LP at the root; on a national component (hundreds of thousands
of pairs) it does not even finish presolve within two minutes, and the trivial bound (every
need on its best pair) ignores capacity altogether. The Lagrangian relaxation of the
provider rows fills the gap at numpy speed:

    L(λ, μ) = Σ_p (λ_p C_p + μ_p M_p) + Σ_n max(0, max_p (score_np - λ_p load_n - μ_p))

is an upper bound on the component's optimum for every λ, μ >= 0 (weak duality; dropping
the separations only relaxes further). The solver's rounding cuts (solver._rounding_cuts,
valid for every feasible plan) are relaxed the same way with multipliers ν, which makes the
bound as strong as the LP with those cuts rather than the plain LP. Subgradient steps get
close to that minimum in a few hundred cheap iterations; every evaluated L is a valid bound,
so stopping early is always safe.

For tight components a second, stronger relaxation follows (knapsack_bound): relaxing
"each need at most once" instead leaves one 0/1 knapsack per provider (minutes and cases),
solved exactly by dynamic programming. Its dual equals the LP over each provider's knapsack
hull, the classic strong bound for generalised assignment; on the benchmark's tight shapes
it closes most of the LP gap. The same knapsack choices, repaired, are a primal heuristic.
"""

from __future__ import annotations

import math
import time

import numpy as np

from scheduler.matching.feasibility import Feasibility
from scheduler.matching.limits import TOLERANCE, Limits

# Largest t of the rounding cuts carried into the relaxation (solver uses the same family).
_CUT_T = 6


def lagrangian_bound(
    feas: Feasibility,
    limits: Limits,
    pairs: np.ndarray,
    *,
    used_minutes: np.ndarray,
    used_cases: np.ndarray,
    lower: int,
    seconds: float,
    max_iterations: int = 600,
    need_prices: bool = False,
) -> int | tuple[int, np.ndarray]:
    """Best Lagrangian bound found for the component `pairs` (sorted by need), as an int.

    `used_minutes` / `used_cases` are what needs outside the component already take at each
    provider; `lower` is a known solution value (it steers the step length).
    """
    stop = time.monotonic() + seconds
    pn = feas.pair_need[pairs]
    pp = feas.pair_provider[pairs]
    score = feas.pair_score[pairs].astype(np.float64)
    load_minutes = np.array([float(n.load) for n in feas.instance.needs], dtype=np.float64)
    a = load_minutes[pn]
    provs, local = np.unique(pp, return_inverse=True)
    tol = float(TOLERANCE)
    cap = (
        np.array([float(feas.instance.providers[p].capacity) for p in provs.tolist()])
        + tol
        - used_minutes[provs]
    )
    cases = (limits.max_cases[provs] - used_cases[provs]).astype(np.float64)
    cap = np.maximum(cap, 0.0)
    cases = np.maximum(cases, 0.0)
    starts = np.r_[0, np.nonzero(np.diff(pn))[0] + 1]
    seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, pn.size]))
    index = np.arange(pn.size)

    # Rounding-cut rows: for t = 2..T, sum (ceil(t * load / C) - 1) x <= t - 1, in each
    # provider's exact integer units. Rows that cannot bind are masked out.
    cap_units = limits.capacity[provs] - used_units(limits, used_minutes, provs)
    load_units = limits.pair_load[pairs]
    ts = np.arange(2, _CUT_T + 1)
    usable = cap_units[local] > 0
    weights = np.where(
        usable[:, None],
        -((-ts[None, :] * load_units[:, None]) // np.maximum(cap_units[local], 1)[:, None]) - 1,
        0,
    ).astype(np.float64)
    rhs = (ts - 1).astype(np.float64)
    row_total = _per_provider(local, weights, provs.size)
    live = row_total > rhs[None, :]

    lam = np.zeros(provs.size)
    mu = np.zeros(provs.size)
    nu = np.zeros((provs.size, ts.size))
    best = math.inf
    best_top = np.zeros(starts.size)
    theta, stall = 1.0, 0
    # Phase 1 moves only λ and μ (cheap: no cut rows); phase 2 adds the cut multipliers,
    # starting from phase 1's, so it can only improve on the plain LP-strength bound.
    with_cuts = False
    half_time = time.monotonic() + seconds / 2
    for _ in range(2 * max_iterations):
        reduced = score - lam[local] * a - mu[local]
        if with_cuts:
            reduced -= np.einsum("ij,ij->i", weights, nu[local])
        top = np.maximum.reduceat(reduced, starts)
        value = float(lam @ cap + mu @ cases + (nu * rhs[None, :]).sum() + np.maximum(top, 0.0).sum())
        if value < best - 1e-9:
            best, best_top, stall = value, top, 0
        else:
            stall += 1
            if stall >= 10:
                theta, stall = theta / 2, 0
        if time.monotonic() > stop or best <= lower:
            break
        if not with_cuts and (theta < 1e-3 or time.monotonic() > half_time):
            with_cuts, theta, stall = True, 0.5, 0
        elif with_cuts and theta < 1e-4:
            break
        # Subgradient: what the relaxed choice (each need on its best reduced pair) uses.
        take = (reduced >= top[seg]) & (top[seg] > 0)
        first = np.minimum.reduceat(np.where(take, index, pn.size), starts)
        chosen = first[first < pn.size]
        g_cap = cap - np.bincount(local[chosen], weights=a[chosen], minlength=provs.size)
        g_cases = cases - np.bincount(local[chosen], minlength=provs.size)
        if with_cuts:
            used_w = _per_provider(local[chosen], weights[chosen], provs.size)
            g_cut = np.where(live, rhs[None, :] - used_w, 0.0)
        else:
            g_cut = np.zeros_like(nu)
        gap = max(value - lower, 1.0)
        # Minutes, cases and cut rows live on different scales, so each block gets its own
        # Polyak step; any non-negative multipliers still give a valid bound.
        for block, g in (("cap", g_cap), ("cases", g_cases), ("cut", g_cut)):
            norm = float((g * g).sum())
            if norm <= 0:
                continue
            step = theta * gap / norm / 3
            if block == "cap":
                lam = np.maximum(0.0, lam - step * g)
            elif block == "cases":
                mu = np.maximum(0.0, mu - step * g)
            else:
                nu = np.maximum(0.0, nu - step * g)
    # Floating-point slack: the true L at these multipliers may exceed the computed one by
    # rounding; pad before flooring so the reported integer is still a valid bound.
    result = math.floor(best + 1e-7 * (1.0 + abs(best)) + 1e-6)
    if need_prices:
        # Each need's best reduced profit at the best multipliers: as prices u_n for
        # knapsack_bound they give L_knapsack(u) <= this bound (see there).
        return result, np.maximum(best_top, 0.0)
    return result


def used_units(limits: Limits, used_minutes: np.ndarray, provs: np.ndarray) -> np.ndarray:
    """Minutes already taken at `provs`, back in each provider's integer units (rounded down,
    which leaves at least as much room as the truth: the cuts stay valid)."""
    scale = np.array([limits.scale[p] for p in provs.tolist()], dtype=np.float64)
    return np.floor(used_minutes[provs] * scale + 1e-9).astype(np.int64)


def _per_provider(local: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Column-wise sums of `weights` rows grouped by provider (np.add.at is much slower)."""
    return np.stack(
        [np.bincount(local, weights=weights[:, j], minlength=n) for j in range(weights.shape[1])], axis=1
    )


# Grid of the knapsack relaxation: each provider's remaining minutes are cut into this many
# units and every load is rounded DOWN to whole units, so any plan that fits the true row
# also fits the coarse one (sum floor(G*a/C) <= floor(G*sum a/C) <= G): a relaxation.
_KNAPSACK_GRID = 96
# Subgradient steps: Polyak length theta * (L - best plan) / |d|^2, theta halved after
# _STALL iterations without a better L. _DEFLECT > 0 keeps that part of the previous
# direction (Camerini-Fratta-Maffioli); on regional tight 0.5 ended ~0.01% lower after 100
# iterations, within noise, so the plain projected subgradient (0) is what was benchmarked.
# The best plan is far below the optimum early on (the repaired plans are ~2.5% under the
# bound), so steps overshoot and L zig-zags for a while before it falls again: halving
# after 5 idle steps drove theta under 1e-4 within ~65 iterations on the national tight
# component, and its bound stopped at 18.11M after 7 s; halving after 25 keeps it falling
# (18.05M at 30 s, 18.03M at 120 s), 0.25-0.3 points of gap on that benchmark.
_THETA = 0.5
_STALL = 25
_DEFLECT = 0.0


def knapsack_bound(
    feas: Feasibility,
    limits: Limits,
    pairs: np.ndarray,
    *,
    used_load: np.ndarray,
    used_cases: np.ndarray,
    lower: int,
    seconds: float,
    start: np.ndarray | None = None,
    grid: int = _KNAPSACK_GRID,
    max_iterations: int = 400,
    plan_every: int = 0,
    with_fixing: bool = False,
) -> tuple:
    """Lagrangian bound relaxing "each need at most once": one 0/1 knapsack per provider.

    For multipliers u_n >= 0 on the needs of the component `pairs` (sorted by need),

        L(u) = sum_n u_n + sum_p max { sum_{n in S} (score_np - u_n) :
                                       S fits p's minutes (on the coarse grid) and |S| <= cases }

    is an upper bound on the component's optimum (weak duality; dropping separations and
    rounding loads down only relax further). Each knapsack is solved exactly by dynamic
    programming over (cases, grid units), vectorised across providers. Its dual is at least
    as strong as the LP relaxation (the convex hull of each provider's knapsack instead of
    its linear row). `start` (per need of the component, in need order) seeds u, typically
    the reduced profits from the LP-strength bound above, which already makes L(start) no
    larger than that bound. `used_load` is in each provider's integer units.

    With `plan_every` > 0 it is also a Lagrangian heuristic: every that many iterations the
    knapsacks' choices are repaired into a feasible plan (_repair). Returns (best bound as
    an int, multipliers that reached it, best plan as a provider per need of the component
    in need order or None, its value, and a mask over `pairs` of those any knapsack took).
    With `with_fixing`, a sixth item: a mask over `pairs`, False where the pair provably
    cannot be part of any plan worth more than max(lower, best plan value).
    """
    stop = time.monotonic() + seconds
    pn_global = feas.pair_need[pairs]
    needs, pn = np.unique(pn_global, return_inverse=True)
    pp = feas.pair_provider[pairs]
    provs, local = np.unique(pp, return_inverse=True)
    score = feas.pair_score[pairs].astype(np.float64)
    load = limits.pair_load[pairs].astype(np.int64)
    cap = (limits.capacity[provs] - used_load[provs]).astype(np.int64)
    cases = np.maximum(limits.max_cases[provs] - used_cases[provs], 0).astype(np.int64)
    usable = (cap[local] >= load) & (cases[local] > 0)
    # Loads in grid units, rounded down. Pairs that cannot fit at all never enter a knapsack.
    weight = np.where(usable, (load * grid) // np.maximum(cap[local], 1), grid + 1)
    # Within one provider, needs with the same exact load are interchangeable but for their
    # profit: at most min(cases, cap // load) of them fit, so only that many best ones matter.
    per_class = np.where(usable, np.minimum(cases[local], cap[local] // np.maximum(load, 1)), 0)
    per_class = np.where(load == 0, cases[local], per_class)
    # Count dimension: no provider can take more than its cases or than all its classes allow.
    group_key = local.astype(np.int64) * (int(load.max(initial=0)) + 1) + load
    order0 = np.lexsort((load, local))
    gk = group_key[order0]
    first_of_group = np.r_[True, gk[1:] != gk[:-1]]
    class_caps = np.bincount(
        local[order0][first_of_group], weights=per_class[order0][first_of_group], minlength=provs.size
    )
    count_cap = np.minimum(cases, class_caps.astype(np.int64))
    n_count = int(count_cap.max(initial=0))

    u = np.zeros(needs.size) if start is None else np.maximum(np.asarray(start, dtype=np.float64), 0.0)
    best, best_u = math.inf, u.copy()
    theta, stall = _THETA, 0
    direction = np.zeros(needs.size)
    cols = np.arange(grid + 1)
    plan, plan_value = None, -1
    # Pairs some knapsack took at some point: the "core" where good plans live.
    core = np.zeros(pairs.size, dtype=bool)
    repair = _Repair(feas, limits, needs, pn, local, provs, cap, cases, load, pairs) if plan_every else None
    for iteration in range(max_iterations):
        reduced = score - u[pn]
        value, chosen = _knapsacks(
            reduced, usable, group_key, per_class, local, weight, count_cap, provs.size, n_count, grid, cols
        )
        total = float(u.sum()) + value
        core[chosen] = True
        if total < best - 1e-9:
            best, best_u, stall = total, u.copy(), 0
        else:
            stall += 1
            if stall >= _STALL:
                theta, stall = theta / 2, 0
        done = time.monotonic() > stop or best <= lower or theta < 1e-4
        if repair is not None and (iteration % plan_every == 0 or done):
            candidate, candidate_value = repair(chosen, score - u[pn])
            if candidate_value > plan_value:
                plan, plan_value = candidate, candidate_value
                lower = max(lower, plan_value)
        if done:
            break
        # Subgradient: 1 - (how many knapsacks took the need).
        g = 1.0 - np.bincount(pn[chosen], minlength=needs.size)
        g = np.where((u <= 0) & (g > 0), 0.0, g)  # projected: u cannot go below zero
        if float(g @ g) <= 0:
            break  # the relaxed choice is feasible and complementary: L is optimal
        # Optionally deflected (see _DEFLECT) to damp the zig-zag between knapsack solutions.
        direction = g + _DEFLECT * direction
        norm = float(direction @ direction)
        step = theta * max(total - lower, 1.0) / norm
        u = np.maximum(0.0, u - step * direction)
    bound = math.floor(best + 1e-7 * (1.0 + abs(best)) + 1e-6)
    if not with_fixing:
        return bound, best_u, plan, plan_value, core
    # Lagrangian variable fixing: L(best_u) with one pair forced in bounds every plan that
    # uses that pair; pairs whose forced bound cannot beat `lower` + 1 (scores are integers)
    # are useless for finding a better plan.
    reduced = score - best_u[pn]
    value, _, delta = _knapsacks(
        reduced,
        usable,
        group_key,
        per_class,
        local,
        weight,
        count_cap,
        provs.size,
        n_count,
        grid,
        cols,
        forced=True,
    )
    total = float(best_u.sum()) + value
    pad = 1e-7 * (1.0 + abs(total)) + 1e-6
    keep = total + delta + pad >= max(lower, plan_value) + 1
    return bound, best_u, plan, plan_value, core, keep


def _knapsacks(
    reduced: np.ndarray,
    usable: np.ndarray,
    group_key: np.ndarray,
    per_class: np.ndarray,
    local: np.ndarray,
    weight: np.ndarray,
    count_cap: np.ndarray,
    n_provs: int,
    n_count: int,
    grid: int,
    cols: np.ndarray,
    forced: bool = False,
) -> tuple:
    """Solve every provider's knapsack at these profits; (sum of optima, pair positions taken).

    With `forced`, also per pair an upper bound on how its provider's optimum changes when
    the pair is forced in: reduced profit + best over the other items with the pair's grid
    weight and one case removed - the provider's optimum (-inf for pairs that cannot fit).
    """
    cand = np.nonzero(usable & (reduced > 0))[0]
    if cand.size == 0:
        if forced:
            return 0.0, cand, np.where(usable & (count_cap[local] > 0), reduced, -np.inf)
        return 0.0, cand
    # Keep only the best min(cases, cap // load) of each (provider, exact load) class.
    o = cand[np.lexsort((-reduced[cand], group_key[cand]))]
    gk = group_key[o]
    starts = np.r_[0, np.nonzero(gk[1:] != gk[:-1])[0] + 1]
    rank = np.arange(o.size) - np.repeat(starts, np.diff(np.r_[starts, o.size]))
    items = o[rank < per_class[o]]
    # Items grouped by provider, providers with most items first so that item position j is
    # present for a prefix of the rows.
    item_count = np.bincount(local[items], minlength=n_provs)
    prov_order = np.argsort(-item_count, kind="stable")
    row_of = np.empty(n_provs, dtype=np.int64)
    row_of[prov_order] = np.arange(n_provs)
    items = items[np.lexsort((-reduced[items], row_of[local[items]]))]
    counts = item_count[prov_order]
    rows_total = int(np.count_nonzero(counts))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    length = int(counts[0])
    width = grid + 1
    # Each row is stored after `width` cells of -inf, so that shifting a row right by its item's
    # weight is a window read (contiguous per row) instead of an element-wise gather.
    padded = np.full((rows_total, n_count + 1, 2 * width), -np.inf)
    padded[:, :, width:] = 0.0
    dp = padded[:, :, width:]
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=2)
    takes = []
    item_at = []
    for j in range(length):
        rows = int(np.count_nonzero(counts > j))
        it = items[first[:rows] + j]
        shifted = windows[np.arange(rows), :-1, width - weight[it]]
        shifted += reduced[it][:, None, None]
        take = shifted > dp[:rows, 1:, :]
        np.copyto(dp[:rows, 1:, :], shifted, where=take)
        takes.append(take)
        item_at.append(it)
    row_caps = count_cap[prov_order[:rows_total]]
    r = np.arange(rows_total)
    value = float(dp[r, row_caps, grid].sum())
    # Walk back through the decisions to recover each provider's chosen set.
    c = row_caps.copy()
    wleft = np.full(rows_total, grid, dtype=np.int64)
    chosen = []
    for j in range(length - 1, -1, -1):
        take, it = takes[j], item_at[j]
        rows = take.shape[0]
        cj, wj = c[:rows], wleft[:rows]
        hit = (cj > 0) & take[np.arange(rows), np.maximum(cj - 1, 0), wj]
        if hit.any():
            chosen.append(it[hit])
            c[:rows] -= hit
            wleft[:rows] -= np.where(hit, weight[it], 0)
    out = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    if not forced:
        return value, out
    # Providers without items have an all-zero table; forcing a pair there gains its profit.
    row = row_of[local]
    has_row = row < rows_total
    rr = np.minimum(row, max(rows_total - 1, 0))
    cc = count_cap[local]
    own = np.where(has_row, dp[rr, np.minimum(cc, n_count), grid], 0.0)
    rest_w = np.clip(grid - weight, 0, grid)
    rest = np.where(has_row, dp[rr, np.clip(cc - 1, 0, n_count), rest_w], 0.0)
    delta = np.where(usable & (cc > 0), reduced + rest - own, -np.inf)
    return value, out, delta


class _Repair:
    """Turn the knapsacks' choices into a feasible plan (the Lagrangian heuristic).

    Pairs the knapsacks took come first, best score first (a need taken twice keeps its best
    provider); then every other pair by reduced profit. Each pair is accepted if its need is
    still open and the provider still has the exact minutes and a case left and serves no
    need it must be kept apart from. Greedy on Lagrangian profits rather than on priority
    alone is what makes it pack minutes well.
    """

    def __init__(self, feas, limits, needs, pn, local, provs, cap, cases, load, pairs):
        self.pn, self.local, self.load = pn.tolist(), local.tolist(), load.tolist()
        self.score = feas.pair_score[pairs]
        self.score_list = self.score.tolist()
        self.cap, self.cases = cap.tolist(), cases.tolist()
        self.provs = provs
        self.n_needs = needs.size
        position = {n: i for i, n in enumerate(needs.tolist())}
        self.partners = {}
        for n, others in limits.partners.items():
            i = position.get(n)
            if i is not None:
                mine = [position[m] for m in others if m in position]
                if mine:
                    self.partners[i] = mine

    def __call__(self, chosen: np.ndarray, reduced: np.ndarray) -> tuple[np.ndarray, int]:
        first = chosen[np.argsort(-self.score[chosen], kind="stable")]
        rest = np.argsort(-reduced, kind="stable")
        order = np.concatenate([first, rest]).tolist()
        pn, local, load, score = self.pn, self.local, self.load, self.score_list
        cap, cases, partners = list(self.cap), list(self.cases), self.partners
        prov = [-1] * self.n_needs
        value = 0
        for k in order:
            n = pn[k]
            if prov[n] >= 0:
                continue
            p = local[k]
            if cases[p] <= 0 or load[k] > cap[p] or score[k] <= 0:
                continue
            if n in partners and any(prov[m] == p for m in partners[n]):
                continue
            prov[n] = p
            cap[p] -= load[k]
            cases[p] -= 1
            value += score[k]
        out = np.array(prov, dtype=np.int64)
        return np.where(out >= 0, self.provs[np.maximum(out, 0)], -1), value
