"""The six hard rules and the score, for every need–provider pair at once.

A national run has 10,000 needs × 2,500 providers = 25 million pairs, far too many for a
Python loop, so the rules are evaluated with numpy on dense blocks: needs are grouped by
service (rule 1 then only keeps the providers offering that service) and each group is cut
into chunks of needs so a block never holds more than a few million cells. The time rule,
the dearest one, only runs on the pairs that survived rules 1-5.

For explanations each need also gets, per rule, the number of providers that rule removed
among those still remaining after the earlier rules (spec order 1..6), so the six counts add
up to the number of providers ruled out for that need.

`need_rule_masks` evaluates the same rules for one need against all providers; explain.py uses
it for detail ("7 providers lack self_harm"), and the tests use it as a second implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.geo import EARTH_RADIUS_KM, distance_km
from scheduler.matching.instance import Instance, Window

RULES = ("service", "competences", "language", "excluded", "reach", "time")

# Cells per dense block; ~10 arrays of this size live at once, so this bounds memory to
# a few hundred MB even for national runs.
_BLOCK_CELLS = 1_000_000


@dataclass(frozen=True)
class Weights:
    """The objective's weights; the defaults are the contract's and give its exact sum."""

    priority: int = 1000
    continuity: int = 200
    preferred: int = 20
    travel_per_km: int = 1


@dataclass(frozen=True, eq=False)
class Tables:
    """The instance as arrays, shared by the block evaluation and the per-need masks."""

    competences: dict[str, int]
    languages: dict[str, int]
    prov_comp: np.ndarray  # (P, K) bool
    prov_lang: np.ndarray  # (P, L) bool
    prov_lat: np.ndarray  # radians
    prov_lon: np.ndarray  # degrees (the spec takes radians of the difference)
    prov_travel: np.ndarray  # float
    prov_remote: np.ndarray  # bool
    prov_windows: np.ndarray  # (P, W, 3) int32: day, start, end; day -1 = padding
    prov_has_time: np.ndarray  # bool
    need_req: np.ndarray  # (N, K) bool
    need_pref: np.ndarray  # (N, K) bool
    need_lang: np.ndarray  # (N,) int, index into languages
    need_lat: np.ndarray
    need_lon: np.ndarray
    need_remote: np.ndarray
    need_minutes: np.ndarray  # float
    need_windows: np.ndarray  # (N, W, 3)
    need_has_time: np.ndarray
    need_current: np.ndarray  # provider index or -1


@dataclass(frozen=True, eq=False)
class Feasibility:
    """Every pair that passes the six hard rules, with its score terms (pairs sorted by need)."""

    instance: Instance
    weights: Weights
    tables: Tables
    pair_need: np.ndarray  # int32
    pair_provider: np.ndarray  # int32
    pair_distance: np.ndarray  # int32, rounded km (also when remote)
    pair_remote: np.ndarray  # bool: both sides remote, so travel counts 0
    pair_preferred: np.ndarray  # int16: |preferred ∩ provider competences|
    pair_continuity: np.ndarray  # bool
    pair_score: np.ndarray  # int64
    need_start: np.ndarray  # (N + 1,) offsets: pairs of need i are need_start[i]:need_start[i+1]
    removed_by_rule: np.ndarray  # (N, 6) int32

    @property
    def n_pairs(self) -> int:
        return int(self.pair_need.size)

    def candidates(self, need: int) -> slice:
        return slice(int(self.need_start[need]), int(self.need_start[need + 1]))


def _windows_array(rows: list[tuple[Window, ...]]) -> np.ndarray:
    width = max((len(w) for w in rows), default=0) or 1
    out = np.full((len(rows), width, 3), -1, dtype=np.int32)
    for i, windows in enumerate(rows):
        for j, w in enumerate(windows):
            out[i, j] = (w.day, w.start, w.end)
    return out


def build_tables(instance: Instance) -> Tables:
    providers, needs = instance.providers, instance.needs
    competences: dict[str, int] = {}
    languages: dict[str, int] = {}
    for p in providers:
        for c in sorted(p.competences):
            competences.setdefault(c, len(competences))
        for lang in sorted(p.languages):
            languages.setdefault(lang, len(languages))
    for n in needs:
        for c in sorted(n.required_competences | n.preferred_competences):
            competences.setdefault(c, len(competences))
        languages.setdefault(n.language, len(languages))

    P, N, K, L = len(providers), len(needs), max(len(competences), 1), max(len(languages), 1)
    prov_comp = np.zeros((P, K), dtype=bool)
    prov_lang = np.zeros((P, L), dtype=bool)
    for i, p in enumerate(providers):
        prov_comp[i, [competences[c] for c in p.competences]] = True
        prov_lang[i, [languages[lang] for lang in p.languages]] = True
    need_req = np.zeros((N, K), dtype=bool)
    need_pref = np.zeros((N, K), dtype=bool)
    for i, n in enumerate(needs):
        need_req[i, [competences[c] for c in n.required_competences]] = True
        need_pref[i, [competences[c] for c in n.preferred_competences]] = True

    return Tables(
        competences=competences,
        languages=languages,
        prov_comp=prov_comp,
        prov_lang=prov_lang,
        prov_lat=np.radians(np.array([p.location.lat for p in providers], dtype=np.float64)),
        prov_lon=np.array([p.location.lon for p in providers], dtype=np.float64),
        prov_travel=np.array([p.max_travel_km for p in providers], dtype=np.float64),
        prov_remote=np.array([p.offers_remote for p in providers], dtype=bool),
        prov_windows=_windows_array([p.availability for p in providers]),
        prov_has_time=np.array([bool(p.availability) for p in providers], dtype=bool),
        need_req=need_req,
        need_pref=need_pref,
        need_lang=np.array([languages[n.language] for n in needs], dtype=np.int64),
        need_lat=np.radians(np.array([n.location.lat for n in needs], dtype=np.float64)),
        need_lon=np.array([n.location.lon for n in needs], dtype=np.float64),
        need_remote=np.array([n.remote_ok for n in needs], dtype=bool),
        need_minutes=np.array([n.minutes_per_session for n in needs], dtype=np.float64),
        need_windows=_windows_array([n.availability for n in needs]),
        need_has_time=np.array([bool(n.availability) for n in needs], dtype=bool),
        need_current=np.array(
            [
                instance.provider_index.get(n.current_provider, -1) if n.current_provider else -1
                for n in needs
            ],
            dtype=np.int64,
        ),
    )


def _distances(t: Tables, needs: np.ndarray, provs: np.ndarray, instance: Instance) -> np.ndarray:
    """Rounded haversine km for the block needs × provs, identical to scheduler.geo.distance_km.

    numpy's sin/cos may differ from libm's in the last bit, which only matters when the
    unrounded distance is within a hair of x.5 km; those few cells are recomputed with
    geo.distance_km itself so rounding (and hence reach and travel) never disagrees.
    """
    phi1 = t.need_lat[needs][:, None]
    phi2 = t.prov_lat[provs][None, :]
    dphi = phi2 - phi1
    dlmb = np.radians(t.prov_lon[provs][None, :] - t.need_lon[needs][:, None])
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    rounded = np.floor(km + 0.5)
    near_half = np.abs(km - np.floor(km) - 0.5) < 1e-7
    for r, c in zip(*np.nonzero(near_half), strict=True):
        n, p = instance.needs[needs[r]], instance.providers[provs[c]]
        rounded[r, c] = distance_km(n.location.lat, n.location.lon, p.location.lat, p.location.lon)
    return rounded.astype(np.int32)


def _time_ok(t: Tables, needs: np.ndarray, provs: np.ndarray) -> np.ndarray:
    """Rule 6 for aligned 1-D arrays of pairs: some single window pair overlaps long enough."""
    ok = ~(t.need_has_time[needs] & t.prov_has_time[provs])
    check = np.nonzero(~ok)[0]
    if check.size == 0:
        return ok
    nw = t.need_windows[needs[check]]  # (C, Wn, 3)
    pw = t.prov_windows[provs[check]]  # (C, Wp, 3)
    minutes = t.need_minutes[needs[check]]
    best = np.zeros(check.size, dtype=np.float64)
    for a in range(nw.shape[1]):
        for b in range(pw.shape[1]):
            same_day = (nw[:, a, 0] == pw[:, b, 0]) & (nw[:, a, 0] >= 0)
            overlap = np.minimum(nw[:, a, 2], pw[:, b, 2]) - np.maximum(nw[:, a, 1], pw[:, b, 1])
            best = np.maximum(best, np.where(same_day, overlap, 0))
    ok[check] = best >= minutes
    return ok


def compute(instance: Instance, weights: Weights | None = None) -> Feasibility:
    """Evaluate the six hard rules for all pairs and score the feasible ones."""
    weights = weights or Weights()
    t = build_tables(instance)
    providers, needs = instance.providers, instance.needs
    P, N = len(providers), len(needs)
    removed = np.zeros((N, 6), dtype=np.int32)

    excluded: dict[int, list[int]] = {}
    for i, n in enumerate(needs):
        hit = [instance.provider_index[x] for x in n.excluded_providers if x in instance.provider_index]
        if hit:
            excluded[i] = hit

    by_service: dict[str, list[int]] = {}
    for i, n in enumerate(needs):
        by_service.setdefault(n.service, []).append(i)

    lack = (~t.prov_comp).astype(np.float32)  # a provider lacks competence k
    comp_f = t.prov_comp.astype(np.float32)
    chunks: list[tuple[np.ndarray, ...]] = []
    for service, members in by_service.items():
        need_idx = np.array(members, dtype=np.int64)
        prov_idx = np.array([j for j, p in enumerate(providers) if service in p.services], dtype=np.int64)
        removed[need_idx, 0] = P - prov_idx.size
        if prov_idx.size == 0:
            continue
        local = np.full(P, -1, dtype=np.int64)
        local[prov_idx] = np.arange(prov_idx.size)
        step = max(1, _BLOCK_CELLS // prov_idx.size)
        for lo in range(0, need_idx.size, step):
            block = need_idx[lo : lo + step]
            remaining = np.ones((block.size, prov_idx.size), dtype=bool)

            def apply(rule: int, ok: np.ndarray, block=block, remaining=remaining) -> None:
                removed[block, rule] = np.count_nonzero(remaining & ~ok, axis=1)
                remaining &= ok

            # 2. competences: no required competence the provider lacks (exact in float32:
            # the products count at most K competences).
            missing = t.need_req[block].astype(np.float32) @ lack[prov_idx].T
            apply(1, missing == 0)
            # 3. language
            apply(2, t.prov_lang[prov_idx][:, t.need_lang[block]].T)
            # 4. excluded providers
            ok4 = np.ones_like(remaining)
            for r, i in enumerate(block):
                for j in excluded.get(int(i), ()):
                    if local[j] >= 0:
                        ok4[r, local[j]] = False
            apply(3, ok4)
            # 5. reach: both remote, or within the provider's travel range
            dist = _distances(t, block, prov_idx, instance)
            remote = t.need_remote[block][:, None] & t.prov_remote[prov_idx][None, :]
            apply(4, remote | (dist <= t.prov_travel[prov_idx][None, :]))
            # 6. time, only on the survivors
            rows, cols = np.nonzero(remaining)
            pn, pp = block[rows], prov_idx[cols]
            ok6 = _time_ok(t, pn, pp)
            removed[:, 5] += np.bincount(pn[~ok6], minlength=N).astype(np.int32)
            rows, cols, pn, pp = rows[ok6], cols[ok6], pn[ok6], pp[ok6]
            preferred = (t.need_pref[block].astype(np.float32) @ comp_f[prov_idx].T)[rows, cols]
            chunks.append((pn, pp, dist[rows, cols], remote[rows, cols], preferred.astype(np.int16)))

    if chunks:
        pn, pp, dist, remote, preferred = (np.concatenate(parts) for parts in zip(*chunks, strict=True))
    else:
        pn = pp = dist = np.zeros(0, dtype=np.int64)
        remote = np.zeros(0, dtype=bool)
        preferred = np.zeros(0, dtype=np.int16)
    order = np.lexsort((pp, pn))
    pn, pp, dist, remote, preferred = pn[order], pp[order], dist[order], remote[order], preferred[order]
    continuity = t.need_current[pn] == pp
    priority = np.array([n.priority for n in needs], dtype=np.int64)
    score = (
        weights.priority * priority[pn]
        + weights.continuity * continuity.astype(np.int64)
        + weights.preferred * preferred.astype(np.int64)
        - weights.travel_per_km * np.where(remote, 0, dist.astype(np.int64))
    )
    need_start = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.bincount(pn, minlength=N), out=need_start[1:])
    return Feasibility(
        instance=instance,
        weights=weights,
        tables=t,
        pair_need=pn.astype(np.int32),
        pair_provider=pp.astype(np.int32),
        pair_distance=dist.astype(np.int32),
        pair_remote=remote.astype(bool),
        pair_preferred=preferred.astype(np.int16),
        pair_continuity=continuity,
        pair_score=score.astype(np.int64),
        need_start=need_start,
        removed_by_rule=removed,
    )


def need_rule_masks(
    instance: Instance, t: Tables, need: int, offering: dict[str, np.ndarray] | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """For one need: per rule, which providers pass it, and distances.

    Rules 1-5 are judged alone; rule 6 only where 1-5 pass (see below). Unlike `compute`,
    the masks are not chained: explain.py chains them itself so it can say
    both "7 providers lack self_harm" and which competence each lacked. `offering` caches
    rule 1 per service between calls.
    """
    n = instance.needs[need]
    P = len(instance.providers)
    everyone = np.arange(P)
    if offering is None:
        offering = {}
    if n.service not in offering:
        offering[n.service] = np.array([n.service in p.services for p in instance.providers], dtype=bool)
    ok1 = offering[n.service]
    ok2 = (t.prov_comp | ~t.need_req[need][None, :]).all(axis=1)
    ok3 = t.prov_lang[:, t.need_lang[need]].copy()
    ok4 = np.array([p.id not in n.excluded_providers for p in instance.providers], dtype=bool)
    dist = _distances(t, np.array([need]), everyone, instance)[0] if P else np.zeros(0, dtype=np.int32)
    ok5 = (n.remote_ok & t.prov_remote) | (dist <= t.prov_travel)
    # The time rule is the dear one: evaluate it only where rules 1-5 all pass (elsewhere it
    # is reported as passing, which chaining in spec order never counts).
    ok6 = np.ones(P, dtype=bool)
    survivors = everyone[ok1 & ok2 & ok3 & ok4 & ok5]
    if survivors.size:
        ok6[survivors] = _time_ok(t, np.full(survivors.size, need), survivors)
    return [ok1, ok2, ok3, ok4, ok5, ok6], dist
