"""Words a consultant understands: why a need stayed open, and what each assignment scored for.

Two kinds of "why not":

- No candidate at all: the hard rules, applied in the contract's order 1..6, left nobody. We
  say how many providers each rule removed (among those the earlier rules left), with the
  detail that makes it actionable: which competence was missing, the nearest provider's
  distance against its range, the session length that found no shared window.
- Candidates existed: each one is named with what stopped it — full (naming the needs it
  went to), keeping apart from a need it already serves, too small for this need on its own,
  or too far for travel to be worth it. Reasons are grouped, one line per kind.

Each English line comes with a detail, `{"code": ..., "params": {...}}`, carrying the same facts
as data (ids, counts, km, minutes), so the service can say it again in the page's language with
names instead of ids. Lists of names are capped like the English lines: `x` holds the first
names, `x_more` how many were left out.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from scheduler.matching.feasibility import RULES, Feasibility, need_rule_masks
from scheduler.matching.limits import Limits

# Lists of providers or needs inside one reason line stop after this many names.
_MAX_NAMES = 8


def score_terms(feas: Feasibility, pair: int) -> dict[str, int]:
    """The score of one pair split into the contract's four terms (they sum to the score)."""
    w = feas.weights
    need = feas.instance.needs[int(feas.pair_need[pair])]
    travel = 0 if feas.pair_remote[pair] else int(feas.pair_distance[pair])
    return {
        "priority": w.priority * need.priority,
        "continuity": w.continuity if feas.pair_continuity[pair] else 0,
        "preferred": w.preferred * int(feas.pair_preferred[pair]),
        "travel": -w.travel_per_km * travel,
    }


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMES])
    more = len(items) - _MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _capped(key: str, items: list) -> dict:
    return {key: items[:_MAX_NAMES], f"{key}_more": max(0, len(items) - _MAX_NAMES)}


def _detail(code: str, **params) -> dict:
    return {"code": code, "params": params}


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _minutes(x: float) -> str:
    return f"{x:g}"


class Explainer:
    """Builds reasons for unassigned needs against one final assignment."""

    def __init__(self, feas: Feasibility, limits: Limits, provider_of: np.ndarray) -> None:
        self.feas = feas
        self.limits = limits
        self.provider_of = provider_of
        inst = feas.instance
        self.served: dict[int, list[int]] = defaultdict(list)
        for n in np.nonzero(provider_of >= 0)[0].tolist():
            self.served[int(provider_of[n])].append(n)
        # Sort each provider's needs by score so "went to" names the strongest claims first.
        self.used_load = np.zeros(len(inst.providers), dtype=np.int64)
        for p, needs in self.served.items():
            for n in needs:
                self.used_load[p] += limits.pair_load[limits.pair_of(n, p)]
            needs.sort(key=lambda n, p=p: -int(feas.pair_score[limits.pair_of(n, p)]))
        self._offering: dict[str, np.ndarray] = {}
        # Exact loads and capacities as plain numbers for messages (Fractions are slow).
        self.load = [float(n.load) for n in inst.needs]
        self.capacity = [float(p.capacity) for p in inst.providers]

    def reasons(self, need: int) -> list[str]:
        return [line for line, _detail in self.explain(need)]

    def details(self, need: int) -> list[dict]:
        return [detail for _line, detail in self.explain(need)]

    def explain(self, need: int) -> list[tuple[str, dict]]:
        """(English line, structured detail) pairs, one per reason."""
        sl = self.feas.candidates(need)
        if sl.stop == sl.start:
            return self._no_candidate(need)
        return self._candidates_blocked(need, sl)

    # --- no candidate ---------------------------------------------------------------------

    def _no_candidate(self, need: int) -> list[tuple[str, dict]]:
        inst, t = self.feas.instance, self.feas.tables
        n = inst.needs[need]
        P = len(inst.providers)
        if P == 0:
            return [("there are no providers in this matching run", _detail("no_providers"))]
        masks, dist = need_rule_masks(inst, t, need, self._offering)
        remaining = np.ones(P, dtype=bool)
        lines: list[tuple[str, dict]] = []
        for rule, ok in enumerate(masks):
            removed = remaining & ~ok
            remaining &= ok
            count = int(removed.sum())
            if count:
                lines.append(self._rule_line(rule, count, removed, n, dist))
        if not masks[0].any():
            head = (f"no provider offers {n.service}", _detail("no_provider_offers", service=n.service))
        else:
            head = (
                f"no candidate: all {_count(P, 'provider is', 'providers are')} ruled out by the hard rules",
                _detail("all_ruled_out", providers=P),
            )
        return [head, *lines]

    def _rule_line(
        self, rule: int, count: int, removed: np.ndarray, n, dist: np.ndarray
    ) -> tuple[str, dict]:
        t = self.feas.tables
        inst = self.feas.instance
        label = f"rule {rule + 1} ({RULES[rule]}): "
        who = _count(count, "provider", "providers")
        base = {"rule": rule + 1, "count": count}
        if rule == 0:
            return (
                label + f"{who} {'does' if count == 1 else 'do'} not offer {n.service}",
                _detail("rule_service", **base, service=n.service),
            )
        if rule == 1:
            per = []
            missing = []
            for c in sorted(n.required_competences):
                k = int((removed & ~t.prov_comp[:, t.competences[c]]).sum())
                if k:
                    per.append(f"{c} ({k})")
                    missing.append({"competence": c, "count": k})
            lack = "lacks" if count == 1 else "lack"
            return (
                label + f"{who} {lack} a required competence: " + ", ".join(per),
                _detail("rule_competences", **base, competences=missing),
            )
        if rule == 2:
            return (
                label + f"{who} {'does' if count == 1 else 'do'} not speak {n.language}",
                _detail("rule_language", **base, language=n.language),
            )
        if rule == 3:
            ids = [inst.providers[j].id for j in np.nonzero(removed)[0].tolist()]
            return (
                label + f"{who} {'is' if count == 1 else 'are'} excluded for this need: {_names(ids)}",
                _detail("rule_excluded", **base, **_capped("providers", ids)),
            )
        if rule == 4:
            js = np.nonzero(removed)[0]
            nearest = js[np.argmin(dist[js] - t.prov_travel[js])]
            closest, km, range_km = inst.providers[nearest].id, int(dist[nearest]), float(t.prov_travel[nearest])
            line = (
                label + f"{who} {'is' if count == 1 else 'are'} beyond their travel range "
                f"(closest: {closest} at {km} km, "
                f"range {_minutes(range_km)} km)"
            )
            remote = 0
            if not n.remote_ok and t.prov_remote[js].any():
                remote = int(t.prov_remote[js].sum())
                line += f"; {remote} of them {'offers' if remote == 1 else 'offer'} remote sessions, but this need does not accept them"
            return line, _detail(
                "rule_reach", **base, closest_provider=closest, closest_km=km, closest_range_km=range_km,
                remote_refused=remote,
            )
        return (
            label
            + (
                f"{who} {'has' if count == 1 else 'have'} no single availability window overlapping "
                f"the need's by {_minutes(n.minutes_per_session)} minutes"
            ),
            _detail("rule_time", **base, minutes=float(n.minutes_per_session)),
        )

    # --- candidates existed ---------------------------------------------------------------

    def _candidates_blocked(self, need: int, sl: slice) -> list[tuple[str, dict]]:
        feas, limits, inst = self.feas, self.limits, self.feas.instance
        n = inst.needs[need]
        partners = set(limits.partners.get(need, ()))
        # Each list holds (English part, structured part) per candidate.
        full: list[tuple[str, dict]] = []
        apart: list[tuple[str, dict]] = []
        small: list[tuple[str, dict]] = []
        far: list[tuple[str, dict]] = []
        room: list[str] = []
        for k in range(sl.start, sl.stop):
            p = int(feas.pair_provider[k])
            prov = inst.providers[p]
            load, cap = int(limits.pair_load[k]), int(limits.capacity[p])
            served = self.served.get(p, [])
            if int(feas.pair_score[k]) <= 0:
                km = int(feas.pair_distance[k])
                far.append((
                    f"{prov.id} (travel {km} km outweighs priority {n.priority})",
                    {"provider": prov.id, "km": km, "priority": n.priority},
                ))
            elif prov.max_cases == 0:
                small.append((f"{prov.id} (takes no cases)", {"provider": prov.id, "kind": "no_cases"}))
            elif load > cap:
                small.append((
                    f"{prov.id} ({_minutes(self.capacity[p])} min/week in all, "
                    f"this need takes {_minutes(self.load[need])})",
                    {"provider": prov.id, "kind": "capacity", "capacity": self.capacity[p], "load": self.load[need]},
                ))
            elif kept := [m for m in served if m in partners]:
                ids = [inst.needs[m].id for m in kept]
                apart.append((f"{prov.id} serves {_names(ids)}", {"provider": prov.id, **_capped("needs", ids)}))
            elif len(served) >= prov.max_cases:
                ids = [inst.needs[m].id for m in served]
                full.append((
                    f"{prov.id} (max_cases {prov.max_cases} reached: {_names(ids)})",
                    {"provider": prov.id, "kind": "max_cases", "max_cases": prov.max_cases, **_capped("needs", ids)},
                ))
            elif self.used_load[p] + load > cap:
                ids = [inst.needs[m].id for m in served]
                left = max(0.0, self.capacity[p] - float(self.used_load[p]) / limits.scale[p])
                full.append((
                    f"{prov.id} (minutes taken by {_names(ids)}; "
                    f"{_minutes(round(left, 2))} of {_minutes(self.capacity[p])} min/week left, "
                    f"this need takes {_minutes(self.load[need])})",
                    {
                        "provider": prov.id, "kind": "minutes", **_capped("needs", ids), "left": round(left, 2),
                        "capacity": self.capacity[p], "load": self.load[need],
                    },
                ))
            else:
                room.append(prov.id)

        def group(items: list[tuple[str, dict]]) -> tuple[str, dict]:
            return _names([text for text, _part in items]), _capped("candidates", [part for _text, part in items])

        lines: list[tuple[str, dict]] = []
        if full:
            text, params = group(full)
            lines.append((
                f"{_count(len(full), 'candidate was', 'candidates were')} full: {text}",
                _detail("candidates_full", count=len(full), **params),
            ))
        if apart:
            text, params = group(apart)
            lines.append((
                f"{_count(len(apart), 'candidate is', 'candidates are')} kept apart, serving a need "
                f"that must not share a provider with this one: {text}",
                _detail("candidates_apart", count=len(apart), **params),
            ))
        if small:
            text, params = group(small)
            lines.append((
                f"{_count(len(small), 'candidate is', 'candidates are')} too small for this need: {text}",
                _detail("candidates_too_small", count=len(small), **params),
            ))
        if far:
            text, params = group(far)
            lines.append((
                f"{_count(len(far), 'candidate is', 'candidates are')} too far to be worth it: {text}",
                _detail("candidates_too_far", count=len(far), **params),
            ))
        if room:
            # Only after a time limit: the search stopped before it could use this room.
            lines.append((
                f"{_count(len(room), 'candidate', 'candidates')} still had room ({_names(room)}), "
                "but the time limit stopped the search before it was used",
                _detail("candidates_unused_room", count=len(room), **_capped("providers", room)),
            ))
        ruled = self.feas.removed_by_rule[need]
        total = int(ruled.sum())
        if total:
            parts = [f"rule {r + 1} ({RULES[r]}) {int(c)}" for r, c in enumerate(ruled) if c]
            lines.append((
                f"the hard rules ruled out {total} of {len(inst.providers)} providers: " + ", ".join(parts),
                _detail(
                    "hard_rules_summary", count=total, providers=len(inst.providers),
                    rules=[{"rule": r + 1, "count": int(c)} for r, c in enumerate(ruled) if c],
                ),
            ))
        return lines
