"""A simple greedy rule: the baseline the optimiser is compared with, and its starting hint.

Needs are taken by priority (highest first, then in document order); each gets its
best-scoring candidate that still has room (minutes and cases) and does not already serve a
need it must be kept apart from. This is roughly what a consultant does by hand, and it is
how far a matching gets without an optimiser.
"""

from __future__ import annotations

import numpy as np

from scheduler.matching.feasibility import Feasibility
from scheduler.matching.limits import Limits


def greedy(
    feas: Feasibility,
    limits: Limits,
    needs: np.ndarray | None = None,
    provider_of: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Assign `needs` (default: all) greedily; returns provider index per need, -1 = none.

    `provider_of`, when given, holds assignments already made (their minutes and cases count
    as used); it is copied, not changed. `active`, when given, limits the pairs considered.
    """
    inst = feas.instance
    n_needs = len(inst.needs)
    out = np.full(n_needs, -1, dtype=np.int64) if provider_of is None else provider_of.copy()
    used_load = np.zeros(len(inst.providers), dtype=np.int64).tolist()
    used_cases = [0] * len(inst.providers)
    for n in np.nonzero(out >= 0)[0]:
        pair = limits.pair_of(int(n), int(out[n]))
        used_load[out[n]] += int(limits.pair_load[pair])
        used_cases[out[n]] += 1

    if needs is None:
        needs = np.arange(n_needs)
    priority = np.array([inst.needs[i].priority for i in needs], dtype=np.int64)
    order = needs[np.lexsort((needs, -priority))]

    scores, provs, loads = feas.pair_score.tolist(), feas.pair_provider.tolist(), limits.pair_load.tolist()
    cap, max_cases = limits.capacity.tolist(), limits.max_cases.tolist()
    start = feas.need_start.tolist()
    partners = limits.partners
    allowed = active.tolist() if active is not None else None
    for n in order.tolist():
        if out[n] >= 0:
            continue
        best, best_score = -1, 0  # only strictly positive scores are worth taking
        for k in range(start[n], start[n + 1]):
            p, s = provs[k], scores[k]
            if s <= best_score or (allowed is not None and not allowed[k]):
                continue
            if used_cases[p] >= max_cases[p] or used_load[p] + loads[k] > cap[p]:
                continue
            if any(out[m] == p for m in partners.get(n, ())):
                continue
            best, best_score = k, s
        if best >= 0:
            p = provs[best]
            out[n] = p
            used_load[p] += loads[best]
            used_cases[p] += 1
    return out


def objective(feas: Feasibility, provider_of: np.ndarray) -> int:
    """The exact objective of an assignment (sum of its pair scores)."""
    total = 0
    for n in np.nonzero(provider_of >= 0)[0]:
        sl = feas.candidates(int(n))
        hit = np.nonzero(feas.pair_provider[sl] == provider_of[n])[0]
        total += int(feas.pair_score[sl][hit[0]])
    return total
