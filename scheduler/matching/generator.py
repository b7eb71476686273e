"""Seeded, fictional but realistic `support-matching/1` instances for tests and benchmarks.

Nothing here is real data: towns are real places (so distances and travel ranges behave like
they do in Denmark), everything else is drawn from a seeded random generator. The same
(n_needs, n_providers, shape, seed) always gives the same document.

Shapes:
- "loose": providers have about twice the minutes the needs ask for, generous travel ranges
  and broad competences; nearly everything can be placed and the question is who is best.
- "tight": demand exceeds capacity (about 1.4 minutes asked per minute offered), travel ranges
  are short and rarer competences (eating_disorder, sexual_abuse, self_harm, ...) are scarce,
  so the engine has to choose which needs to leave open. This is where an optimiser should
  beat a greedy rule.

Size decides the geography: up to 600 needs is one municipality around one town; larger
instances spread over the nearest towns to a seeded anchor (a region), and around 10,000 needs
cover the whole country.
"""

from __future__ import annotations

import math
import random
from typing import Any

from scheduler.geo import distance_km
from scheduler.matching.instance import DAYS, FORMAT

# (name, lat, lon, relative population). Real towns, rounded coordinates.
TOWNS: tuple[tuple[str, float, float, int], ...] = (
    ("København", 55.676, 12.568, 650),
    ("Aarhus", 56.163, 10.204, 290),
    ("Odense", 55.404, 10.402, 180),
    ("Aalborg", 57.049, 9.922, 120),
    ("Esbjerg", 55.477, 8.459, 72),
    ("Randers", 56.461, 10.036, 63),
    ("Kolding", 55.490, 9.472, 62),
    ("Horsens", 55.861, 9.850, 60),
    ("Vejle", 55.711, 9.536, 60),
    ("Roskilde", 55.642, 12.080, 52),
    ("Herning", 56.139, 8.974, 50),
    ("Silkeborg", 56.170, 9.545, 50),
    ("Helsingør", 56.036, 12.614, 47),
    ("Næstved", 55.230, 11.761, 44),
    ("Fredericia", 55.566, 9.753, 41),
    ("Viborg", 56.453, 9.402, 40),
    ("Køge", 55.458, 12.182, 38),
    ("Holstebro", 56.360, 8.616, 36),
    ("Slagelse", 55.403, 11.355, 34),
    ("Hillerød", 55.927, 12.311, 33),
    ("Holbæk", 55.717, 11.717, 29),
    ("Sønderborg", 54.914, 9.792, 28),
    ("Svendborg", 55.060, 10.607, 28),
    ("Hjørring", 57.464, 9.982, 25),
    ("Frederikshavn", 57.441, 10.537, 23),
    ("Ringsted", 55.443, 11.790, 23),
    ("Haderslev", 55.250, 9.488, 22),
    ("Skive", 56.567, 9.033, 21),
    ("Nyborg", 55.313, 10.790, 17),
    ("Kalundborg", 55.680, 11.089, 17),
    ("Aabenraa", 55.044, 9.417, 16),
    ("Nykøbing Falster", 54.769, 11.874, 16),
    ("Rønne", 55.101, 14.707, 14),
    ("Grenaa", 56.416, 10.878, 14),
    ("Varde", 55.621, 8.481, 14),
    ("Thisted", 56.955, 8.695, 13),
    ("Ringkøbing", 56.090, 8.244, 10),
    ("Tønder", 54.933, 8.867, 7),
    ("Lemvig", 56.549, 8.310, 7),
)

SERVICES = (
    "supervision",
    "respite",
    "home_guidance",
    "family_therapy",
    "substance_treatment",
    "psychologist",
)
COMPETENCES = (
    "trauma",
    "sexual_abuse",
    "adhd",
    "autism",
    "attachment",
    "self_harm",
    "school_refusal",
    "substance_abuse",
    "eating_disorder",
    "violence",
)
# How common each competence is among providers (loose, tight). Tight makes the rare ones rarer.
_COMPETENCE_WEIGHT = {
    "trauma": (10, 8),
    "attachment": (10, 8),
    "adhd": (7, 5),
    "autism": (6, 4),
    "violence": (6, 4),
    "school_refusal": (5, 3),
    "substance_abuse": (4, 3),
    "self_harm": (4, 1.5),
    "sexual_abuse": (3, 1),
    "eating_disorder": (2, 0.7),
}
_NEED_LANGUAGES = (("da", 880), ("en", 30), ("ar", 30), ("so", 20), ("tr", 20), ("uk", 15), ("pl", 5))
_PROVIDER_EXTRA_LANGUAGES = (
    ("en", 0.6),
    ("ar", 0.05),
    ("so", 0.02),
    ("tr", 0.03),
    ("uk", 0.03),
    ("pl", 0.02),
)

# Provider profiles: (main service, possible extra services, weight).
_PROFILES = (
    ("supervision", ("family_therapy", "psychologist"), 30),
    ("psychologist", ("family_therapy", "supervision"), 18),
    ("home_guidance", ("family_therapy",), 20),
    ("family_therapy", ("home_guidance", "supervision"), 12),
    ("respite", (), 12),
    ("substance_treatment", ("home_guidance", "psychologist"), 8),
)

# Per service: share of needs, session minutes, sessions per week, chance of remote_ok, and
# the competences a need of this kind typically requires.
_NEED_KINDS = {
    "supervision": (34, (90, 120), (0.25, 0.5, 1), 0.3, ("trauma", "attachment")),
    "home_guidance": (18, (90, 120, 180), (1, 2), 0.05, ("violence", "attachment", "adhd")),
    "family_therapy": (14, (60, 90), (0.5, 1), 0.2, ("violence", "attachment", "school_refusal")),
    "psychologist": (
        16,
        (50, 60),
        (0.333, 0.5, 1),
        0.4,
        ("trauma", "adhd", "autism", "self_harm", "eating_disorder", "sexual_abuse"),
    ),
    "respite": (12, (480,), (0.25, 0.5), 0.0, ()),
    "substance_treatment": (6, (60,), (1, 2), 0.15, ("substance_abuse",)),
}


def generate(n_needs: int, n_providers: int, shape: str = "loose", seed: int = 0) -> dict[str, Any]:
    """Return an instance document (a JSON-ready dict) in the `support-matching/1` format."""
    if shape not in ("loose", "tight"):
        raise ValueError(f"shape must be 'loose' or 'tight', got {shape!r}")
    rng = random.Random(f"{seed}:{shape}:{n_needs}:{n_providers}")
    tight = shape == "tight"
    towns = _pick_towns(rng, n_needs)

    providers = [_provider(rng, i, towns, tight) for i in range(n_providers)]
    needs = _needs(rng, n_needs, towns, tight)
    _calibrate_capacity(providers, needs, ratio=0.7 if tight else 2.0)
    _link_to_providers(rng, needs, providers)
    return {
        "format": FORMAT,
        "name": f"generated-{shape}-{n_needs}x{n_providers}-s{seed}",
        "providers": providers,
        "needs": needs,
    }


def _pick_towns(rng: random.Random, n_needs: int) -> list[tuple[str, float, float, int]]:
    anchor = rng.choices(TOWNS, weights=[t[3] for t in TOWNS])[0]
    count = 1 if n_needs <= 600 else min(len(TOWNS), max(2, round(n_needs / 180)))
    by_distance = sorted(TOWNS, key=lambda t: distance_km(anchor[1], anchor[2], t[1], t[2]))
    return by_distance[:count]


def _point(rng: random.Random, towns: list, spread_km: float = 9.0) -> dict[str, float]:
    town = rng.choices(towns, weights=[t[3] for t in towns])[0]
    # Gaussian scatter around the town centre: ~111 km per degree of latitude, fewer per
    # degree of longitude this far north.
    lat = town[1] + rng.gauss(0, spread_km) / 111.0
    lon = town[2] + rng.gauss(0, spread_km) / (111.0 * math.cos(math.radians(town[1])))
    return {"lat": round(lat, 5), "lon": round(lon, 5)}


def _weighted_sample(rng: random.Random, items: list[str], weights: list[float], k: int) -> list[str]:
    chosen: list[str] = []
    items, weights = list(items), list(weights)
    for _ in range(min(k, len(items))):
        pick = rng.choices(range(len(items)), weights=weights)[0]
        chosen.append(items.pop(pick))
        weights.pop(pick)
    return chosen


def _window(day: str, start: str, end: str) -> dict[str, str]:
    return {"day": day, "from": start, "to": end}


def _provider(rng: random.Random, i: int, towns: list, tight: bool) -> dict[str, Any]:
    main, extras, _ = rng.choices(_PROFILES, weights=[p[2] for p in _PROFILES])[0]
    services = [main] + [s for s in extras if rng.random() < 0.35]
    names = list(_COMPETENCE_WEIGHT)
    weights = [w[1] if tight else w[0] for w in _COMPETENCE_WEIGHT.values()]
    n_comp = rng.randint(1, 3) if tight else rng.randint(2, 5)
    competences = _weighted_sample(rng, names, weights, n_comp)
    if "substance_treatment" in services and "substance_abuse" not in competences:
        competences.append("substance_abuse")
    languages = ["da"] if rng.random() < 0.97 else []
    languages += [lang for lang, p in _PROVIDER_EXTRA_LANGUAGES if rng.random() < p]
    if not languages:
        languages = ["en"]

    if rng.random() < 0.12:
        availability = None  # "call me and we'll find a time"
    else:
        availability = []
        workdays = rng.sample(DAYS[:5], rng.randint(3, 5))
        for day in sorted(workdays, key=DAYS.index):
            availability.append(_window(day, rng.choice(("08:00", "09:00")), rng.choice(("15:00", "16:00"))))
        # Families are mostly reachable after work: some providers keep evening windows.
        if rng.random() < 0.55:
            for day in rng.sample(DAYS[:5], rng.randint(1, 3)):
                availability.append(_window(day, "16:00", rng.choice(("19:00", "20:00", "21:00"))))
        if rng.random() < 0.15:
            availability.append(_window("sat", "10:00", "14:00"))

    travel = rng.choice((10, 15, 20, 25, 30, 35)) if tight else rng.choice((20, 25, 30, 40, 50, 60))
    return {
        "id": f"P{i + 1}",
        "services": services,
        "competences": competences,
        "languages": languages,
        "location": _point(rng, towns),
        "max_travel_km": travel,
        "offers_remote": main != "respite" and rng.random() < 0.4,
        # Placeholder; _calibrate_capacity scales these to the shape's demand/supply ratio.
        "capacity_minutes_per_week": rng.randint(4, 30) * 60,
        "max_cases": rng.randint(4, 12) if tight else rng.randint(8, 25),
        "availability": availability,
    }


def _need_availability(rng: random.Random, service: str) -> list[dict[str, str]] | None:
    if service == "respite" or rng.random() < 0.15:
        return None  # respite weekends are placed later by the scheduler
    windows = []
    for _ in range(rng.randint(1, 3)):
        day = rng.choice(DAYS[:5]) if rng.random() < 0.9 else "sat"
        kind = rng.random()
        if kind < 0.45:
            windows.append(
                _window(day, rng.choice(("15:00", "16:00", "17:00")), rng.choice(("19:00", "20:00")))
            )
        elif kind < 0.85:
            windows.append(
                _window(day, rng.choice(("08:00", "09:00", "10:00")), rng.choice(("12:00", "14:00", "15:00")))
            )
        else:
            windows.append(_window(day, "13:00", "17:00"))
    return windows


def _needs(rng: random.Random, n_needs: int, towns: list, tight: bool) -> list[dict[str, Any]]:
    """Needs come in placements: a foster household, a birth household, and the child's needs.

    The foster family's supervisor should not also be the birth parents' home guide, so needs
    of the two households in one placement are often kept apart (`separate_from`, sometimes
    listed on one side only, sometimes both: the rule is symmetric either way).
    """
    needs: list[dict[str, Any]] = []
    kinds = list(_NEED_KINDS)
    kind_weights = [_NEED_KINDS[k][0] for k in kinds]
    placement = 0
    while len(needs) < n_needs:
        placement += 1
        foster_home = _point(rng, towns)
        birth_home = _point(rng, towns, spread_km=15.0)
        members: list[dict[str, Any]] = []
        for _ in range(rng.choices((1, 2, 3), weights=(45, 35, 20))[0]):
            if len(needs) + len(members) >= n_needs:
                break
            service = rng.choices(kinds, weights=kind_weights)[0]
            birth_side = (
                service in ("home_guidance", "family_therapy", "substance_treatment") and rng.random() < 0.7
            )
            members.append(
                _need(
                    rng,
                    len(needs) + len(members),
                    service,
                    placement,
                    birth_side,
                    birth_home if birth_side else foster_home,
                    tight,
                )
            )
        foster = [m for m in members if m["household"].startswith("HF")]
        birth = [m for m in members if m["household"].startswith("HB")]
        for f in foster:
            for b in birth:
                if rng.random() < 0.6:
                    f["separate_from"].append(b["id"])
                    if rng.random() < 0.3:
                        b["separate_from"].append(f["id"])
        needs.extend(members)
    return needs


def _need(
    rng: random.Random,
    i: int,
    service: str,
    placement: int,
    birth_side: bool,
    home: dict[str, float],
    tight: bool,
) -> dict[str, Any]:
    _, minutes, sessions, remote_p, typical = _NEED_KINDS[service]
    required: list[str] = []
    if typical:
        n_req = rng.choices((0, 1, 2), weights=(25, 55, 20) if tight else (55, 40, 5))[0]
        required = rng.sample(typical, min(n_req, len(typical)))
    if service == "substance_treatment":
        required = ["substance_abuse"]
    preferred = [c for c in rng.sample(COMPETENCES, rng.randint(0, 2)) if c not in required]
    language = rng.choices([lang for lang, _ in _NEED_LANGUAGES], weights=[w for _, w in _NEED_LANGUAGES])[0]
    return {
        "id": f"N{i + 1}",
        "service": service,
        "household": f"{'HB' if birth_side else 'HF'}{placement}",
        "placement": f"PL{placement}",
        "location": {
            "lat": round(home["lat"] + rng.gauss(0, 0.002), 5),
            "lon": round(home["lon"] + rng.gauss(0, 0.003), 5),
        },
        "availability": _need_availability(rng, service),
        "minutes_per_session": rng.choice(minutes),
        "sessions_per_week": rng.choice(sessions),
        "required_competences": required,
        "preferred_competences": preferred,
        "language": language,
        "remote_ok": rng.random() < remote_p,
        "priority": rng.choices((1, 2, 3, 4, 5), weights=(25, 30, 25, 13, 7))[0],
        "current_provider": None,
        "excluded_providers": [],
        "separate_from": [],
    }


def _calibrate_capacity(providers: list, needs: list, ratio: float) -> None:
    """Scale capacities so total capacity is `ratio` times total demand, in quarter hours.

    Capacity here is what a provider has left this week for new cases, which is why it is
    often only a few hours.
    """
    demand = sum(n["minutes_per_session"] * n["sessions_per_week"] for n in needs)
    supply = sum(p["capacity_minutes_per_week"] for p in providers) or 1
    factor = ratio * demand / supply
    for p in providers:
        p["capacity_minutes_per_week"] = max(60, round(p["capacity_minutes_per_week"] * factor / 15) * 15)


def _link_to_providers(rng: random.Random, needs: list, providers: list) -> None:
    """Give some needs a current provider nearby (continuity) and a few an excluded one."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for p in providers:
        for s in p["services"]:
            by_service.setdefault(s, []).append(p)
    for need in needs:
        wants_current = rng.random() < 0.25
        wants_exclusion = rng.random() < 0.04
        if not (wants_current or wants_exclusion):
            continue
        offering = by_service.get(need["service"], [])
        loc = need["location"]
        near = [
            p
            for p in offering
            if distance_km(loc["lat"], loc["lon"], p["location"]["lat"], p["location"]["lon"])
            <= p["max_travel_km"]
        ]
        if wants_current and near:
            need["current_provider"] = rng.choice(near)["id"]
        if wants_exclusion and near:
            excluded = rng.choice(near)["id"]
            if excluded != need["current_provider"]:
                need["excluded_providers"].append(excluded)
