"""Recording the signals the support-need index reads. Each service validates, saves, audits and,
after the transaction commits, asks for the placement to be re-scored (a django-q2 task).

("Signals" in the domain sense: reports about a placement. Not Django signals.)

Who may record what is checked here as a domain rule: the foster family reports its own
check-ins, incidents, carer SDQs and the child's view; staff of the municipality may record
everything. Which *reads* a person may see is the API's job.

Purpose limitation: check-ins, and above all the carers' stress answers, are collected to offer
the foster family support. They are never to be used for approval, oversight (tilsyn),
sanctions or pay (vederlag) decisions. Audit entries name what was recorded, never the answers
or free text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from support import audit
from support.errors import DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    CarerSupportDelivery,
    CarerSupportKind,
    CheckIn,
    ChildView,
    Household,
    HouseholdKind,
    Incident,
    IncidentKind,
    Placement,
    PlacementBackground,
    PlacementStatus,
    SchoolAbsence,
    SdqInformant,
    SdqScore,
    Stressor,
    StressorKind,
)
from support.roles import scope_for
from support.wellbeing import alerts

BACKGROUND_EDITABLE = frozenset({
    "prior_placements_elsewhere", "prior_breakdowns_elsewhere", "residential_history", "separated_from_siblings",
    "documented_maltreatment", "attends_school",
})


# Placements gathered by `recompute_in_one_go` instead of queued one task per change.
_gathered: ContextVar[set[int] | None] = ContextVar("wellbeing_gathered_recompute", default=None)


@contextmanager
def recompute_in_one_go() -> Iterator[set[int]]:
    """Gather the placements the changes in this block would re-score, instead of queueing a task
    per change; the caller re-scores the yielded set itself once it is done (the demo seed records
    several hundred signals and then scores every placement once)."""
    token = _gathered.set(set())
    try:
        yield _gathered.get()
    finally:
        _gathered.reset(token)


def enqueue_recompute(placement_ids: Iterable[int]) -> None:
    """Re-score these placements once the current transaction has committed."""
    ids = sorted(set(placement_ids))
    if not ids:
        return
    gathered = _gathered.get()
    if gathered is not None:
        gathered.update(ids)
        return

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task("support.wellbeing.tasks.recompute_placements", ids, task_name=f"wellbeing-recompute-{ids[0]}")

    # robust: with the broker down the change is still saved and answered (the nightly run re-scores).
    transaction.on_commit(enqueue, robust=True)


# --- Checks shared by the services ---------------------------------------------------------------------------


def _is_staff(user, municipality_id: int) -> bool:
    return municipality_id in scope_for(user).staff_municipality_ids


def _require(user, placement: Placement, *, family: bool) -> None:
    """Staff of the municipality; and, where `family`, the placement's own foster family."""
    if _is_staff(user, placement.municipality_id):
        return
    if family and placement.foster_household_id in scope_for(user).foster_household_ids:
        return
    raise NotFoundInScope("Not found.")


def _require_active(placement: Placement) -> None:
    if placement.status != PlacementStatus.ACTIVE:
        raise InvalidTransition("Signals can only be recorded for an active placement.")


def _check_day(on: dt.date, placement: Placement, now: dt.datetime, errors: dict, field: str = "on") -> None:
    if on > timezone.localdate(now):
        errors.setdefault(field, []).append("Cannot be in the future.")
    if on < placement.starts_on:
        errors.setdefault(field, []).append("Before the placement started.")


def _whole(value: Any, low: int, high: int | None, field: str, errors: dict, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        errors.setdefault(field, []).append(f"A whole number from {low}" + (f" to {high}." if high is not None else " up."))


def _raise(errors: dict, what: str) -> None:
    if errors:
        raise DomainError(f"The {what} is not valid.", fields=errors)


# --- The signals ----------------------------------------------------------------------------------------------


def record_checkin(
    *, placement: Placement, by, on: dt.date, stress: int, now: dt.datetime, help_now: bool = False,
    sleep: int | None = None, conflicts: int | None = None, commitment: int | None = None,
    problem_behaviours: int | None = None, sessions_missed: int | None = None, free_text: str = "",
) -> CheckIn:
    """The foster family's weekly check-in. "We need help now" alerts the consultant at once.

    Purpose-limited: for offering the family support only; never for approval, oversight
    (tilsyn), sanctions or pay (vederlag) decisions about the carers.
    """
    _require(by, placement, family=True)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    _check_day(on, placement, now, errors)
    _whole(stress, 0, 10, "stress", errors)
    _whole(sleep, 1, 5, "sleep", errors, optional=True)
    _whole(conflicts, 0, None, "conflicts", errors, optional=True)
    _whole(commitment, 0, 10, "commitment", errors, optional=True)
    _whole(problem_behaviours, 0, 30, "problem_behaviours", errors, optional=True)
    _whole(sessions_missed, 0, 14, "sessions_missed", errors, optional=True)
    if placement.foster_household_id is None:
        errors.setdefault("placement", []).append("Check-ins are for placements in a foster family.")
    _raise(errors, "check-in")
    with transaction.atomic():
        checkin = CheckIn.objects.create(
            municipality_id=placement.municipality_id, placement=placement, household_id=placement.foster_household_id,
            submitted_by=by if getattr(by, "is_authenticated", False) else None, on=on, stress=stress,
            help_now=bool(help_now), sleep=sleep, conflicts=conflicts, commitment=commitment,
            problem_behaviours=problem_behaviours, sessions_missed=sessions_missed, free_text=free_text.strip(),
        )
        # What was recorded, never the answers: the audit trail is read for other purposes.
        audit.record(actor=by, action="checkin.create", obj=checkin, details={"help_now": checkin.help_now})
        if checkin.help_now:
            alerts.raise_help_now_alert(checkin=checkin, now=now)
        enqueue_recompute([placement.pk])
    return checkin


def record_sdq(*, placement: Placement, by, on: dt.date, informant: str, total: int, now: dt.datetime,
               impact: int | None = None) -> SdqScore:
    """An SDQ total (0-40) and impact (carer/self 0-10, teacher 0-6). Carers may record their own."""
    _require(by, placement, family=informant == SdqInformant.PARENT)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    _check_day(on, placement, now, errors)
    if informant not in SdqInformant.values:
        errors["informant"] = [f"Choose one of: {', '.join(SdqInformant.values)}."]
    _whole(total, 0, 40, "total", errors)
    _whole(impact, 0, 6 if informant == SdqInformant.TEACHER else 10, "impact", errors, optional=True)
    _raise(errors, "SDQ")
    with transaction.atomic():
        sdq = SdqScore.objects.create(municipality_id=placement.municipality_id, placement=placement, on=on,
                                      informant=informant, total=total, impact=impact,
                                      recorded_by=by if getattr(by, "is_authenticated", False) else None)
        audit.record(actor=by, action="sdq.create", obj=sdq, details={"informant": informant})
        enqueue_recompute([placement.pk])
    return sdq


def record_school_absence(*, placement: Placement, by, month: dt.date, total_pct, now: dt.datetime,
                          unlawful_pct=0) -> SchoolAbsence:
    """School absence for one calendar month (total and unlawful, in %). A second report replaces the first."""
    _require(by, placement, family=False)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    month = month.replace(day=1)
    if month > timezone.localdate(now).replace(day=1):
        errors["month"] = ["Cannot be in the future."]
    values = {}
    for name, raw in (("total_pct", total_pct), ("unlawful_pct", unlawful_pct)):
        try:
            value = Decimal(str(raw))
            if not value.is_finite() or not 0 <= value <= 100:
                raise InvalidOperation
            values[name] = value.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors[name] = ["A percentage from 0 to 100."]
    if not errors and values["unlawful_pct"] > values["total_pct"]:
        errors["unlawful_pct"] = ["Unlawful absence cannot exceed total absence."]
    _raise(errors, "school absence")
    with transaction.atomic():
        row, _ = SchoolAbsence.objects.update_or_create(
            placement=placement, month=month,
            defaults={"municipality_id": placement.municipality_id, **values,
                      "recorded_by": by if getattr(by, "is_authenticated", False) else None},
        )
        audit.record(actor=by, action="school_absence.record", obj=row, details={"month": month.isoformat()})
        enqueue_recompute([placement.pk])
    return row


def record_incident(*, placement: Placement, by, on: dt.date, kind: str, now: dt.datetime, note: str = "") -> Incident:
    """An acute event. Any of the six kinds makes the level red for 30 days (model card § 7)."""
    _require(by, placement, family=True)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    _check_day(on, placement, now, errors)
    if kind not in IncidentKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(IncidentKind.values)}."]
    _raise(errors, "incident")
    with transaction.atomic():
        incident = Incident.objects.create(municipality_id=placement.municipality_id, placement=placement, on=on,
                                           kind=kind, note=note.strip(),
                                           recorded_by=by if getattr(by, "is_authenticated", False) else None)
        audit.record(actor=by, action="incident.create", obj=incident, details={"kind": kind})
        enqueue_recompute([placement.pk])
    return incident


def record_child_view(*, placement: Placement, by, on: dt.date, wellbeing: int, now: dt.datetime,
                      comment: str = "") -> ChildView:
    """The child's own answer, 1 (very bad) .. 5 (very good), and optionally their own words."""
    _require(by, placement, family=True)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    _check_day(on, placement, now, errors)
    _whole(wellbeing, 1, 5, "wellbeing", errors)
    _raise(errors, "child's view")
    with transaction.atomic():
        view = ChildView.objects.create(municipality_id=placement.municipality_id, placement=placement, on=on,
                                        wellbeing=wellbeing, comment=comment.strip(),
                                        recorded_by=by if getattr(by, "is_authenticated", False) else None)
        audit.record(actor=by, action="child_view.create", obj=view)
        enqueue_recompute([placement.pk])
    return view


def start_stressor(*, placement: Placement, by, kind: str, started_on: dt.date, now: dt.datetime) -> Stressor:
    """Record that a birth-family conflict or a fee renegotiation is open (driver D6)."""
    _require(by, placement, family=False)
    _require_active(placement)
    errors: dict[str, list[str]] = {}
    if kind not in StressorKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(StressorKind.values)}."]
    if started_on > timezone.localdate(now):
        errors["started_on"] = ["Cannot be in the future."]
    _raise(errors, "stressor")
    with transaction.atomic():
        stressor = Stressor.objects.create(municipality_id=placement.municipality_id, placement=placement, kind=kind,
                                           started_on=started_on,
                                           recorded_by=by if getattr(by, "is_authenticated", False) else None)
        audit.record(actor=by, action="stressor.start", obj=stressor, details={"kind": kind})
        enqueue_recompute([placement.pk])
    return stressor


def end_stressor(*, stressor: Stressor, by, ended_on: dt.date, now: dt.datetime) -> Stressor:
    _require(by, stressor.placement, family=False)
    if stressor.ended_on is not None:
        raise InvalidTransition("This stressor has already been resolved.")
    if ended_on < stressor.started_on or ended_on > timezone.localdate(now):
        raise DomainError("The end must lie between the start and today.", fields={"ended_on": ["Out of range."]})
    with transaction.atomic():
        stressor.ended_on = ended_on
        stressor.save(update_fields=["ended_on"])
        audit.record(actor=by, action="stressor.end", obj=stressor, details={"kind": stressor.kind})
        enqueue_recompute([stressor.placement_id])
    return stressor


def update_background(*, placement: Placement, by, changes: Mapping[str, Any], now: dt.datetime) -> PlacementBackground:
    """The static history used as baseline context. Never a protected attribute (model card § 3)."""
    _require(by, placement, family=False)
    unknown = set(changes) - BACKGROUND_EDITABLE
    if unknown:
        raise DomainError("Unknown fields.", fields={name: ["Not editable."] for name in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    for name in ("prior_placements_elsewhere", "prior_breakdowns_elsewhere"):
        if name in changes:
            _whole(changes[name], 0, 50, name, errors)
    for name in ("residential_history", "separated_from_siblings", "documented_maltreatment"):
        if name in changes and not isinstance(changes[name], bool):
            errors[name] = ["True or false."]
    if "attends_school" in changes and changes["attends_school"] not in (True, False, None):
        errors["attends_school"] = ["True, false or empty (derive from age)."]
    _raise(errors, "background")
    with transaction.atomic():
        background, _ = PlacementBackground.objects.get_or_create(placement=placement)
        for name, value in changes.items():
            setattr(background, name, value)
        background.updated_by = by if getattr(by, "is_authenticated", False) else None
        background.save()
        audit.record(actor=by, action="placement_background.update", obj=placement,
                     details={"fields": sorted(changes)})
        enqueue_recompute([placement.pk])
    return background


def record_carer_support(*, household: Household, by, kind: str, on: dt.date, now: dt.datetime,
                         amount: Decimal | int | str = 1, note: str = "") -> CarerSupportDelivery:
    """A course day or supervision session delivered to a foster family (the ledger's "delivered")."""
    from support.wellbeing.milestones import refresh_milestones

    if not _is_staff(by, household.municipality_id):
        raise NotFoundInScope("Not found.")
    errors: dict[str, list[str]] = {}
    if household.kind != HouseholdKind.FOSTER:
        errors["household"] = ["Only foster families have a ledger."]
    if kind not in CarerSupportKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(CarerSupportKind.values)}."]
    if on > timezone.localdate(now):
        errors["on"] = ["Cannot be in the future."]
    try:
        value = Decimal(str(amount))
        if not value.is_finite() or not 0 < value <= 10:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["amount"] = ["A number greater than 0 (days or sessions)."]
        value = Decimal(0)
    _raise(errors, "delivery")
    with transaction.atomic():
        delivery = CarerSupportDelivery.objects.create(
            municipality_id=household.municipality_id, household=household, kind=kind, on=on, amount=value,
            note=note.strip()[:200], recorded_by=by if getattr(by, "is_authenticated", False) else None,
        )
        audit.record(actor=by, action="carer_support.record", obj=delivery, details={"kind": kind})
        refresh_milestones(today=timezone.localdate(now), now=now, placement_ids=[], household_ids=[household.pk],
                           ledger_year=on.year)
        # Supervision that is no longer overdue changes driver D6 for every child in the family.
        enqueue_recompute(Placement.objects.filter(foster_household=household, status=PlacementStatus.ACTIVE)
                          .values_list("id", flat=True))
    return delivery
