"""The pure matching core: who should serve which open support need.

Contract: /work/shared/specs/matching-instance.md (`support-matching/1` in,
`support-matching-result/1` out). Plain Python plus numpy and OR-Tools, no Django, so the
same code runs in the management command, the benchmark and the tests.

Pipeline, one module each:

    instance.parse_instance(dict)     -> Instance        (validation, all problems at once)
    feasibility.compute(instance)     -> Feasibility     (six hard rules, scores, per-rule counts)
    solver.solve(feas, ...)           -> Solution        (CP-SAT per connected component)
    explain.*                         -> score terms and reasons for unassigned needs
    result.build_result / check_result                   (the result document and its verifier)
"""

from scheduler.matching.instance import Instance, InstanceError, Need, Provider, parse_instance

__all__ = ["Instance", "InstanceError", "Need", "Provider", "parse_instance"]
