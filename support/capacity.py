"""The team lead's capacity dashboard: capacity, carers' ledger, waiting needs and risk, set-based.

`capacity_report` answers one municipality's figures for the next 12 weeks in a constant number
of queries, whatever the number of providers, weeks, needs or placements: every `_fetch_*`
helper is one query (or one plus its prefetches), and the rest is arithmetic on what was
fetched. The page (web.capacity) and the CSV export read the same report, so they never differ.

Definitions, in one place (the page repeats them in words):

* **Week**: Monday to Sunday in local time (Europe/Copenhagen), starting with this week.
* **Capacity** of a provider in a week: `capacity_minutes_per_week`, less the share of its
  working days (the days of its weekly availability, Monday to Friday if it has none) on which
  it is absent (ProviderAbsence; an absence covers each local day it touches, as in
  support.wellbeing.derived).
* **Booked** minutes of a provider in a week: its held session occurrences (scheduled or moved,
  of proposed or active series: proposals hold their time) by local start day, plus meetings it
  attends. A session counts its length; a respite weekend counts its need's minutes per session,
  the unit its capacity is measured in. Bookings in every municipality the provider serves
  count, since capacity is shared; only totals leave this module.
* **Per service / per competence**: the pool of providers offering that service (having that
  competence): their capacity against all their booked minutes. A provider counts in every pool
  it belongs to.
* **Near capacity**: 85 % or more of the week's capacity in any of the 12 weeks, or of the
  weekly minutes promised by its assigned needs; **over**: more than 100 %.
* **Carers' ledger**: the milestones support.wellbeing.milestones generates from the rules
  (course days and supervision owed for the year) against CarerSupportDelivery in that year.
* **Waiting needs**: open or proposed support needs; waiting since the day raised or the day
  meant to start, whichever is later. Reasons come from the latest matching run that left the
  need unmatched, unless a later run proposed a provider for it.
* **Risk**: each placement's latest score now, and its latest score computed on or before the
  same day last month; a placement without a score shows as "no recent data", never green.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from scheduler.geo import haversine_km
from scheduler.models import (
    BOOKED_STATUSES,
    MeetingParticipant,
    MeetingStatus,
    Proposal,
    SeriesKind,
    SeriesStatus,
    SessionOccurrence,
    UnmatchedNeed,
)
from support.errors import NotFoundInScope
from support.models import (
    CarerSupportDelivery,
    CarerSupportKind,
    Household,
    Level,
    Membership,
    Milestone,
    MilestoneStatus,
    Municipality,
    NeedStatus,
    Placement,
    PlacementStatus,
    Provider,
    RiskScore,
    SupportNeed,
)
from support.roles import STAFF_ROLES, scope_for
from support.wellbeing import rules as milestone_rules
from support.wellbeing.alerts import OverrideFigures, override_rates
from support.wellbeing.dates import add_months
from support.wellbeing.derived import fetch_provider_absences, fetch_provider_loads
from support.wellbeing.milestones import _ledger_year

WEEKS = 12
NEAR = Decimal("0.85")
WAITING = (NeedStatus.OPEN, NeedStatus.PROPOSED)
LEVELS = (Level.GREEN, Level.YELLOW, Level.RED, Level.NO_DATA)
WEEKDAY_INDEX = {code: i for i, code in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
DEFAULT_WORKING_DAYS = frozenset(range(5))
OVERRIDE_WINDOW_DAYS = 90


# --- Results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the team lead narrowed the figures to; None / "" means all."""

    team_id: int | None = None
    service_id: int | None = None
    competence_id: int | None = None
    area: str = ""

    def as_details(self) -> dict:
        """For the audit trail: ids and the area name, no free text."""
        return {"team": self.team_id, "service": self.service_id, "competence": self.competence_id,
                "area": self.area or None}


@dataclass(frozen=True)
class Cell:
    booked: int
    capacity: int

    @property
    def ratio(self) -> Decimal | None:
        if self.capacity <= 0:
            return None
        return (Decimal(self.booked) / Decimal(self.capacity)).quantize(Decimal("0.001"))

    @property
    def percent(self) -> int | None:
        ratio = self.ratio
        return None if ratio is None else int((ratio * 100).to_integral_value())

    @property
    def band(self) -> str:
        """low (<50 %), medium (50-84 %), near (85-100 %), over (>100 %), or none (no capacity)."""
        return band_of(self.ratio, booked=self.booked)


def band_of(ratio: Decimal | None, *, booked: int = 0) -> str:
    if ratio is None:
        return "over" if booked > 0 else "none"
    if ratio > 1:
        return "over"
    if ratio >= NEAR:
        return "near"
    if ratio >= Decimal("0.5"):
        return "medium"
    return "low"


@dataclass
class HeatRow:
    kind: str  # provider, service or competence
    key: str  # the provider id, the service or competence code
    name_da: str
    name_en: str
    cells: list[Cell]
    providers: int = 1  # in the pool (services and competences)


@dataclass
class ProviderFigures:
    id: int
    name: str
    capacity_per_week: int
    committed_minutes: int  # weekly minutes of its assigned needs (all municipalities)
    cases: int
    max_cases: int
    cells: list[Cell]
    service_codes: tuple[str, ...] = ()
    competence_codes: tuple[str, ...] = ()

    @property
    def committed_ratio(self) -> Decimal | None:
        return Cell(self.committed_minutes, self.capacity_per_week).ratio

    @property
    def peak(self) -> tuple[int, Cell]:
        """The week index and cell with the highest use (the first of equals)."""
        def use(item):
            ratio = item[1].ratio
            return Decimal("Infinity") if ratio is None and item[1].booked else (ratio or Decimal(0))
        return max(enumerate(self.cells), key=use)

    @property
    def status(self) -> str:
        """over, near or "" (below 85 % everywhere)."""
        bands = {c.band for c in self.cells} | {band_of(self.committed_ratio, booked=self.committed_minutes)}
        if "over" in bands:
            return "over"
        return "near" if "near" in bands else ""


@dataclass(frozen=True)
class LedgerRow:
    household_id: int
    household_name: str
    area: str
    foster_type: str
    course_days_owed: Decimal
    course_days_delivered: Decimal
    supervision_owed: int  # sessions owed in the year
    supervision_due_so_far: int  # of those, due by today
    supervision_delivered: Decimal
    supervision_overdue: int  # due before today and not delivered

    @property
    def course_days_missing(self) -> Decimal:
        return max(Decimal(0), self.course_days_owed - self.course_days_delivered)

    @property
    def behind(self) -> bool:
        return self.supervision_overdue > 0


@dataclass(frozen=True)
class WaitingNeed:
    need_id: int
    placement_id: int
    service_code: str
    service_da: str
    service_en: str
    recipient: str
    priority: int
    status: str
    area: str
    consultant: str  # username, or ""
    waiting_since: dt.date
    waiting_days: int
    reasons: tuple[str, ...] = ()
    reasons_run_id: int | None = None
    reason_details: tuple[dict, ...] = ()  # the same reasons as data, for the reader's language


@dataclass
class RiskDistribution:
    now: dict[str, int]
    month_ago: dict[str, int]
    as_of: dt.date
    compared_with: dt.date

    @property
    def change(self) -> dict[str, int]:
        return {level: self.now[level] - self.month_ago[level] for level in LEVELS}

    @property
    def total_now(self) -> int:
        return sum(self.now.values())

    @property
    def total_month_ago(self) -> int:
        return sum(self.month_ago.values())


@dataclass(frozen=True)
class OverrideLine:
    label: str
    figures: OverrideFigures
    is_team: bool = False


@dataclass
class CapacityReport:
    municipality: Municipality
    filters: Filters
    today: dt.date
    weeks: list[dt.date]
    providers: list[ProviderFigures]
    by_service: list[HeatRow]
    by_competence: list[HeatRow]
    ledger: list[LedgerRow]
    ledger_year: int
    waiting: list[WaitingNeed]
    risk: RiskDistribution
    overrides: list[OverrideLine]
    override_since: dt.date
    areas: list[str] = field(default_factory=list)

    @property
    def provider_rows(self) -> list[HeatRow]:
        return [HeatRow("provider", str(p.id), p.name, p.name, p.cells) for p in self.providers]

    @property
    def near_or_over(self) -> list[ProviderFigures]:
        flagged = [p for p in self.providers if p.status]
        return sorted(flagged, key=lambda p: (p.status != "over", p.name, p.id))


# --- Pure helpers ----------------------------------------------------------------------------------------


def week_starts(today: dt.date, weeks: int = WEEKS) -> list[dt.date]:
    """The Mondays of this week and the following ones."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday + dt.timedelta(weeks=k) for k in range(weeks)]


def weekly_capacity(*, capacity_per_week: int, working_days: frozenset[int], absent_days: set[dt.date],
                    monday: dt.date) -> int:
    """The week's capacity, less the share of working days the provider is absent (whole minutes, down)."""
    days = working_days or DEFAULT_WORKING_DAYS
    absent = sum(1 for d in days if monday + dt.timedelta(days=d) in absent_days)
    return capacity_per_week * (len(days) - absent) // len(days)


def pool_rows(providers: list[ProviderFigures], *, kind: str, names: dict[str, tuple[str, str]],
              weeks: int) -> list[HeatRow]:
    """Per service (or competence): the pool of providers with it, their capacity and bookings summed."""
    pools: dict[str, list[ProviderFigures]] = defaultdict(list)
    for p in providers:
        for code in (p.service_codes if kind == "service" else p.competence_codes):
            pools[code].append(p)
    rows = []
    for code in sorted(pools, key=lambda c: (names.get(c, (c, c))[0], c)):
        members = pools[code]
        cells = [Cell(sum(m.cells[k].booked for m in members), sum(m.cells[k].capacity for m in members))
                 for k in range(weeks)]
        da, en = names.get(code, (code, code))
        rows.append(HeatRow(kind, code, da, en, cells, providers=len(members)))
    return rows


def _absent_dates(ranges: list[tuple[dt.date, dt.date]], first: dt.date, last: dt.date) -> set[dt.date]:
    out = set()
    for start, end in ranges:
        day = max(start, first)
        while day <= min(end, last):
            out.add(day)
            day += dt.timedelta(days=1)
    return out


# --- The report ---------------------------------------------------------------------------------------------


def capacity_report(*, user, municipality: Municipality, filters: Filters, today: dt.date,
                    now: dt.datetime) -> CapacityReport:
    """Every figure of the dashboard for one municipality the user is staff in (consultant or team lead)."""
    scope = scope_for(user)
    if municipality.pk not in scope.staff_municipality_ids:
        raise NotFoundInScope("Not found.")
    weeks = week_starts(today)
    team_members = _team_members(municipality, filters.team_id)
    area_points = _area_points(municipality)
    providers, service_names, competence_names = _provider_figures(
        user, municipality, filters, weeks, area_points.get(filters.area)
    )
    year = today.year
    override_since = now - dt.timedelta(days=OVERRIDE_WINDOW_DAYS)
    overrides = _override_lines(municipality, filters, team_members, since=override_since, until=now)
    return CapacityReport(
        municipality=municipality, filters=filters, today=today, weeks=weeks, providers=providers,
        by_service=pool_rows(providers, kind="service", names=service_names, weeks=len(weeks)),
        by_competence=pool_rows(providers, kind="competence", names=competence_names, weeks=len(weeks)),
        ledger=_ledger(user, municipality, filters, team_members, year=year, today=today), ledger_year=year,
        waiting=_waiting(user, municipality, filters, team_members, today=today),
        risk=_risk(user, municipality, filters, team_members, today=today),
        overrides=overrides, override_since=timezone.localdate(override_since),
        areas=sorted(area_points),
    )


def _team_members(municipality: Municipality, team_id: int | None) -> set[int] | None:
    """The staff of one team (None: no team filter). One query when filtered."""
    if team_id is None:
        return None
    return set(Membership.objects.filter(municipality=municipality, team_id=team_id, role__in=STAFF_ROLES)
               .values_list("user_id", flat=True))


def area_names(municipality: Municipality) -> list[str]:
    """The areas a team lead can filter by: the cities of the municipality's households (one query)."""
    return sorted(set(Household.objects.filter(municipality=municipality).exclude(city="")
                      .values_list("city", flat=True)))


def _area_points(municipality: Municipality) -> dict[str, tuple[float, float] | None]:
    """The municipality's areas (the cities of its households) and the mean location of each (one query)."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    names: set[str] = set()
    for city, lat, lon in Household.objects.filter(municipality=municipality).exclude(city="").values_list(
        "city", "latitude", "longitude"
    ):
        names.add(city)
        if lat is not None and lon is not None:
            points[city].append((lat, lon))
    return {
        name: (sum(p[0] for p in points[name]) / len(points[name]), sum(p[1] for p in points[name]) / len(points[name]))
        if points[name] else None
        for name in names
    }


def _reaches(provider: Provider, centre: tuple[float, float] | None) -> bool:
    """A provider serves an area when it offers remote sessions or the area is within its travel range."""
    if centre is None or provider.offers_remote:
        return True
    return haversine_km(provider.latitude, provider.longitude, *centre) <= provider.max_travel_km


Names = dict[str, tuple[str, str]]


def _provider_figures(user, municipality, filters: Filters, weeks: list[dt.date],
                      area_centre: tuple[float, float] | None) -> tuple[list[ProviderFigures], Names, Names]:
    """Each provider's 12 weeks, with the Danish and English names of its services and competences."""
    qs = Provider.objects.for_user(user).serving(municipality)
    if filters.service_id:
        qs = qs.filter(services__id=filters.service_id)
    if filters.competence_id:
        qs = qs.filter(competences__id=filters.competence_id)
    providers = [
        p for p in qs.prefetch_related("services", "competences", "availability").order_by("name", "id")
        if not filters.area or _reaches(p, area_centre)
    ]
    service_names: Names = {}
    competence_names: Names = {}
    if not providers:
        return [], service_names, competence_names
    ids = [p.pk for p in providers]
    first, last = weeks[0], weeks[-1] + dt.timedelta(days=6)
    tz = timezone.get_current_timezone()
    window_start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    window_end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

    booked: dict[int, list[int]] = {pid: [0] * len(weeks) for pid in ids}

    def add(pid: int, start: dt.datetime, minutes: int) -> None:
        k = (timezone.localdate(start, tz) - first).days // 7
        if 0 <= k < len(weeks):
            booked[pid][k] += minutes

    occurrences = SessionOccurrence.objects.filter(
        series__provider_id__in=ids, series__status__in=[SeriesStatus.PROPOSED, SeriesStatus.ACTIVE],
        status__in=BOOKED_STATUSES, start__gte=window_start, start__lt=window_end,
    ).values_list("series__provider_id", "series__kind", "series__need__minutes_per_session", "start", "end")
    for pid, kind, need_minutes, start, end in occurrences:
        minutes = need_minutes if kind == SeriesKind.RESPITE else int((end - start).total_seconds() // 60)
        add(pid, start, minutes)
    meetings = MeetingParticipant.objects.filter(
        provider_id__in=ids, attending=True, meeting__status=MeetingStatus.SCHEDULED,
        meeting__start__gte=window_start, meeting__start__lt=window_end,
    ).values_list("provider_id", "meeting__start", "meeting__end")
    for pid, start, end in meetings:
        add(pid, start, int((end - start).total_seconds() // 60))

    absences = fetch_provider_absences(ids, since=first, until=last)
    loads = fetch_provider_loads(ids)
    out = []
    for p in providers:
        working = frozenset(WEEKDAY_INDEX[w.day] for w in p.availability.all())
        absent = _absent_dates(absences.get(p.pk, []), first, last)
        cells = [
            Cell(booked[p.pk][k], weekly_capacity(capacity_per_week=p.capacity_minutes_per_week, working_days=working,
                                                  absent_days=absent, monday=monday))
            for k, monday in enumerate(weeks)
        ]
        load = loads.get(p.pk)
        # With a service (competence) filter, that is the only pool row: the provider's other
        # services would make rows of partial pools.
        services = sorted((s for s in p.services.all() if filters.service_id in (None, s.pk)), key=lambda s: s.code)
        competences = sorted((c for c in p.competences.all() if filters.competence_id in (None, c.pk)),
                             key=lambda c: c.code)
        service_names.update({s.code: (s.name_da, s.name_en) for s in services})
        competence_names.update({c.code: (c.name_da, c.name_en) for c in competences})
        out.append(ProviderFigures(
            id=p.pk, name=p.name, capacity_per_week=p.capacity_minutes_per_week,
            committed_minutes=round(load.booked_minutes_per_week) if load else 0,
            cases=load.cases if load else 0, max_cases=p.max_cases, cells=cells,
            service_codes=tuple(s.code for s in services), competence_codes=tuple(c.code for c in competences),
        ))
    return out, service_names, competence_names


def _ledger(user, municipality, filters: Filters, team_members: set[int] | None, *, year: int,
            today: dt.date) -> list[LedgerRow]:
    """Owed against delivered per foster family for `year`, from the ledger milestones (two queries)."""
    qs = (Milestone.objects.for_user(user).filter(municipality=municipality, household__isnull=False)
          .filter(_ledger_year(year)).exclude(status=MilestoneStatus.WITHDRAWN))
    if filters.area:
        qs = qs.filter(household__city=filters.area)
    if team_members is not None:
        qs = qs.filter(household_id__in=Placement.objects.filter(
            status=PlacementStatus.ACTIVE, consultant_id__in=team_members).values("foster_household_id"))
    families: dict[int, dict] = {}
    for hid, name, city, foster_type, rule, owed, due_on, status in qs.values_list(
        "household_id", "household__name", "household__city", "household__foster_type", "rule_code", "owed",
        "due_on", "status",
    ):
        row = families.setdefault(hid, {"name": name, "city": city, "type": foster_type, "course": Decimal(0),
                                        "owed": 0, "due": 0, "overdue": 0})
        if rule == milestone_rules.COURSE_DAYS:
            row["course"] = owed or Decimal(0)
        else:
            row["owed"] += 1
            if due_on <= today:
                row["due"] += 1
            if status != MilestoneStatus.DONE and due_on < today:
                row["overdue"] += 1
    delivered: dict[tuple[int, str], Decimal] = {}
    if families:
        for hid, kind, total in CarerSupportDelivery.objects.filter(
            municipality=municipality, household_id__in=qs.values("household_id"), on__year=year,
        ).values("household_id", "kind").annotate(total=Sum("amount")).values_list("household_id", "kind", "total"):
            delivered[(hid, kind)] = total
    rows = [
        LedgerRow(
            household_id=hid, household_name=f["name"], area=f["city"], foster_type=f["type"],
            course_days_owed=f["course"], course_days_delivered=delivered.get((hid, CarerSupportKind.COURSE_DAY), Decimal(0)),
            supervision_owed=f["owed"], supervision_due_so_far=f["due"],
            supervision_delivered=delivered.get((hid, CarerSupportKind.SUPERVISION), Decimal(0)),
            supervision_overdue=f["overdue"],
        )
        for hid, f in families.items()
    ]
    return sorted(rows, key=lambda r: (-r.supervision_overdue, -r.course_days_missing, r.household_name, r.household_id))


def _waiting(user, municipality, filters: Filters, team_members: set[int] | None, *,
             today: dt.date) -> list[WaitingNeed]:
    """Open or proposed needs with their waiting time and the latest unmatched reasons (three queries)."""
    qs = SupportNeed.objects.for_user(user).filter(municipality=municipality, status__in=WAITING)
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    if filters.competence_id:
        qs = qs.filter(Q(required_competences__id=filters.competence_id)
                       | Q(preferred_competences__id=filters.competence_id))
    if filters.area:
        qs = qs.filter(recipient_household__city=filters.area)
    if team_members is not None:
        qs = qs.filter(placement__consultant_id__in=team_members)
    rows = list(qs.values_list(
        "id", "placement_id", "service__code", "service__name_da", "service__name_en", "recipient", "priority",
        "status", "recipient_household__city", "placement__consultant__username", "created_at", "starts_on",
    ))
    if not rows:
        return []
    ids = qs.values("id")
    proposed_in = dict(Proposal.objects.filter(need_id__in=ids).values("need_id").annotate(run=Max("run_id"))
                       .values_list("need_id", "run"))
    reasons: dict[int, tuple[int, list, list]] = {}
    for need_id, run_id, why, details in UnmatchedNeed.objects.filter(need_id__in=ids).order_by(
        "need_id", "-run_id"
    ).values_list("need_id", "run_id", "reasons", "details"):
        reasons.setdefault(need_id, (run_id, why, details))
    out = []
    for nid, pid, code, da, en, recipient, priority, status, city, consultant, created_at, starts_on in rows:
        since = max(timezone.localdate(created_at), starts_on)
        run_id, why, details = reasons.get(nid, (None, [], []))
        if run_id is not None and proposed_in.get(nid, 0) > run_id:
            run_id, why, details = None, [], []  # a later run found a provider: the old reasons no longer apply
        out.append(WaitingNeed(
            need_id=nid, placement_id=pid, service_code=code, service_da=da, service_en=en, recipient=recipient,
            priority=priority, status=status, area=city, consultant=consultant or "", waiting_since=since,
            waiting_days=max(0, (today - since).days),
            reasons=tuple(str(r) for r in (why or []) if isinstance(r, str)), reasons_run_id=run_id,
            reason_details=tuple(d for d in (details or []) if isinstance(d, dict)),
        ))
    return sorted(out, key=lambda w: (-w.waiting_days, -w.priority, w.need_id))


def _risk(user, municipality, filters: Filters, team_members: set[int] | None, *, today: dt.date) -> RiskDistribution:
    """Levels of the placements active today and of those active a month ago (one query)."""
    month_ago = add_months(today, -1)
    latest = RiskScore.objects.filter(placement=OuterRef("pk"), latest=True).values("level")[:1]
    then = (RiskScore.objects.filter(placement=OuterRef("pk"), as_of__lte=month_ago)
            .order_by("-as_of", "-computed_at", "-pk").values("level")[:1])
    qs = Placement.objects.for_user(user).filter(municipality=municipality, starts_on__lte=today).filter(
        Q(status=PlacementStatus.ACTIVE) | Q(ended_on__gt=month_ago)
    )
    if filters.area:
        qs = qs.filter(foster_household__city=filters.area)
    if team_members is not None:
        qs = qs.filter(consultant_id__in=team_members)
    now_counts = dict.fromkeys(LEVELS, 0)
    then_counts = dict.fromkeys(LEVELS, 0)
    # The id is selected so that for_user's DISTINCT cannot fold two placements with the same figures.
    for _id, status, starts_on, ended_on, level_now, level_then in qs.annotate(
        level_now=Subquery(latest), level_then=Subquery(then)
    ).values_list("id", "status", "starts_on", "ended_on", "level_now", "level_then"):
        if status == PlacementStatus.ACTIVE:
            now_counts[level_now if level_now in now_counts else Level.NO_DATA] += 1
        if starts_on <= month_ago and (ended_on is None or ended_on > month_ago):
            then_counts[level_then if level_then in then_counts else Level.NO_DATA] += 1
    return RiskDistribution(now=now_counts, month_ago=then_counts, as_of=today, compared_with=month_ago)


def _override_lines(municipality, filters: Filters, team_members: set[int] | None, *, since: dt.datetime,
                    until: dt.datetime) -> list[OverrideLine]:
    """Agree against override per consultant and in total (or for the chosen team)."""
    report = override_rates(municipality_id=municipality.pk, since=since, until=until)
    lines = []
    for user_id, figures in sorted(report.by_consultant.items(),
                                   key=lambda item: report.consultant_names.get(item[0], "")):
        if user_id is None or (team_members is not None and user_id not in team_members):
            continue
        lines.append(OverrideLine(report.consultant_names.get(user_id, f"#{user_id}"), figures))
    if team_members is None:
        total = report.total
    else:
        total = OverrideFigures()
        for line in lines:
            for name in ("assessed", "agreed", "overridden", "overridden_lower", "overridden_higher",
                         "unassessed_flags"):
                setattr(total, name, getattr(total, name) + getattr(line.figures, name))
    lines.append(OverrideLine("", total, is_team=True))
    return lines
