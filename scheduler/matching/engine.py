"""One call from a parsed instance to a result document, finished by a given moment."""

from __future__ import annotations

import time
from typing import Any

from scheduler.matching.feasibility import compute
from scheduler.matching.instance import Instance
from scheduler.matching.limits import compute_limits
from scheduler.matching.result import build_result
from scheduler.matching.solver import solve


def reserve_seconds(n_needs: int, prep_seconds: float) -> float:
    """Time to keep back after the search for explanations, JSON, writing and process exit.

    Explanations and the document cost about 0.1-0.25 ms per need on an idle machine; on a
    busy one everything slows alike, so the reserve also scales with how long feasibility
    (similar work: numpy over the same pairs) took. 0.4 s covers CP-SAT's stop latency and
    interpreter exit.
    """
    return 0.4 + max(4e-4 * n_needs, 2.5 * prep_seconds)


def solve_instance(instance: Instance, *, end: float, workers: int = 2, seed: int = 0) -> dict[str, Any]:
    """Solve and explain; everything should be done by `end` (a time.monotonic() value).

    `solve_seconds` in the result covers feasibility, search and explanations.
    """
    started = time.monotonic()
    feas = compute(instance)
    limits = compute_limits(feas)
    deadline = end - reserve_seconds(len(instance.needs), time.monotonic() - started)
    solution = solve(feas, limits, deadline=deadline, workers=workers, seed=seed)
    result = build_result(feas, limits, solution, solve_seconds=0.0)
    result["solve_seconds"] = round(time.monotonic() - started, 3)
    return result
