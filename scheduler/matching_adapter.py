"""The service's door to the pure matching core: solve a document, check one pair in words."""

from __future__ import annotations

import time

from scheduler.matching import parse_instance
from scheduler.matching.engine import solve_instance
from scheduler.matching.feasibility import RULES, build_tables, need_rule_masks

FORMAT = "support-matching/1"


def solve_document(instance: dict, *, time_limit: float, workers: int = 2) -> dict:
    """Solve a `support-matching/1` document; everything is done within `time_limit` seconds."""
    parsed = parse_instance(instance)
    return solve_instance(parsed, end=time.monotonic() + time_limit, workers=workers)


def check_pair(need_doc: dict, provider_doc: dict) -> list[str]:
    """The hard rules that `provider_doc` breaks for `need_doc`, in words a consultant understands."""
    need = dict(need_doc, separate_from=[], current_provider=None)
    instance = parse_instance({"format": FORMAT, "name": "pair-check", "providers": [provider_doc], "needs": [need]})
    masks, distances = need_rule_masks(instance, build_tables(instance), 0)
    broken = []
    for rule, ok in zip(RULES, masks, strict=True):
        if not bool(ok[0]):
            broken.append(_rule_text(rule, need, provider_doc, int(distances[0])))
    load = need["minutes_per_session"] * need["sessions_per_week"]
    if load > provider_doc["capacity_minutes_per_week"] + 1e-6:
        broken.append(
            f"not enough capacity left ({provider_doc['capacity_minutes_per_week']} min/week free, "
            f"the need takes {load:g} min/week)"
        )
    if provider_doc["max_cases"] < 1:
        broken.append("the provider has reached its maximum number of cases")
    return broken


def _rule_text(rule: str, need: dict, provider: dict, distance: int) -> str:
    if rule == "service":
        return f"does not offer {need['service']}"
    if rule == "competences":
        missing = sorted(set(need["required_competences"]) - set(provider["competences"]))
        return f"lacks the required competence(s) {', '.join(missing)}"
    if rule == "language":
        return f"does not speak {need['language']}"
    if rule == "excluded":
        return "is excluded for this need (an earlier rejection or the consultant's decision)"
    if rule == "reach":
        return f"is {distance} km away, beyond their {provider['max_travel_km']} km travel range, and remote is not possible"
    return "has no weekly time that overlaps the household's availability for a whole session"
