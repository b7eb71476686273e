"""Provider limits in exact integers: minutes (with fractional loads), cases, and separations.

Loads may be fractional (120 minutes × 0.25 sessions a week, 50 × 0.333), and CP-SAT only takes
integer coefficients. Rounding them would make the solver and the contract disagree near a
full provider, so each provider gets its own scale D: the least common multiple of the
denominators of its capacity and of its candidates' loads, taken as the exact decimals the
document wrote (instance.exact). Then

    sum(load) <= capacity + 1e-6   <=>   sum(D * load) <= floor(D * capacity + D / 10**6)

holds exactly, tolerance included, with every D * load an integer.

Only if some provider's numbers would need coefficients beyond 2**40 (decimals with a dozen
digits) do we fall back, for that provider only, to a fixed scale with loads rounded up and
capacity rounded down: never over capacity, though in theory it may refuse an assignment
that fits within the last millionth of a minute. `Limits.exact` tells whether that happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from scheduler.matching.feasibility import Feasibility

TOLERANCE = Fraction(1, 10**6)
_MAX_COEFFICIENT = 2**40
_FALLBACK_SCALE = 2**20


@dataclass(frozen=True, eq=False)
class Limits:
    pair_load: np.ndarray  # int64, the pair's need load in its provider's integer unit
    capacity: np.ndarray  # int64 per provider, same unit, tolerance folded in
    scale: list[int]  # per provider D (or the fallback scale)
    max_cases: np.ndarray  # int64 per provider
    exact: bool  # False if some provider needed the rounded fallback
    partners: dict[int, tuple[int, ...]] = field(repr=False)  # need -> needs kept apart from it
    _feas: Feasibility = field(repr=False)

    def pair_of(self, need: int, provider: int) -> int:
        """Index of the pair (need, provider) in the Feasibility arrays; it must exist."""
        sl = self._feas.candidates(need)
        k = sl.start + int(np.searchsorted(self._feas.pair_provider[sl], provider))
        if k >= sl.stop or self._feas.pair_provider[k] != provider:
            raise KeyError((need, provider))
        return k

    def fits_alone(self) -> np.ndarray:
        """Per pair: could this need go to this provider if nobody else did?"""
        pp = self._feas.pair_provider
        return (self.pair_load <= self.capacity[pp]) & (self.max_cases[pp] >= 1)


def compute_limits(feas: Feasibility) -> Limits:
    inst = feas.instance
    loads = [n.load for n in inst.needs]
    caps = [p.capacity for p in inst.providers]
    pn, pp = feas.pair_need, feas.pair_provider
    n_providers = len(caps)

    # Distinct load denominators (few: 1, 2, 4, 20, 50, ...) and which providers see which.
    den_values = sorted({f.denominator for f in loads})
    den_id = {d: i for i, d in enumerate(den_values)}
    need_den_id = np.array([den_id[f.denominator] for f in loads], dtype=np.int64)
    seen = (
        np.unique(pp.astype(np.int64) * len(den_values) + need_den_id[pn])
        if pn.size
        else np.zeros(0, np.int64)
    )
    dens_by_provider: dict[int, list[int]] = {}
    for code in seen.tolist():
        dens_by_provider.setdefault(code // len(den_values), []).append(den_values[code % len(den_values)])

    # Largest candidate load per provider, roughly, to bound the coefficients.
    approx_load = np.array([float(f) for f in loads], dtype=np.float64)
    max_load = np.zeros(n_providers, dtype=np.float64)
    if pn.size:
        np.maximum.at(max_load, pp, approx_load[pn])

    scale = [0] * n_providers
    exact_for = np.ones(n_providers, dtype=bool)
    capacity = np.zeros(n_providers, dtype=np.int64)
    for p, cap in enumerate(caps):
        d = math.lcm(cap.denominator, *dens_by_provider.get(p, ()))
        if d * (max(float(cap), max_load[p]) + 2) * 1.01 > _MAX_COEFFICIENT:
            d = _FALLBACK_SCALE
            exact_for[p] = False
        scale[p] = d
        capacity[p] = math.floor(d * (cap + TOLERANCE))

    # Exact providers: D * load = numerator * (D / denominator), all within int64 by the
    # guard above (a need whose numbers are too big for int64 forces its providers into the
    # fallback, so the placeholder 0/1 below is never used for them).
    small = [f.denominator <= _MAX_COEFFICIENT and f.numerator <= _MAX_COEFFICIENT for f in loads]
    num = np.array([f.numerator if ok else 0 for f, ok in zip(loads, small, strict=True)], dtype=np.int64)
    den = np.array([f.denominator if ok else 1 for f, ok in zip(loads, small, strict=True)], dtype=np.int64)
    scale_arr = np.array([d if ok else 1 for d, ok in zip(scale, exact_for, strict=True)], dtype=np.int64)
    pair_load = num[pn] * (scale_arr[pp] // den[pn])
    # Fallback providers: loads rounded up, so the integer row is never looser than the truth.
    for k in np.nonzero(~exact_for[pp])[0].tolist():
        pair_load[k] = math.ceil(loads[pn[k]] * _FALLBACK_SCALE)

    partners: dict[int, list[int]] = {}
    for a, b in inst.separations:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    return Limits(
        pair_load=pair_load.astype(np.int64),
        capacity=capacity,
        scale=scale,
        max_cases=np.array([p.max_cases for p in inst.providers], dtype=np.int64),
        exact=bool(exact_for.all()),
        partners={k: tuple(v) for k, v in partners.items()},
        _feas=feas,
    )
