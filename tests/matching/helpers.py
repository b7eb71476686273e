"""Small hand-made instances for the matching tests: one need and one provider that match,
which each test then bends in exactly one way."""

from __future__ import annotations

import copy
import time
from typing import Any

from scheduler.matching.engine import solve_instance
from scheduler.matching.instance import parse_instance

AARHUS = {"lat": 56.1572, "lon": 10.2107}
# About 9 km west of Aarhus centre.
NEAR_AARHUS = {"lat": 56.16, "lon": 10.06}


def provider(pid: str = "P1", **changes: Any) -> dict[str, Any]:
    doc = {
        "id": pid,
        "services": ["supervision", "psychologist"],
        "competences": ["trauma", "attachment"],
        "languages": ["da", "en"],
        "location": dict(AARHUS),
        "max_travel_km": 40,
        "offers_remote": False,
        "capacity_minutes_per_week": 1500,
        "max_cases": 14,
        "availability": [{"day": "tue", "from": "16:00", "to": "20:00"}],
    }
    doc.update(copy.deepcopy(changes))
    return doc


def need(nid: str = "N1", **changes: Any) -> dict[str, Any]:
    doc = {
        "id": nid,
        "service": "supervision",
        "household": "H1",
        "placement": "PL1",
        "location": dict(NEAR_AARHUS),
        "availability": [{"day": "tue", "from": "17:00", "to": "20:00"}],
        "minutes_per_session": 120,
        "sessions_per_week": 0.25,
        "required_competences": ["trauma"],
        "preferred_competences": [],
        "language": "da",
        "remote_ok": False,
        "priority": 3,
        "current_provider": None,
        "excluded_providers": [],
        "separate_from": [],
    }
    doc.update(copy.deepcopy(changes))
    return doc


def document(providers: list[dict], needs: list[dict], name: str = "test") -> dict[str, Any]:
    return {"format": "support-matching/1", "name": name, "providers": providers, "needs": needs}


def solve(doc: dict[str, Any], seconds: float = 10.0) -> dict[str, Any]:
    return solve_instance(parse_instance(doc), end=time.monotonic() + seconds)


def assigned(result: dict[str, Any]) -> dict[str, str]:
    return {a["need"]: a["provider"] for a in result["assignments"]}


def reasons(result: dict[str, Any], nid: str) -> list[str]:
    for u in result["unassigned"]:
        if u["need"] == nid:
            return u["reasons"]
    raise AssertionError(f"{nid} is not unassigned")


def details(result: dict[str, Any], nid: str) -> list[dict[str, Any]]:
    """The structured `details` of an unassigned need, one per reason line."""
    for u in result["unassigned"]:
        if u["need"] == nid:
            assert len(u["details"]) == len(u["reasons"])
            return u["details"]
    raise AssertionError(f"{nid} is not unassigned")
