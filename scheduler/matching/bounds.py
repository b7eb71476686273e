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
) -> int:
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
            best, stall = value, 0
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
    return math.floor(best + 1e-7 * (1.0 + abs(best)) + 1e-6)


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
