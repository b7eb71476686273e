"""Writes in the care domain: keyword-only, validated, atomic, audited.

Views, serializers and commands call these; they never change domain rows themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from support import audit
from support.errors import DomainError, InvalidTransition
from support.models import (
    BreakdownReason,
    Competence,
    Household,
    HouseholdKind,
    NeedOrigin,
    NeedStatus,
    Placement,
    PlacementStatus,
    Recipient,
    Service,
    SupportNeed,
)

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


# --- Placements --------------------------------------------------------------------------------------


def end_placement(*, placement: Placement, on: dt.date, by, note: str = "") -> Placement:
    """End an active placement as planned."""
    return _close_placement(placement=placement, status=PlacementStatus.ENDED, on=on, by=by, reason="", note=note)


def record_breakdown(*, placement: Placement, on: dt.date, reason: str, by, note: str = "") -> Placement:
    """Record that an active placement broke down (sammenbrud), with the date and the reason."""
    if reason not in BreakdownReason.values:
        raise DomainError(
            f"Unknown breakdown reason {reason!r}.", code="invalid_reason",
            fields={"breakdown_reason": [f"Choose one of: {', '.join(BreakdownReason.values)}."]},
        )
    return _close_placement(
        placement=placement, status=PlacementStatus.BROKE_DOWN, on=on, by=by, reason=reason, note=note
    )


def _close_placement(*, placement: Placement, status: str, on: dt.date, by, reason: str, note: str) -> Placement:
    with transaction.atomic():
        # Re-read under lock so two people closing the same placement cannot both succeed.
        locked = Placement.objects.select_for_update().get(pk=placement.pk)
        if locked.status != PlacementStatus.ACTIVE:
            raise InvalidTransition(
                f"The placement is already {locked.get_status_display().lower()}; only an active placement can end."
            )
        if on < locked.starts_on:
            raise DomainError("A placement cannot end before it started.", fields={"ended_on": ["before start"]})
        locked.status = status
        locked.ended_on = on
        locked.breakdown_reason = reason
        locked.end_note = note
        locked.save(update_fields=["status", "ended_on", "breakdown_reason", "end_note"])
        # Support for a placement that has ended is ended too; nothing is deleted. A need that was
        # to start later ends on its own start date, so its dates stay consistent.
        ended = locked.support_needs.exclude(status=NeedStatus.ENDED).update(
            status=NeedStatus.ENDED,
            ends_on=Case(When(starts_on__gt=on, then=F("starts_on")), default=Value(on)),
            updated_at=timezone.now(),
        )
        audit.record(
            actor=by, action=f"placement.{status}", obj=locked, details={"reason": reason, "needs_ended": ended}
        )
    placement.refresh_from_db()
    return placement


# --- Support needs -----------------------------------------------------------------------------------------


def create_support_need(
    *,
    placement: Placement,
    recipient: str,
    service: str,
    minutes_per_session: int,
    sessions_per_week: Decimal | float | str,
    starts_on: dt.date,
    by,
    recipient_household: Household | None = None,
    required_competences: Iterable[str] = (),
    preferred_competences: Iterable[str] = (),
    language: str = "da",
    remote_ok: bool = False,
    priority: int = 3,
    ends_on: dt.date | None = None,
    origin: str = NeedOrigin.CONSULTANT,
    reason: str = "",
) -> SupportNeed:
    """Create an open support need after checking every rule; errors name the field."""
    errors: dict[str, list[str]] = {}
    required = sorted(set(required_competences))
    preferred = sorted(set(preferred_competences))

    service_obj = Service.objects.filter(code=service).first()
    if service_obj is None:
        errors.setdefault("service", []).append(f"Unknown service {service!r}.")
    known = {c.code: c for c in Competence.objects.filter(code__in=set(required) | set(preferred))}
    for name, codes in (("required_competences", required), ("preferred_competences", preferred)):
        unknown = [c for c in codes if c not in known]
        if unknown:
            errors.setdefault(name, []).append(f"Unknown competence(s): {', '.join(unknown)}.")
    try:
        per_week = Decimal(str(sessions_per_week))
        if not per_week.is_finite() or per_week <= 0:
            raise InvalidOperation
        if per_week > 14:
            errors.setdefault("sessions_per_week", []).append("At most 14 sessions a week.")
    except (InvalidOperation, ValueError):
        errors.setdefault("sessions_per_week", []).append("Must be a number greater than 0.")
        per_week = Decimal(0)
    if not isinstance(minutes_per_session, int) or minutes_per_session <= 0:
        errors.setdefault("minutes_per_session", []).append("Must be a whole number of minutes greater than 0.")
    if not isinstance(priority, int) or not 1 <= priority <= 5:
        errors.setdefault("priority", []).append("Must be a whole number from 1 (routine) to 5 (acute).")
    if recipient not in Recipient.values:
        errors.setdefault("recipient", []).append(f"Choose one of: {', '.join(Recipient.values)}.")
    if origin not in NeedOrigin.values:
        errors.setdefault("origin", []).append(f"Choose one of: {', '.join(NeedOrigin.values)}.")
    if not isinstance(language, str) or not LANGUAGE_CODE.match(language):
        errors.setdefault("language", []).append("Use a language code such as 'da', 'en' or 'ar'.")
    if starts_on < placement.starts_on:
        errors.setdefault("starts_on", []).append("Support cannot start before the placement does.")
    if ends_on and ends_on < starts_on:
        errors.setdefault("ends_on", []).append("The end is before the start.")
    if not placement.is_active:
        errors.setdefault("placement", []).append("Support can only be added to an active placement.")

    household = _recipient_household(placement, recipient, recipient_household, errors)
    if errors:
        raise DomainError("The support need is not valid.", code="invalid", fields=errors)

    with transaction.atomic():
        need = SupportNeed.objects.create(
            municipality_id=placement.municipality_id,
            placement=placement,
            recipient=recipient,
            recipient_household=household,
            service=service_obj,
            minutes_per_session=minutes_per_session,
            sessions_per_week=per_week,
            language=language,
            remote_ok=remote_ok,
            priority=priority,
            starts_on=starts_on,
            ends_on=ends_on,
            origin=origin,
            reason=reason,
            created_by=by if getattr(by, "is_authenticated", False) else None,
        )
        need.required_competences.set([known[c] for c in required])
        need.preferred_competences.set([known[c] for c in preferred])
        audit.record(actor=by, action="support_need.create", obj=need, details={"service": service})
    return need


def _recipient_household(
    placement: Placement, recipient: str, given: Household | None, errors: dict[str, list[str]]
) -> Household | None:
    if recipient in (Recipient.FOSTER_HOUSEHOLD, Recipient.CHILD):
        if placement.foster_household is None:
            errors.setdefault("recipient", []).append("This placement has no foster household.")
            return None
        if given is not None and given.pk != placement.foster_household_id:
            errors.setdefault("recipient_household", []).append("Must be the placement's foster household.")
        return placement.foster_household
    if recipient == Recipient.BIRTH_HOUSEHOLD:
        birth = list(placement.birth_households.all())
        if given is None:
            if len(birth) != 1:
                errors.setdefault("recipient_household", []).append(
                    "Name which birth-parent household receives the support."
                )
                return None
            return birth[0]
        if given.kind != HouseholdKind.BIRTH or given.pk not in {h.pk for h in birth}:
            errors.setdefault("recipient_household", []).append("Not a birth household of this placement.")
        return given
    return None


def separate_needs(*, need: SupportNeed, other: SupportNeed, by) -> None:
    """Keep two needs with different providers (symmetric), e.g. foster supervision and birth-family help."""
    if need.pk == other.pk:
        raise DomainError("A need cannot be kept separate from itself.", fields={"separate_from": ["self"]})
    if need.municipality_id != other.municipality_id:
        raise DomainError("Both needs must belong to the same municipality.", fields={"separate_from": ["scope"]})
    with transaction.atomic():
        need.separate_from.add(other)
        audit.record(actor=by, action="support_need.separate", obj=need, details={"other": other.pk})
