"""Load the core's inputs for many placements with a fixed number of queries.

`load_placements(ids, today=..., config=...)` runs one query per kind of record for the whole
list (placements, earlier placements, check-ins, SDQs, absence, incidents, the child's views,
stressors, needs, the scheduler's series and its cancelled and respite occurrences, provider
absences, consultant changes, supervision overdue, loads), never one
per placement, and groups the rows per placement as plain tuples (`compute.RawPlacement`); the
core's validated inputs are built from them by `compute.build_inputs`, in the scoring processes
when there are several. Callers pass chunks (support.wellbeing.scoring uses 2,000), so memory
stays bounded and the query count per chunk is constant.

Missing data stays missing: a placement without check-ins gets an empty tuple, not a default
answer, so the core can say "no recent data" instead of "green". Only the columns the model
uses are read; free text never leaves the database here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Max, Q

from support.models import (
    CheckIn,
    ChildView,
    FosterType,
    Incident,
    Placement,
    PlacementStatus,
    SchoolAbsence,
    SdqScore,
    Stressor,
    StressorKind,
)
from support.risk import PlacementInputs, RiskModelConfig
from support.wellbeing import derived
from support.wellbeing.compute import RawPlacement, build_inputs
from support.wellbeing.conf import milestone_rules
from support.wellbeing.dates import add_months, first_of_month

SCHOOL_START_AGE = 6  # Danish children start school in August of the year they turn 6


@dataclass(frozen=True)
class Windows:
    """How far back each kind of record can matter for a score as of `today` (with its trend)."""

    checkins: dt.date  # what the core reads
    checkins_any: dt.date  # also the family's "sessions missed" answers, read from the same rows
    sdq: dt.date
    child_views: dt.date
    absence: dt.date
    incidents: dt.date
    stressors: dt.date
    consultant_changes: dt.date
    missed_sessions: dt.date
    respite: dt.date


def windows(config: RiskModelConfig, today: dt.date) -> Windows:
    span = config.trend.cycle_days * (config.trend.history_cycles - 1)  # the oldest re-scored cycle
    stale = config.data.staleness_factor
    days = lambda n: today - dt.timedelta(days=n)  # noqa: E731
    checkins = span + config.data.checkin_cadence_days * stale
    missed = span + config.system.missed_sessions_window_days
    quarter = config.data.absence_quarter_months
    return Windows(
        checkins=days(checkins),
        checkins_any=days(max(checkins, missed)),
        sdq=days(span + config.data.sdq_cadence_days * stale),
        child_views=days(span + config.data.child_view_cadence_days * stale),
        # The oldest cycle's quarter and, for the recommendation, the quarter before it.
        absence=first_of_month(add_months(days(span), -(2 * quarter + config.data.absence_cadence_months * stale))),
        incidents=days(max(span + config.events.acute_window_days, config.recommendations.incident_window_days)),
        stressors=days(span),
        consultant_changes=days(span + config.system.consultant_change_window_days),
        missed_sessions=days(missed),
        respite=days(max(365, config.recommendations.respite_gap_days + 1)),
    )


@dataclass
class Loaded:
    """One placement's records (raw, for the core) and the derived context stored with its score."""

    placement_id: int
    municipality_id: int
    consultant_id: int | None
    foster_household_id: int
    raw: RawPlacement
    context: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def inputs(self) -> PlacementInputs:
        return build_inputs(self.raw)


_PLACEMENT_FIELDS = (
    "id", "municipality_id", "consultant_id", "foster_household_id", "starts_on", "child_id", "child__birth_date",
    "foster_household__foster_type", "background__prior_placements_elsewhere",
    "background__prior_breakdowns_elsewhere", "background__residential_history",
    "background__separated_from_siblings", "background__documented_maltreatment", "background__attends_school",
)


def scorable_placements():
    """Placements the index is for: active, in a foster family."""
    return Placement.objects.filter(status=PlacementStatus.ACTIVE, foster_household__isnull=False)


def load_placements(placement_ids: Sequence[int], *, today: dt.date, config: RiskModelConfig) -> list[Loaded]:
    """Inputs for the given placements (those that are scorable and started by `today`)."""
    w = windows(config, today)
    rows = list(
        scorable_placements().filter(id__in=placement_ids, starts_on__lte=today).values_list(*_PLACEMENT_FIELDS)
    )
    if not rows:
        return []
    ids = [r[0] for r in rows]
    child_ids = {r[5] for r in rows}
    household_ids = {r[3] for r in rows}

    earlier = defaultdict(list)
    for child_id, pid, starts_on, status, household_id in Placement.objects.filter(child_id__in=child_ids).values_list(
        "child_id", "id", "starts_on", "status", "foster_household_id"
    ):
        earlier[child_id].append((pid, starts_on, status, household_id))

    # Plain tuples in the column order the core's dataclasses take (compute.build_inputs).
    checkins = defaultdict(list)
    reported_missed = defaultdict(list)
    for pid, *row, missed in CheckIn.objects.filter(
        placement_id__in=ids, on__gte=w.checkins_any, on__lte=today
    ).values_list(
        "placement_id", "on", "stress", "help_now", "sleep", "conflicts", "commitment", "problem_behaviours",
        "sessions_missed",
    ):
        if row[0] >= w.checkins:  # the core scans every check-in it gets on each of 12 cycles: no extras
            checkins[pid].append(tuple(row))
        if missed and row[0] >= w.missed_sessions:
            reported_missed[pid].append((row[0], missed))

    # A long-silent family: the core needs its newest check-in only for the date in "no check-in
    # since ...". Fetch that one row (two queries, only when some placement has none in the window).
    silent = [pid for pid in ids if not checkins[pid]]
    if silent:
        last = dict(CheckIn.objects.filter(placement_id__in=silent, on__lt=w.checkins).values("placement_id")
                    .annotate(last=Max("on")).values_list("placement_id", "last"))
        for pid, *row in CheckIn.objects.filter(placement_id__in=list(last), on__in=set(last.values())).order_by(
            "placement_id", "on", "id"
        ).values_list("placement_id", "on", "stress", "help_now", "sleep", "conflicts", "commitment",
                      "problem_behaviours"):
            if row[0] == last[pid] and not checkins[pid]:
                checkins[pid].append(tuple(row))

    sdq = defaultdict(list)
    for pid, *row in SdqScore.objects.filter(placement_id__in=ids, on__gte=w.sdq, on__lte=today).values_list(
        "placement_id", "on", "informant", "total", "impact"
    ):
        sdq[pid].append(tuple(row))

    absence = defaultdict(list)
    for pid, month, total, unlawful in SchoolAbsence.objects.filter(
        placement_id__in=ids, month__gte=w.absence, month__lte=today
    ).values_list("placement_id", "month", "total_pct", "unlawful_pct"):
        absence[pid].append((month, float(total), float(unlawful)))

    incidents = defaultdict(list)
    for pid, *row in Incident.objects.filter(placement_id__in=ids, on__gte=w.incidents, on__lte=today).values_list(
        "placement_id", "on", "kind"
    ):
        incidents[pid].append(tuple(row))

    views = defaultdict(list)
    for pid, *row in ChildView.objects.filter(placement_id__in=ids, on__gte=w.child_views, on__lte=today).values_list(
        "placement_id", "on", "wellbeing"
    ):
        views[pid].append(tuple(row))

    conflicts, fees = defaultdict(list), defaultdict(list)
    for pid, kind, start, end in Stressor.objects.filter(placement_id__in=ids, started_on__lte=today).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=w.stressors)
    ).values_list("placement_id", "kind", "started_on", "ended_on"):
        (conflicts if kind == StressorKind.BIRTH_FAMILY_CONFLICT else fees)[pid].append((start, end))

    needs = derived.fetch_needs(ids)
    provider_ids = {n.provider_id for n in needs if n.provider_id}
    # Sessions of needs the scheduler plans come from its occurrences; the others are estimated
    # from their cadence and the providers' absences (derived's docstring). One source per need.
    scheduled = derived.fetch_scheduled_need_ids(ids)
    estimated = [n for n in needs if n.id not in scheduled]
    absences = derived.fetch_provider_absences({n.provider_id for n in estimated if n.provider_id},
                                               since=min(w.missed_sessions, w.respite), until=today)
    missed = derived.combine_missed(derived.merge_dates(
        derived.cancelled_by_absence(estimated, absences, since=w.missed_sessions, until=today),
        derived.fetch_cancelled_occurrences(ids, since=w.missed_sessions, until=today),
    ), reported_missed)
    respite = derived.merge_dates(
        derived.respite_days(estimated, absences, since=w.respite, until=today),
        derived.fetch_respite_occurrence_days(ids, since=w.respite, until=today),
    )
    waiting = derived.waiting_needs(needs)
    needs_by_placement = defaultdict(list)
    for need in needs:
        needs_by_placement[need.placement_id].append(need)

    changes = derived.fetch_consultant_changes(ids, since=w.consultant_changes)
    overdue = derived.fetch_supervision_overdue(household_ids, grace_days=milestone_rules().supervision.grace_days,
                                                today=today)
    household_loads = derived.fetch_household_loads(household_ids)
    provider_loads = derived.fetch_provider_loads(provider_ids)
    caseloads = derived.fetch_consultant_caseloads(r[2] for r in rows)

    out = []
    for (pid, municipality_id, consultant_id, household_id, starts_on, child_id, birth_date, foster_type,
         prior_elsewhere, breakdowns_elsewhere, residential, separated, maltreatment, attends) in rows:
        before = [e for e in earlier[child_id] if e[0] != pid and e[1] < starts_on]
        load = household_loads.get(household_id)
        children_placed = load.children_placed if load else 1
        baseline = (
            len(before) + (prior_elsewhere or 0),
            sum(1 for e in before if e[2] == PlacementStatus.BROKE_DOWN) + (breakdowns_elsewhere or 0),
            bool(residential) or any(e[3] is None for e in before),
            foster_type == FosterType.NETVAERK,
            bool(separated),
            max(0, children_placed - 1),
            bool(maltreatment),
        )
        if attends is None:
            attends = today >= dt.date(birth_date.year + SCHOOL_START_AGE, 8, 1)
        waiting_here = waiting.get(pid, [])
        raw = RawPlacement(
            placement_id=pid,
            birth_date=birth_date,
            placement_start=starts_on,
            baseline=baseline,
            attends_school=attends,
            checkins=tuple(checkins.get(pid, ())),
            sdq=tuple(sdq.get(pid, ())),
            absence=tuple(absence.get(pid, ())),
            incidents=tuple(incidents.get(pid, ())),
            child_views=tuple(views.get(pid, ())),
            consultant_changes=tuple(changes.get(pid, ())),
            birth_family_conflicts=tuple(conflicts.get(pid, ())),
            supervision_overdue=tuple((p.start, p.end) for p in overdue.get(household_id, ())),
            fee_renegotiations=tuple(fees.get(pid, ())),
            missed_sessions=tuple(missed.get(pid, ())),
            unmet_needs=tuple((p.start, p.end) for p in derived.unmet_need_periods(waiting_here)),
            respite_days=tuple(respite.get(pid, ())),
        )
        respite_here = respite.get(pid)
        window_start = today - dt.timedelta(days=config.system.missed_sessions_window_days)
        context = {
            "household_load": None if load is None else {
                "children_placed": load.children_placed, "needs_waiting": load.needs_waiting,
                "needs_assigned": load.needs_assigned, "sessions_per_week": load.sessions_per_week,
            },
            "provider_loads": [
                {"provider_id": n.provider_id, "need_id": n.id, "service": n.service,
                 "booked_minutes_per_week": provider_loads[n.provider_id].booked_minutes_per_week,
                 "capacity_minutes_per_week": provider_loads[n.provider_id].capacity_minutes_per_week,
                 "ratio": provider_loads[n.provider_id].ratio}
                for n in needs_by_placement.get(pid, ()) if n.status == "assigned" and n.provider_id in provider_loads
            ],
            "consultant_caseload": caseloads.get(consultant_id),
            "needs_waiting": [
                {"need_id": n.id, "service": n.service, "status": n.status,
                 "waiting_days": (today - max(n.created_on, n.starts_on)).days}
                for n in waiting_here
            ],
            "days_since_respite": None if not respite_here else (today - max(respite_here)).days,
            "missed_sessions_recent": sum(1 for d in missed.get(pid, ()) if d >= window_start),
            "attends_school": attends,
        }
        out.append(Loaded(pid, municipality_id, consultant_id, household_id, raw, context))
    return out
