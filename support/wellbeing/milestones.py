"""Statutory and long-term milestones, generated from the rules table, and the carers' ledger.

`refresh_milestones` turns the rules (support.wellbeing.rules) and the facts (placement start,
the child's birth date, the chosen follow-up cadence, goals, the foster family's placements and
the support delivered to it) into Milestone rows. It is idempotent: a row is identified by
(subject, rule_code, sequence), so running it again moves a due date, withdraws a row that no
longer applies or reopens one that applies again, and never touches a row a person marked done.

All arithmetic is on dates (support.wellbeing.dates), so DST cannot move a deadline. A
29 February birthday falls on 28 February in common years, the earlier day.

The carers' ledger: each year a foster family is owed course days and supervision sessions
(rules.CourseDaysRule, rules.SupervisionRule). "Owed" is stored as milestones (one for the
year's course days, one per supervision session, spread over the year); "delivered" is
CarerSupportDelivery. Delivered support completes the ledger milestones by itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from support import audit
from support.errors import DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    Alert,
    AlertKind,
    AlertStatus,
    CarerSupportDelivery,
    CarerSupportKind,
    FollowUpCadence,
    Goal,
    GoalStatus,
    Household,
    HouseholdKind,
    Milestone,
    MilestoneStatus,
    Placement,
    PlacementStatus,
)
from support.risk import Text
from support.roles import scope_for
from support.wellbeing import alerts as alerts_service
from support.wellbeing import rules as r
from support.wellbeing.conf import milestone_rules
from support.wellbeing.dates import add_months, birthday

LEDGER_RULES = (r.COURSE_DAYS, r.SUPERVISION)
PENDING = (MilestoneStatus.OPEN, MilestoneStatus.OVERDUE)


@dataclass(frozen=True)
class Wanted:
    """A milestone the rules say should exist today."""

    municipality_id: int
    placement_id: int | None
    household_id: int | None
    rule_code: str
    sequence: int
    title: Text
    due_on: dt.date
    warn_days: int
    source: str
    owed: Decimal | None = None
    delivered: Decimal | None = None
    done_on: dt.date | None = None  # ledger rows only: completed by deliveries

    @property
    def subject(self) -> str:
        return f"placement:{self.placement_id}" if self.placement_id else f"household:{self.household_id}"

    @property
    def uid(self) -> str:
        # Stable across regenerations: it names what the deadline is for, not the row.
        return f"{self.rule_code}-{self.sequence}-{self.subject.replace(':', '-')}@milestones.plejenet"


@dataclass(frozen=True)
class RefreshResult:
    created: int
    updated: int
    withdrawn: int


# --- Rules applied to one placement (pure) ---------------------------------------------------------------


def placement_milestones(*, placement_id: int, municipality_id: int, starts_on: dt.date, birth_date: dt.date,
                         planned_end_on: dt.date | None, follow_ups_done: dict[int, dt.date],
                         cadence_months: int | None, goals: Iterable[tuple[int, dt.date]] = (),
                         rules: r.MilestoneRules) -> list[Wanted]:
    """The child's statutory milestones for one placement, from its dates alone."""
    def wanted(code, seq, title, due, warn, source):
        return Wanted(municipality_id, placement_id, None, code, seq, title, due, warn, str(source))

    out = []
    plan = rules.child_plan
    out.append(wanted(r.CHILD_PLAN, 0, plan.title, add_months(starts_on, plan.months), plan.warn_days, plan.source))

    fu = rules.follow_up
    out.append(wanted(r.FOLLOW_UP, 1, fu.first_title, add_months(starts_on, fu.first_months), fu.warn_days, fu.source))
    # Each follow-up held brings the next one, at the cadence decided and justified (§ 95).
    seq = 1
    while seq in follow_ups_done:
        months = cadence_months or fu.default_cadence_months
        title, source = fu.next_title, str(fu.source)
        if cadence_months is None:
            title = Text(f"{fu.next_title.en} (default cadence: record the decided cadence)",
                         f"{fu.next_title.da} (standardkadence: registrér den besluttede kadence)")
            source = f"{fu.source}; {fu.default_source}"
        seq += 1
        out.append(wanted(r.FOLLOW_UP, seq, title, add_months(follow_ups_done[seq - 1], months), fu.warn_days, source))

    youth, after = rules.youth_plan, rules.aftercare
    sixteen, eighteen = birthday(birth_date, youth.at_age), birthday(birth_date, after.at_age)
    if starts_on < eighteen:
        # Ready within 3 months of the 16th birthday, or of the placement if it starts later.
        youth_from = max(sixteen, starts_on)
        if youth_from < eighteen:
            out.append(wanted(r.YOUTH_PLAN, 0, youth.title, add_months(youth_from, youth.months), youth.warn_days,
                              youth.source))
        ends_before_18 = planned_end_on is not None and planned_end_on < eighteen
        if not ends_before_18:
            due = max(add_months(eighteen, -after.months_before), starts_on)
            out.append(wanted(r.AFTERCARE, 0, after.title, due, after.warn_days, after.source))

    review = rules.goal_review
    for goal_id, review_on in goals:
        out.append(wanted(r.GOAL_REVIEW, goal_id, review.title, review_on, review.warn_days, review.source))
    return out


def household_ledger(*, household_id: int, municipality_id: int, foster_type: str, year: int,
                     spans: list[tuple[dt.date, dt.date, dt.date]], deliveries: list[tuple[str, dt.date, Decimal]],
                     rules: r.MilestoneRules) -> list[Wanted]:
    """What a foster family is owed in `year` and how much of it was delivered.

    `spans` holds, per placement, (placement start, first day in the year, last day in the year).
    """
    if not spans:
        return []
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    days_in_year = (dec31 - jan1).days + 1
    out: list[Wanted] = []

    course = rules.course_days
    if foster_type in course.foster_types:
        first_year = any(start <= dec31 and add_months(start, 12) > jan1 for start, _, _ in spans)
        owed = Decimal(course.first_year_days if first_year else course.days_per_year)
        source = f"{course.source}; {course.first_year_source}" if first_year else str(course.source)
        delivered, done_on = Decimal(0), None
        for kind, on, amount in sorted(deliveries, key=lambda d: d[1]):
            if kind == CarerSupportKind.COURSE_DAY:
                delivered += amount
                if done_on is None and delivered >= owed:
                    done_on = on
        out.append(Wanted(municipality_id, None, household_id, r.COURSE_DAYS, year, course.title, dec31,
                          course.warn_days, source, owed=owed, delivered=delivered, done_on=done_on))

    sup = rules.supervision
    expected = 0.0
    for start, first, last in spans:
        first_year_end = add_months(start, 12)  # first day after the placement's first year
        intensive = max(0, (min(last + dt.timedelta(days=1), first_year_end) - first).days)
        later = (last - first).days + 1 - intensive
        expected += intensive / days_in_year * sup.first_year_per_year + later / days_in_year * sup.sessions_for(foster_type)
    sessions = math.ceil(round(expected, 6))
    held = sorted(on for kind, on, _ in deliveries if kind == CarerSupportKind.SUPERVISION)
    begin = min(first for _, first, _ in spans)
    length = (dec31 - begin).days + 1
    for k in range(sessions):
        # Spread evenly: the k-th session is due by the end of the k-th share of the year.
        due = begin + dt.timedelta(days=math.ceil((k + 1) * length / sessions) - 1)
        out.append(Wanted(municipality_id, None, household_id, r.SUPERVISION, year * 1000 + k + 1, sup.title, due,
                          sup.warn_days, str(sup.source), owed=Decimal(1),
                          delivered=Decimal(1) if k < len(held) else Decimal(0),
                          done_on=held[k] if k < len(held) else None))
    return out


# --- Generating rows --------------------------------------------------------------------------------------


def refresh_milestones(*, today: dt.date, now: dt.datetime, placement_ids: Iterable[int] | None = None,
                       household_ids: Iterable[int] | None = None, ledger_year: int | None = None) -> RefreshResult:
    """Bring milestone rows in line with the rules for the given placements and households.

    With neither given, for every active placement and every foster household. The ledger is
    regenerated for `ledger_year` (default: today's year). A constant number of queries,
    whatever the number of placements.
    """
    rules = milestone_rules()
    placement_ids = None if placement_ids is None else list(placement_ids)
    household_ids = None if household_ids is None else list(household_ids)
    everything = placement_ids is None and household_ids is None
    placements = Placement.objects.filter(status=PlacementStatus.ACTIVE)
    if not everything:
        placements = placements.filter(id__in=list(placement_ids or ()))
    rows = list(placements.values_list("id", "municipality_id", "starts_on", "planned_end_on", "child__birth_date"))
    ids = [row[0] for row in rows]

    cadence: dict[int, int] = {}
    for pid, months in FollowUpCadence.objects.filter(placement_id__in=ids).order_by(
        "placement_id", "-decided_on", "-created_at", "-id"
    ).values_list("placement_id", "months"):
        cadence.setdefault(pid, months)
    goals = defaultdict(list)
    for goal_id, pid, review_on in Goal.objects.filter(placement_id__in=ids, status=GoalStatus.ACTIVE).values_list(
        "id", "placement_id", "review_on"
    ):
        goals[pid].append((goal_id, review_on))
    # Requested placements that have ended are included, so their pending rows get withdrawn.
    existing = _existing(Milestone.objects.filter(placement_id__in=ids if everything else list(placement_ids or ())))
    follow_ups_done: dict[int, dict[int, dt.date]] = defaultdict(dict)
    for m in existing:
        if m.rule_code == r.FOLLOW_UP and m.status == MilestoneStatus.DONE:
            follow_ups_done[m.placement_id][m.sequence] = timezone.localdate(m.done_at)

    wanted: list[Wanted] = []
    for pid, municipality_id, starts_on, planned_end_on, birth_date in rows:
        wanted += placement_milestones(
            placement_id=pid, municipality_id=municipality_id, starts_on=starts_on, birth_date=birth_date,
            planned_end_on=planned_end_on, follow_ups_done=follow_ups_done[pid], cadence_months=cadence.get(pid),
            goals=goals[pid], rules=rules,
        )

    # The carers' ledger, for the current year.
    year = ledger_year or today.year
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    households = Household.objects.filter(kind=HouseholdKind.FOSTER)
    if not everything:
        households = households.filter(id__in=list(household_ids or ()))
    household_rows = list(households.values_list("id", "municipality_id", "foster_type"))
    hids = [h[0] for h in household_rows]
    spans = defaultdict(list)
    for hid, start, ended in Placement.objects.filter(foster_household_id__in=hids, starts_on__lte=dec31).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=jan1)
    ).values_list("foster_household_id", "starts_on", "ended_on"):
        last = dec31 if ended is None else min(ended, dec31)
        spans[hid].append((start, max(start, jan1), last))
    deliveries = defaultdict(list)
    for hid, kind, on, amount in CarerSupportDelivery.objects.filter(
        household_id__in=hids, on__gte=jan1, on__lte=dec31
    ).values_list("household_id", "kind", "on", "amount"):
        deliveries[hid].append((kind, on, amount))
    for hid, municipality_id, foster_type in household_rows:
        wanted += household_ledger(household_id=hid, municipality_id=municipality_id, foster_type=foster_type,
                                   year=year, spans=spans[hid], deliveries=deliveries[hid], rules=rules)
    existing += _existing(Milestone.objects.filter(household_id__in=hids).filter(_ledger_year(year)))
    result = _reconcile(existing, wanted, today=today, now=now, version=rules.version)
    if everything:
        # Milestones of placements that have ended no longer apply.
        Milestone.objects.filter(status__in=PENDING, placement__isnull=False).exclude(
            placement__status=PlacementStatus.ACTIVE
        ).update(status=MilestoneStatus.WITHDRAWN)
    return result


def _ledger_year(year: int) -> Q:
    """The ledger milestones of one year (course days: sequence = year; supervision: year * 1000 + n)."""
    return Q(rule_code=r.COURSE_DAYS, sequence=year) | Q(
        rule_code=r.SUPERVISION, sequence__gt=year * 1000, sequence__lt=(year + 1) * 1000
    )


def _instance(row: _Row, now: dt.datetime) -> Milestone:
    """Just enough of a model instance for bulk_update: its key and the compared fields."""
    return Milestone(pk=row.pk, updated_at=now, **{f: getattr(row, f) for f in _COMPARED})


def _done_at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _status(due_on: dt.date, today: dt.date) -> str:
    return MilestoneStatus.OVERDUE if due_on < today else MilestoneStatus.OPEN


_COMPARED = ("title_en", "title_da", "due_on", "warn_on", "source", "rule_version", "status", "owed", "delivered",
             "done_at")


@dataclass
class _Row:
    """An existing milestone, read as values: comparing 200,000 rows as model instances is slow."""

    pk: int
    subject: str
    rule_code: str
    sequence: int
    placement_id: int | None
    title_en: str
    title_da: str
    due_on: dt.date
    warn_on: dt.date
    source: str
    rule_version: str
    status: str
    owed: Decimal | None
    delivered: Decimal | None
    done_at: dt.datetime | None


def _existing(queryset) -> list[_Row]:
    return [_Row(*values) for values in queryset.values_list(
        "pk", "subject", "rule_code", "sequence", "placement_id", *_COMPARED)]


def _reconcile(existing: list[_Row], wanted: list[Wanted], *, today: dt.date, now: dt.datetime,
               version: str) -> RefreshResult:
    by_key = {(m.subject, m.rule_code, m.sequence): m for m in existing}
    seen = set()
    create, update = [], []
    fields = [*_COMPARED, "updated_at"]
    for w in wanted:
        key = (w.subject, w.rule_code, w.sequence)
        seen.add(key)
        warn_on = w.due_on - dt.timedelta(days=w.warn_days)
        ledger = w.rule_code in LEDGER_RULES
        status = MilestoneStatus.DONE if (ledger and w.done_on) else _status(w.due_on, today)
        done_at = _done_at(w.done_on) if (ledger and w.done_on) else None
        m = by_key.get(key)
        if m is None:
            create.append(Milestone(
                municipality_id=w.municipality_id, subject=w.subject, placement_id=w.placement_id,
                household_id=w.household_id, rule_code=w.rule_code, rule_version=version, source=w.source[:300],
                sequence=w.sequence, title_en=w.title.en, title_da=w.title.da, due_on=w.due_on, warn_on=warn_on,
                status=status, owed=w.owed, delivered=w.delivered, done_at=done_at, uid=w.uid,
            ))
            continue
        if m.status == MilestoneStatus.DONE and not ledger:
            continue  # a person marked it done: history, never rewritten
        before = tuple(getattr(m, f) for f in _COMPARED)
        m.title_en, m.title_da, m.due_on, m.warn_on = w.title.en, w.title.da, w.due_on, warn_on
        m.source, m.rule_version, m.status, m.owed, m.delivered = w.source[:300], version, status, w.owed, w.delivered
        m.done_at = done_at if ledger else m.done_at
        if tuple(getattr(m, f) for f in _COMPARED) != before:
            update.append(_instance(m, now))
    withdrawn = 0
    for key, m in by_key.items():
        if key not in seen and m.status in PENDING:
            m.status = MilestoneStatus.WITHDRAWN
            update.append(_instance(m, now))
            withdrawn += 1
    with transaction.atomic():
        Milestone.objects.bulk_create(create, ignore_conflicts=True)
        Milestone.objects.bulk_update(update, fields, batch_size=500)
    return RefreshResult(created=len(create), updated=len(update) - withdrawn, withdrawn=withdrawn)


# --- Alerts for deadlines -----------------------------------------------------------------------------------


def raise_milestone_alerts(*, today: dt.date, now: dt.datetime) -> int:
    """Alert the responsible consultant once when a deadline is near, and once when it has passed.

    Only deadlines that pass now are alerted: one more than `overdue_alert_days` past (typically
    historic deadlines, generated when Plejenet is switched on for existing placements) shows as
    overdue in the lists but sends no alert, so consultants are not flooded on day one.
    """
    rules = milestone_rules()
    grace = rules.supervision.grace_days
    # A met or withdrawn deadline needs no alert any more.
    Alert.objects.filter(status=AlertStatus.OPEN, milestone__status__in=[MilestoneStatus.DONE, MilestoneStatus.WITHDRAWN]
                         ).update(status=AlertStatus.RESOLVED, acknowledged_at=now, outcome="done")
    Milestone.objects.filter(status=MilestoneStatus.OPEN, due_on__lt=today).update(status=MilestoneStatus.OVERDUE)
    recent = today - dt.timedelta(days=rules.overdue_alert_days)
    pending = list(
        Milestone.objects.filter(status__in=PENDING, warn_on__lte=today)
        .filter(Q(due_on__gte=recent) | Q(rule_code=r.SUPERVISION, due_on__gte=recent - dt.timedelta(days=grace)))
        .values_list("id", "subject", "municipality_id", "placement_id", "household_id", "rule_code", "due_on",
                     "placement__consultant_id")
    )
    if not pending:
        return 0
    raised = set(Alert.objects.filter(milestone_id__in=[p[0] for p in pending]).values_list("milestone_id", "key"))
    household_consultant = {}
    household_ids = {p[4] for p in pending if p[4]}
    for hid, consultant_id in Placement.objects.filter(
        foster_household_id__in=household_ids, status=PlacementStatus.ACTIVE, consultant__isnull=False
    ).order_by("starts_on").values_list("foster_household_id", "consultant_id"):
        household_consultant.setdefault(hid, consultant_id)
    new, superseded = [], []
    for mid, subject, municipality_id, placement_id, household_id, rule_code, due_on, consultant_id in pending:
        late = due_on < today
        if rule_code == r.SUPERVISION and (not late or (today - due_on).days <= grace):
            continue  # supervision sessions alert only when overdue beyond the grace period
        key = f"milestone:{mid}:{'overdue' if late else 'due'}"
        if (mid, key) in raised:
            continue  # one alert per deadline and stage, ever
        recipient = consultant_id if placement_id else household_consultant.get(household_id)
        new.append(Alert(
            municipality_id=municipality_id, subject=subject, placement_id=placement_id, household_id=household_id,
            recipient_id=recipient, kind=AlertKind.MILESTONE_OVERDUE if late else AlertKind.MILESTONE_DUE, key=key,
            milestone_id=mid, created_at=now, last_seen_at=now,
            email_state="pending" if recipient else "not_sent",
        ))
        if late:
            superseded.append(f"milestone:{mid}:due")
    if superseded:
        Alert.objects.filter(key__in=superseded, status=AlertStatus.OPEN).update(
            status=AlertStatus.RESOLVED, acknowledged_at=now, outcome="other",
            acknowledgement_note="Superseded by the overdue alert.",
        )
    return alerts_service.create_alerts(new)


# --- What people do ----------------------------------------------------------------------------------------


def _require_staff(user, municipality_id: int) -> None:
    if municipality_id not in scope_for(user).staff_municipality_ids:
        raise NotFoundInScope("Not found.")


def set_follow_up_cadence(*, placement: Placement, months: int, justification: str, by, on: dt.date,
                          now: dt.datetime) -> FollowUpCadence:
    """Record the follow-up cadence the consultant decided, with its justification (§ 95)."""
    _require_staff(by, placement.municipality_id)
    errors = {}
    if not isinstance(months, int) or not 1 <= months <= 24:
        errors["months"] = ["A whole number of months from 1 to 24."]
    if not justification.strip():
        errors["justification"] = ["Barnets lov § 95: the cadence must be justified."]
    if errors:
        raise DomainError("The follow-up cadence is not valid.", fields=errors)
    with transaction.atomic():
        cadence = FollowUpCadence.objects.create(placement=placement, months=months,
                                                 justification=justification.strip(), decided_on=on, decided_by=by)
        audit.record(actor=by, action="follow_up_cadence.set", obj=placement, details={"months": months})
        refresh_milestones(today=timezone.localdate(now), now=now, placement_ids=[placement.pk], household_ids=[])
    return cadence


def complete_milestone(*, milestone: Milestone, by, now: dt.datetime, note: str = "",
                       cadence_months: int | None = None, cadence_justification: str = "") -> Milestone:
    """Mark a deadline met. At the first follow-up the cadence must be decided and justified (§ 95)."""
    _require_staff(by, milestone.municipality_id)
    if milestone.rule_code in LEDGER_RULES:
        raise DomainError("Record the course day or supervision session delivered; the ledger closes it.",
                          code="ledger_milestone")
    if milestone.status not in PENDING:
        raise InvalidTransition("Only an open or overdue deadline can be marked done.")
    is_first_follow_up = milestone.rule_code == r.FOLLOW_UP and milestone.sequence == 1
    has_cadence = FollowUpCadence.objects.filter(placement_id=milestone.placement_id).exists()
    if is_first_follow_up and not has_cadence and cadence_months is None:
        raise DomainError("At the first follow-up, decide and justify how often to follow up from now on.",
                          code="cadence_required", fields={"cadence_months": ["Required at the first follow-up."]})
    today = timezone.localdate(now)
    with transaction.atomic():
        changed = Milestone.objects.filter(pk=milestone.pk, status__in=PENDING).update(
            status=MilestoneStatus.DONE, done_at=now, done_by=by, note=note.strip(), updated_at=now,
        )
        if changed != 1:
            raise InvalidTransition("Someone has just marked this deadline.")
        audit.record(actor=by, action="milestone.done", obj=milestone, details={"rule": milestone.rule_code})
        if cadence_months is not None:
            set_follow_up_cadence(placement=milestone.placement, months=cadence_months,
                                  justification=cadence_justification, by=by, on=today, now=now)
        alerts_service.resolve_alerts(subject=milestone.subject,
                                      keys=[f"milestone:{milestone.pk}:due", f"milestone:{milestone.pk}:overdue"],
                                      now=now)
        if milestone.placement_id:
            refresh_milestones(today=today, now=now, placement_ids=[milestone.placement_id], household_ids=[])
    milestone.refresh_from_db()
    return milestone


@dataclass(frozen=True)
class LedgerLine:
    kind: str
    year: int
    owed: Decimal
    delivered: Decimal
    overdue_sessions: int

    @property
    def balance(self) -> Decimal:
        """Still owed (positive) or delivered beyond the minimum (negative)."""
        return self.owed - self.delivered


def carer_support_ledger(*, household: Household, year: int, today: dt.date) -> list[LedgerLine]:
    """Owed against delivered for one foster family and year (refresh_milestones keeps it current)."""
    rows = list(Milestone.objects.filter(household=household).filter(_ledger_year(year))
                .exclude(status=MilestoneStatus.WITHDRAWN))
    delivered = defaultdict(Decimal)
    for kind, amount in CarerSupportDelivery.objects.filter(household=household, on__year=year).values_list("kind", "amount"):
        delivered[kind] += amount
    out = []
    course = [m for m in rows if m.rule_code == r.COURSE_DAYS]
    if course:
        out.append(LedgerLine(CarerSupportKind.COURSE_DAY, year, course[0].owed or Decimal(0),
                              delivered[CarerSupportKind.COURSE_DAY], 0))
    sessions = [m for m in rows if m.rule_code == r.SUPERVISION]
    if sessions:
        out.append(LedgerLine(CarerSupportKind.SUPERVISION, year, Decimal(len(sessions)),
                              delivered[CarerSupportKind.SUPERVISION],
                              sum(1 for m in sessions if m.status != MilestoneStatus.DONE and m.due_on < today)))
    return out


# --- Calendars -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarItem:
    uid: str
    title: str  # never the child's name
    date: dt.date


def upcoming_milestones_for(user, *, today: dt.date, days: int = 120) -> list[CalendarItem]:
    """A person's pending deadlines up to `days` ahead (overdue ones included), for their calendar feed.

    Consultants get the milestones of the placements they are responsible for, and the ledger
    milestones of those foster families; foster parents get their own family's ledger milestones.
    """
    scope = scope_for(user)
    until = today + dt.timedelta(days=days)
    q = Q(pk__in=[])
    if scope.staff_municipality_ids:
        q |= Q(placement__consultant=user, placement__status=PlacementStatus.ACTIVE)
        households = Placement.objects.filter(consultant=user, status=PlacementStatus.ACTIVE).values("foster_household_id")
        q |= Q(household_id__in=households)
    if scope.foster_household_ids:
        q |= Q(household_id__in=scope.foster_household_ids)
    rows = Milestone.objects.filter(q, status__in=PENDING, due_on__lte=until).order_by("due_on", "id").values_list(
        "uid", "title_da", "placement_id", "due_on"
    )
    return [
        CalendarItem(uid=uid, title=f"{title} (anbringelse #{pid})" if pid else title, date=due_on)
        for uid, title, pid, due_on in rows
    ]
