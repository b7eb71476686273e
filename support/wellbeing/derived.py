"""Inputs the system derives itself: missed sessions, respite, waiting needs and loads.

Every `fetch_*` function is one query for any number of placements; every other function is
pure and works on what was fetched. The loader (support.wellbeing.loading) calls them per
chunk of placements, so the number of queries never depends on the number of placements.

Missed or cancelled sessions and respite days come from the scheduler's materialised sessions
(`scheduler.models.SessionOccurrence`) for every need the scheduler plans, that is every need with
a confirmed (active or ended) series:

  * cancelled: an occurrence cancelled (any reason), or skipped when it was planned because the
    provider was absent (reason "absence: ..."), dated by the local day it was meant to happen.
    Holiday, clash and "full" skips are not counted: those sessions were never owed on that day;
  * respite: every local day covered by a held (scheduled or moved) occurrence of a confirmed
    respite series, up to the day scored.

Needs without a confirmed series (recorded before the scheduler, or served outside it) keep the
estimate from their weekly cadence: their sessions that fall inside an absence of the provider
(ProviderAbsence) were cancelled, the others were held. Each need has one source, never both.
The foster family's weekly check-in adds how many planned sessions did not take place (missed);
per placement and ISO week the larger of the two counts is used, so one cancelled session that
the family also reports is counted once.

Each source is one query for all the placements of a chunk (`fetch_scheduled_need_ids`,
`fetch_cancelled_occurrences`, `fetch_respite_occurrence_days`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from support.models import (
    AuditEntry,
    CheckIn,
    Milestone,
    MilestoneStatus,
    NeedStatus,
    Placement,
    PlacementStatus,
    Provider,
    ProviderAbsence,
    SupportNeed,
)
from support.risk import Period

RESPITE = "respite"
SERVED = (NeedStatus.ASSIGNED, NeedStatus.ENDED)
WAITING = (NeedStatus.OPEN, NeedStatus.PROPOSED)


@dataclass(frozen=True)
class NeedRow:
    id: int
    placement_id: int
    service: str
    status: str
    recipient_household_id: int
    provider_id: int | None
    created_on: dt.date
    starts_on: dt.date
    ends_on: dt.date | None
    sessions_per_week: Decimal
    minutes_per_session: int


@dataclass(frozen=True)
class HouseholdLoad:
    """How much a foster household carries: children placed, their needs, sessions a week."""

    children_placed: int
    needs_waiting: int
    needs_assigned: int
    sessions_per_week: float


@dataclass(frozen=True)
class ProviderLoad:
    booked_minutes_per_week: float
    capacity_minutes_per_week: int
    cases: int
    max_cases: int

    @property
    def ratio(self) -> float | None:
        cap = self.capacity_minutes_per_week
        return None if not cap else round(self.booked_minutes_per_week / cap, 3)


# --- Fetching (one query each) ---------------------------------------------------------------------------


def fetch_needs(placement_ids: Sequence[int]) -> list[NeedRow]:
    """Every support need of the placements that is waiting, assigned, or ended after being served."""
    rows = (
        SupportNeed.objects.filter(placement_id__in=placement_ids)
        .filter(Q(status__in=WAITING) | Q(status=NeedStatus.ASSIGNED) | Q(status=NeedStatus.ENDED, current_provider__isnull=False))
        .values_list("id", "placement_id", "service__code", "status", "recipient_household_id", "current_provider_id",
                     "created_at", "starts_on", "ends_on", "sessions_per_week", "minutes_per_session")
    )
    return [
        NeedRow(i, p, s, st, h, prov, timezone.localdate(created), start, end, spw, minutes)
        for i, p, s, st, h, prov, created, start, end, spw, minutes in rows
    ]


def fetch_provider_absences(provider_ids: Iterable[int], *, since: dt.date, until: dt.date) -> dict[int, list[tuple[dt.date, dt.date]]]:
    """Provider absences overlapping [since, until], as inclusive local date ranges."""
    ids = set(provider_ids)
    if not ids:
        return {}
    out: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    rows = ProviderAbsence.objects.filter(
        provider_id__in=ids, starts_at__date__lte=until, ends_at__date__gte=since
    ).values_list("provider_id", "starts_at", "ends_at")
    for provider_id, starts_at, ends_at in rows:
        # An absence ending at midnight does not include the day it ends on.
        last = timezone.localdate(ends_at - dt.timedelta(microseconds=1))
        out[provider_id].append((timezone.localdate(starts_at), last))
    return out


def fetch_reported_missed(placement_ids: Sequence[int], *, since: dt.date, until: dt.date) -> dict[int, list[tuple[dt.date, int]]]:
    out: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    rows = CheckIn.objects.filter(
        placement_id__in=placement_ids, on__gte=since, on__lte=until, sessions_missed__gt=0
    ).values_list("placement_id", "on", "sessions_missed")
    for placement_id, on, n in rows:
        out[placement_id].append((on, n))
    return out


# The scheduler's series statuses for sessions that were agreed (proposed, declined and replaced
# series never happened as such), and the skip reason the planner writes for a provider absence.
CONFIRMED_SERIES = ("active", "ended")
ABSENCE_SKIP = "absence:"


def _local_bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `since`, start of the day after `until`) in the current (local) time zone."""
    tz = timezone.get_current_timezone()
    return (dt.datetime.combine(since, dt.time.min, tzinfo=tz),
            dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz))


def fetch_scheduled_need_ids(placement_ids: Sequence[int]) -> set[int]:
    """The placements' needs that have a confirmed series: their sessions come from the scheduler (one query)."""
    from scheduler.models import SessionSeries

    return set(
        SessionSeries.objects.filter(need__placement_id__in=placement_ids, status__in=CONFIRMED_SERIES)
        .values_list("need_id", flat=True).distinct()
    )


def fetch_cancelled_occurrences(placement_ids: Sequence[int], *, since: dt.date, until: dt.date) -> dict[int, list[dt.date]]:
    """Local days of cancelled sessions (or skipped for a provider absence) in [since, until] (one query)."""
    from scheduler.models import OccurrenceStatus, SessionOccurrence

    start, end = _local_bounds(since, until)
    rows = SessionOccurrence.objects.filter(
        series__need__placement_id__in=placement_ids, series__status__in=CONFIRMED_SERIES,
        original_start__gte=start, original_start__lt=end,
    ).filter(
        Q(status=OccurrenceStatus.CANCELLED) | Q(status=OccurrenceStatus.SKIPPED, reason__startswith=ABSENCE_SKIP)
    ).order_by().values_list("series__need__placement_id", "original_start")
    out: dict[int, list[dt.date]] = defaultdict(list)
    for placement_id, original_start in rows:
        out[placement_id].append(timezone.localdate(original_start))
    return out


def fetch_respite_occurrence_days(placement_ids: Sequence[int], *, since: dt.date, until: dt.date) -> dict[int, list[dt.date]]:
    """Local days in [since, until] covered by held respite sessions of confirmed series (one query)."""
    from scheduler.models import BOOKED_STATUSES, SeriesKind, SessionOccurrence

    start, end = _local_bounds(since, until)
    rows = SessionOccurrence.objects.filter(
        series__need__placement_id__in=placement_ids, series__kind=SeriesKind.RESPITE,
        series__status__in=CONFIRMED_SERIES, status__in=BOOKED_STATUSES, start__lt=end, end__gt=start,
    ).order_by().values_list("series__need__placement_id", "start", "end")
    out: dict[int, set[dt.date]] = defaultdict(set)
    for placement_id, first, last in rows:
        # An occurrence ending at midnight does not cover the day it ends on.
        day = max(since, timezone.localdate(first))
        stop = min(until, timezone.localdate(last - dt.timedelta(microseconds=1)))
        while day <= stop:
            out[placement_id].add(day)
            day += dt.timedelta(days=1)
    return {pid: sorted(days) for pid, days in out.items()}


def merge_dates(*sources: dict[int, list[dt.date]]) -> dict[int, list[dt.date]]:
    """Per placement, the dates of all sources together, sorted (duplicates kept)."""
    out: dict[int, list[dt.date]] = defaultdict(list)
    for source in sources:
        for pid, days in source.items():
            out[pid].extend(days)
    return {pid: sorted(days) for pid, days in out.items()}


def fetch_consultant_changes(placement_ids: Sequence[int], *, since: dt.date) -> dict[int, list[dt.date]]:
    """Days the responsible consultant changed, read from the audit trail of placement updates."""
    wanted = {str(p) for p in placement_ids}
    out: dict[int, list[dt.date]] = defaultdict(list)
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    rows = AuditEntry.objects.filter(
        action="placement.update", object_type="support.placement", at__gte=start
    ).values_list("object_id", "at", "details")
    for object_id, at, details in rows:
        if object_id in wanted and "consultant" in (details or {}).get("fields", ()):
            out[int(object_id)].append(timezone.localdate(at))
    return out


def fetch_supervision_overdue(household_ids: Iterable[int], *, grace_days: int, today: dt.date) -> dict[int, list[Period]]:
    """Periods in which a foster household's owed supervision was overdue (from the ledger milestones)."""
    from support.wellbeing.rules import SUPERVISION

    ids = set(household_ids)
    if not ids:
        return {}
    out: dict[int, list[Period]] = defaultdict(list)
    rows = Milestone.objects.filter(
        household_id__in=ids, rule_code=SUPERVISION, due_on__lt=today - dt.timedelta(days=grace_days)
    ).exclude(status=MilestoneStatus.WITHDRAWN).values_list("household_id", "due_on", "done_at")
    for household_id, due_on, done_at in rows:
        start = due_on + dt.timedelta(days=grace_days + 1)
        end = None if done_at is None else timezone.localdate(done_at)
        if end is not None and end <= start:
            continue  # delivered within the grace period: never overdue
        out[household_id].append(Period(start, end))
    return out


def fetch_household_loads(household_ids: Iterable[int]) -> dict[int, HouseholdLoad]:
    """Children placed, needs and weekly sessions per foster household (two queries)."""
    ids = set(household_ids)
    if not ids:
        return {}
    children = dict(
        Placement.objects.filter(foster_household_id__in=ids, status=PlacementStatus.ACTIVE)
        .values("foster_household_id").annotate(n=Count("id")).values_list("foster_household_id", "n")
    )
    needs = {
        row["placement__foster_household_id"]: row
        for row in SupportNeed.objects.filter(
            placement__foster_household_id__in=ids, placement__status=PlacementStatus.ACTIVE,
        ).exclude(status=NeedStatus.ENDED).values("placement__foster_household_id").annotate(
            waiting=Count("id", filter=Q(status__in=WAITING)),
            assigned=Count("id", filter=Q(status=NeedStatus.ASSIGNED)),
            per_week=Sum("sessions_per_week", filter=Q(status=NeedStatus.ASSIGNED)),
        )
    }
    out = {}
    for hid in ids:
        row = needs.get(hid, {})
        out[hid] = HouseholdLoad(
            children_placed=children.get(hid, 0),
            needs_waiting=row.get("waiting", 0),
            needs_assigned=row.get("assigned", 0),
            sessions_per_week=float(row.get("per_week") or 0),
        )
    return out


def fetch_provider_loads(provider_ids: Iterable[int]) -> dict[int, ProviderLoad]:
    """Booked minutes a week (assigned needs) against capacity, per provider (two queries)."""
    ids = set(provider_ids)
    if not ids:
        return {}
    weekly = ExpressionWrapper(F("minutes_per_session") * F("sessions_per_week"),
                               output_field=DecimalField(max_digits=12, decimal_places=3))
    booked = {
        row["current_provider_id"]: row
        for row in SupportNeed.objects.filter(current_provider_id__in=ids, status=NeedStatus.ASSIGNED)
        .values("current_provider_id").annotate(minutes=Sum(weekly), cases=Count("placement_id", distinct=True))
    }
    out = {}
    for pid, capacity, max_cases in Provider.objects.filter(id__in=ids).values_list(
        "id", "capacity_minutes_per_week", "max_cases"
    ):
        row = booked.get(pid, {})
        out[pid] = ProviderLoad(float(row.get("minutes") or 0), capacity, row.get("cases", 0), max_cases)
    return out


def fetch_consultant_caseloads(user_ids: Iterable[int]) -> dict[int, int]:
    """Active placements per consultant (one query)."""
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    return dict(
        Placement.objects.filter(consultant_id__in=ids, status=PlacementStatus.ACTIVE)
        .values("consultant_id").annotate(n=Count("id")).values_list("consultant_id", "n")
    )


def consultant_caseloads(*, municipality_id: int | None = None) -> dict[int, int]:
    """Active placements per consultant, for pages and the team lead."""
    qs = Placement.objects.filter(status=PlacementStatus.ACTIVE, consultant__isnull=False)
    if municipality_id is not None:
        qs = qs.filter(municipality_id=municipality_id)
    return dict(qs.values("consultant_id").annotate(n=Count("id")).values_list("consultant_id", "n"))


# --- Pure derivations ----------------------------------------------------------------------------------------


def session_dates(start: dt.date, end: dt.date | None, per_week: float, *, since: dt.date, until: dt.date) -> list[dt.date]:
    """The days a need's sessions fall on at its weekly cadence, from its start, within [since, until]."""
    if per_week <= 0:
        return []
    step = 7 / per_week
    last = until if end is None else min(until, end)
    k = max(0, math.ceil((since - start).days / step) - 1)
    out = []
    while True:
        day = start + dt.timedelta(days=round(k * step))
        if day > last:
            return out
        if day >= since:
            out.append(day)
        k += 1


def _absent(day: dt.date, ranges: Sequence[tuple[dt.date, dt.date]]) -> bool:
    return any(first <= day <= last for first, last in ranges)


def cancelled_by_absence(needs: Iterable[NeedRow], absences: dict[int, list[tuple[dt.date, dt.date]]], *,
                         since: dt.date, until: dt.date) -> dict[int, list[dt.date]]:
    """Sessions of served needs that fell inside an absence of their provider."""
    out: dict[int, list[dt.date]] = defaultdict(list)
    for need in needs:
        if need.status not in SERVED or need.provider_id not in absences:
            continue
        ranges = absences[need.provider_id]
        for day in session_dates(need.starts_on, need.ends_on, float(need.sessions_per_week), since=since, until=until):
            if _absent(day, ranges):
                out[need.placement_id].append(day)
    return out


def combine_missed(derived: dict[int, list[dt.date]], reported: dict[int, list[tuple[dt.date, int]]]) -> dict[int, list[dt.date]]:
    """Per placement and ISO week, the larger of the derived and the reported count (never both)."""
    out: dict[int, list[dt.date]] = {}
    for pid in set(derived) | set(reported):
        weeks: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
        for day in derived.get(pid, ()):
            weeks[day.isocalendar()[:2]].append(day)
        said: dict[tuple[int, int], tuple[dt.date, int]] = {}
        for day, n in reported.get(pid, ()):
            key = day.isocalendar()[:2]
            prev = said.get(key)
            said[key] = (day, n + (prev[1] if prev else 0))
        for key, (day, n) in said.items():
            weeks[key].extend([day] * max(0, n - len(weeks[key])))
        out[pid] = sorted(d for days in weeks.values() for d in days)
    return out


def missed_session_dates(placement_ids: Sequence[int], *, since: dt.date, until: dt.date) -> dict[int, list[dt.date]]:
    """Days with a missed or cancelled support session, per placement (five queries).

    Cancelled sessions come from the scheduler's occurrences for the needs it plans and from the
    cadence estimate for the others (module docstring); missed ones from the family's check-ins.
    """
    needs = fetch_needs(placement_ids)
    scheduled = fetch_scheduled_need_ids(placement_ids)
    estimated = [n for n in needs if n.id not in scheduled]
    absences = fetch_provider_absences({n.provider_id for n in estimated if n.provider_id}, since=since, until=until)
    return combine_missed(
        merge_dates(cancelled_by_absence(estimated, absences, since=since, until=until),
                    fetch_cancelled_occurrences(placement_ids, since=since, until=until)),
        fetch_reported_missed(placement_ids, since=since, until=until),
    )


def respite_days(needs: Iterable[NeedRow], absences: dict[int, list[tuple[dt.date, dt.date]]], *,
                 since: dt.date, until: dt.date) -> dict[int, list[dt.date]]:
    """Days the foster family had respite, estimated from the cadence of served respite needs, minus
    provider absences. For needs without a confirmed series only (module docstring): the caller
    leaves the scheduled needs out and adds `fetch_respite_occurrence_days`.
    """
    out: dict[int, list[dt.date]] = defaultdict(list)
    for need in needs:
        if need.service != RESPITE or need.status not in SERVED:
            continue
        ranges = absences.get(need.provider_id, ()) if need.provider_id else ()
        for day in session_dates(need.starts_on, need.ends_on, float(need.sessions_per_week), since=since, until=until):
            if not _absent(day, ranges):
                out[need.placement_id].append(day)
    return out


def waiting_needs(needs: Iterable[NeedRow]) -> dict[int, list[NeedRow]]:
    """Open or proposed needs per placement: support decided but not yet delivered."""
    out: dict[int, list[NeedRow]] = defaultdict(list)
    for need in needs:
        if need.status in WAITING:
            out[need.placement_id].append(need)
    return out


def unmet_need_periods(needs: Iterable[NeedRow]) -> tuple[Period, ...]:
    """Each waiting need as a period from the day it was raised (or is meant to start, if later).

    Needs that have since been served are not periods here: the day a need was assigned is not
    stored (the matching service assigns with a queryset update). Re-scored past weeks therefore
    do not see needs that were waiting then but are served now; today's score is exact.
    """
    return tuple(Period(max(n.created_on, n.starts_on)) for n in needs)
