"""The service's door to the pure matching core: solve a document, check one pair."""

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


def check_pair(need_doc: dict, provider_doc: dict) -> list[dict]:
    """The hard rules that `provider_doc` breaks for `need_doc`, as `{"code", "params"}` details.

    scheduler.reason_text says them in the reader's language.
    """
    need = dict(need_doc, separate_from=[], current_provider=None)
    instance = parse_instance({"format": FORMAT, "name": "pair-check", "providers": [provider_doc], "needs": [need]})
    masks, distances = need_rule_masks(instance, build_tables(instance), 0)
    broken = []
    for rule, ok in zip(RULES, masks, strict=True):
        if not bool(ok[0]):
            broken.append(_rule_detail(rule, need, provider_doc, int(distances[0])))
    load = need["minutes_per_session"] * need["sessions_per_week"]
    if load > provider_doc["capacity_minutes_per_week"] + 1e-6:
        broken.append(
            _detail("pair_capacity", free=provider_doc["capacity_minutes_per_week"], load=round(float(load), 2))
        )
    if provider_doc["max_cases"] < 1:
        broken.append(_detail("pair_max_cases"))
    return broken


def _detail(code: str, **params) -> dict:
    return {"code": code, "params": params}


def _rule_detail(rule: str, need: dict, provider: dict, distance: int) -> dict:
    if rule == "service":
        return _detail("pair_service", service=need["service"])
    if rule == "competences":
        missing = sorted(set(need["required_competences"]) - set(provider["competences"]))
        return _detail("pair_competences", competences=missing)
    if rule == "language":
        return _detail("pair_language", language=need["language"])
    if rule == "excluded":
        return _detail("pair_excluded")
    if rule == "reach":
        return _detail("pair_reach", km=distance, range_km=provider["max_travel_km"])
    return _detail("pair_time")
