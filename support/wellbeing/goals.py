"""Goals with measurable indicators (the samarbejdskontrakt), and their progress from the signals.

A goal names an indicator, a baseline, a target, a direction and a review date. Its current
value is read from the signals already recorded (absence, incidents, SDQ, the child's view), or
from hand measurements for custom indicators, so progress needs no extra reporting. Each active
goal's review date becomes a milestone (support.wellbeing.milestones).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from statistics import fmean

from django.db import transaction
from django.utils import timezone

from support import audit
from support.errors import DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    ChildView,
    Goal,
    GoalDirection,
    GoalIndicator,
    GoalMeasurement,
    GoalStatus,
    Incident,
    IncidentKind,
    Placement,
    PlacementStatus,
    SchoolAbsence,
    SdqInformant,
    SdqScore,
)
from support.roles import scope_for
from support.wellbeing.dates import add_months, first_of_month

LATEST_WITHIN_DAYS = 365  # an SDQ or a child's answer older than this is not "current"


@dataclass(frozen=True)
class GoalProgress:
    goal_id: int
    current: float | None
    measured_on: dt.date | None
    progress: float | None  # share of the way from baseline to target, 0..1 (clamped)
    state: str  # "achieved" | "improving" | "no_change" | "worse" | "no_data"
    review_due: bool


def _require_staff(user, municipality_id: int) -> None:
    if municipality_id not in scope_for(user).staff_municipality_ids:
        raise NotFoundInScope("Not found.")


def _decimal(value, field: str, errors: dict) -> Decimal | None:
    try:
        d = Decimal(str(value))
        if not d.is_finite():
            raise InvalidOperation
        return d.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors[field] = ["A number."]
        return None


def create_goal(*, placement: Placement, by, title: str, indicator: str, baseline, target, direction: str,
                review_on: dt.date, now: dt.datetime, sdq_informant: str = SdqInformant.PARENT,
                window_days: int = 90) -> Goal:
    """Agree a measurable goal for the child's plan (Barnets lov § 92)."""
    from support.wellbeing.milestones import refresh_milestones

    _require_staff(by, placement.municipality_id)
    if placement.status != PlacementStatus.ACTIVE:
        raise InvalidTransition("Goals can only be set for an active placement.")
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = ["Required."]
    if indicator not in GoalIndicator.values:
        errors["indicator"] = [f"Choose one of: {', '.join(GoalIndicator.values)}."]
    if direction not in GoalDirection.values:
        errors["direction"] = ["Choose decrease or increase."]
    if sdq_informant not in SdqInformant.values:
        errors["sdq_informant"] = [f"Choose one of: {', '.join(SdqInformant.values)}."]
    if not isinstance(window_days, int) or not 7 <= window_days <= 730:
        errors["window_days"] = ["From 7 to 730 days."]
    b, t = _decimal(baseline, "baseline", errors), _decimal(target, "target", errors)
    if b is not None and t is not None and (
        (direction == GoalDirection.DECREASE and t >= b) or (direction == GoalDirection.INCREASE and t <= b)
    ):
        errors["target"] = ["The target must be better than the baseline in the chosen direction."]
    if review_on <= timezone.localdate(now):
        errors["review_on"] = ["The review date must be in the future."]
    if errors:
        raise DomainError("The goal is not valid.", fields=errors)
    with transaction.atomic():
        goal = Goal.objects.create(
            municipality_id=placement.municipality_id, placement=placement, title=title.strip(), indicator=indicator,
            sdq_informant=sdq_informant, window_days=window_days, baseline=b, target=t, direction=direction,
            review_on=review_on, created_by=by,
        )
        audit.record(actor=by, action="goal.create", obj=goal, details={"indicator": indicator})
        refresh_milestones(today=timezone.localdate(now), now=now, placement_ids=[placement.pk], household_ids=[])
    return goal


def record_goal_measurement(*, goal: Goal, by, on: dt.date, value, now: dt.datetime) -> GoalMeasurement:
    """A hand measurement, for goals with a custom indicator."""
    _require_staff(by, goal.municipality_id)
    errors: dict[str, list[str]] = {}
    if goal.indicator != GoalIndicator.CUSTOM:
        errors["goal"] = ["This goal is measured from the recorded signals."]
    if on > timezone.localdate(now):
        errors["on"] = ["Cannot be in the future."]
    number = _decimal(value, "value", errors)
    if errors:
        raise DomainError("The measurement is not valid.", fields=errors)
    with transaction.atomic():
        measurement = GoalMeasurement.objects.create(goal=goal, on=on, value=number, recorded_by=by)
        audit.record(actor=by, action="goal.measure", obj=goal)
    return measurement


def close_goal(*, goal: Goal, by, status: str, now: dt.datetime) -> Goal:
    from support.wellbeing.milestones import refresh_milestones

    _require_staff(by, goal.municipality_id)
    if status not in (GoalStatus.ACHIEVED, GoalStatus.CLOSED):
        raise DomainError("Choose achieved or closed.", fields={"status": ["Invalid."]})
    with transaction.atomic():
        if Goal.objects.filter(pk=goal.pk, status=GoalStatus.ACTIVE).update(status=status, closed_at=now) != 1:
            raise InvalidTransition("The goal is no longer active.")
        audit.record(actor=by, action=f"goal.{status}", obj=goal)
        refresh_milestones(today=timezone.localdate(now), now=now, placement_ids=[goal.placement_id], household_ids=[])
    goal.refresh_from_db()
    return goal


def goal_progress(goals: Sequence[Goal], *, today: dt.date) -> dict[int, GoalProgress]:
    """Current value and progress for each goal, with one query per kind of signal."""
    if not goals:
        return {}
    pids = {g.placement_id for g in goals}
    since = today - dt.timedelta(days=LATEST_WITHIN_DAYS)
    newest_month = first_of_month(today)
    quarter_start = add_months(newest_month, -3)

    absence = defaultdict(list)
    for pid, month, total, unlawful in SchoolAbsence.objects.filter(
        placement_id__in=pids, month__gte=quarter_start, month__lt=newest_month
    ).values_list("placement_id", "month", "total_pct", "unlawful_pct"):
        absence[pid].append((month, float(total), float(unlawful)))
    widest = max(g.window_days for g in goals)
    incidents = defaultdict(list)
    for pid, on, kind in Incident.objects.filter(
        placement_id__in=pids, on__gte=today - dt.timedelta(days=widest), on__lte=today
    ).values_list("placement_id", "on", "kind"):
        incidents[pid].append((on, kind))
    sdq = {}
    for pid, informant, on, total in SdqScore.objects.filter(placement_id__in=pids, on__gte=since, on__lte=today) \
            .order_by("on", "created_at").values_list("placement_id", "informant", "on", "total"):
        sdq[(pid, informant)] = (on, total)  # ordered oldest first: the last one wins
    views = {}
    for pid, on, wellbeing in ChildView.objects.filter(placement_id__in=pids, on__gte=since, on__lte=today) \
            .order_by("on", "created_at").values_list("placement_id", "on", "wellbeing"):
        views[pid] = (on, wellbeing)
    custom_ids = [g.pk for g in goals if g.indicator == GoalIndicator.CUSTOM]
    measured = {}
    for goal_id, on, value in GoalMeasurement.objects.filter(goal_id__in=custom_ids, on__lte=today) \
            .order_by("on", "created_at").values_list("goal_id", "on", "value"):
        measured[goal_id] = (on, float(value))

    out = {}
    for goal in goals:
        current, on = _current(goal, today, absence, incidents, sdq, views, measured)
        out[goal.pk] = _progress(goal, current, on, today)
    return out


def _current(goal, today, absence, incidents, sdq, views, measured) -> tuple[float | None, dt.date | None]:
    pid, kind = goal.placement_id, goal.indicator
    if kind in (GoalIndicator.ABSENCE_PCT, GoalIndicator.UNLAWFUL_ABSENCE_PCT):
        months = absence.get(pid)
        if not months:
            return None, None
        column = 1 if kind == GoalIndicator.ABSENCE_PCT else 2
        return round(fmean(m[column] for m in months), 2), max(m[0] for m in months)
    if kind in (GoalIndicator.SELF_HARM_COUNT, GoalIndicator.INCIDENT_COUNT):
        # Incidents are recorded as they happen, so none recorded in the window is a count of 0.
        since = today - dt.timedelta(days=goal.window_days)
        wanted = {IncidentKind.SELF_HARM} if kind == GoalIndicator.SELF_HARM_COUNT else set(IncidentKind.values)
        return float(sum(1 for on, k in incidents.get(pid, ()) if on >= since and k in wanted)), today
    if kind == GoalIndicator.SDQ_TOTAL:
        found = sdq.get((pid, goal.sdq_informant))
        return (None, None) if found is None else (float(found[1]), found[0])
    if kind == GoalIndicator.CHILD_WELLBEING:
        found = views.get(pid)
        return (None, None) if found is None else (float(found[1]), found[0])
    found = measured.get(goal.pk)
    return (None, None) if found is None else (found[1], found[0])


def _progress(goal: Goal, current: float | None, on: dt.date | None, today: dt.date) -> GoalProgress:
    review_due = goal.status == GoalStatus.ACTIVE and goal.review_on <= today
    if current is None:
        return GoalProgress(goal.pk, None, None, None, "no_data", review_due)
    baseline, target = float(goal.baseline), float(goal.target)
    sign = 1 if goal.direction == GoalDirection.DECREASE else -1
    moved, span = sign * (baseline - current), sign * (baseline - target)
    share = moved / span if span else 0.0
    if sign * (current - target) <= 0:
        state = "achieved"
    elif moved > 0:
        state = "improving"
    elif moved < 0:
        state = "worse"
    else:
        state = "no_change"
    return GoalProgress(goal.pk, current, on, round(max(0.0, min(1.0, share)), 3), state, review_due)
