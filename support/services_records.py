"""Writes to the case records: households, children, placements and providers.

Keyword-only, typed, atomic; each validates, then saves, then records an audit entry, and
returns the object. Who may call them is decided before (the API's scoped querysets); these
functions hold the rules about the records themselves. Rule breaches raise DomainError with the
field to blame, so every caller reports them the same way. Audit details name changed fields,
never their values: values may be about a child.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models, transaction

from support import audit
from support.errors import Conflict, DomainError, InvalidTransition
from support.identity import hash_cpr
from support.models import (
    Child,
    Competence,
    Household,
    HouseholdKind,
    Membership,
    Municipality,
    Placement,
    PlacementStatus,
    Provider,
    Service,
)
from support.roles import Role

DEFAULT_TIME_ZONE = "Europe/Copenhagen"
_POSTCODE = re.compile(r"^\d{4}$")

HOUSEHOLD_EDITABLE = frozenset(
    {"name", "foster_type", "approved_places", "street", "postcode", "city", "latitude", "longitude",
     "languages", "time_zone", "email"}
)
CHILD_EDITABLE = frozenset({"display_name", "birth_date", "cpr"})
PLACEMENT_EDITABLE = frozenset(
    {"foster_household", "institution_name", "birth_households", "consultant", "starts_on", "planned_end_on"}
)
PROVIDER_EDITABLE = frozenset(
    {"kind", "name", "email", "phone", "languages", "latitude", "longitude", "max_travel_km", "offers_remote",
     "capacity_minutes_per_week", "max_cases", "time_zone", "is_active", "services", "competences",
     "municipalities"}
)


# --- Households --------------------------------------------------------------------------------------------


def create_household(
    *,
    by,
    municipality: Municipality,
    kind: str,
    name: str,
    foster_type: str = "",
    approved_places: int = 0,
    street: str = "",
    postcode: str = "",
    city: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    languages: Iterable[str] = ("da",),
    time_zone: str = DEFAULT_TIME_ZONE,
    email: str = "",
) -> Household:
    household = Household(
        municipality=municipality, kind=kind, name=name, foster_type=foster_type, approved_places=approved_places,
        street=street, postcode=postcode, city=city, latitude=latitude, longitude=longitude,
        languages=list(languages), time_zone=time_zone, email=email,
    )
    _validate_household(household)
    with transaction.atomic():
        household.save()
        audit.record(actor=by, action="household.create", obj=household)
    return household


def update_household(*, household: Household, by, changes: Mapping[str, Any]) -> Household:
    """Change a household's details. Its municipality and kind are fixed: memberships depend on them."""
    _apply(household, changes, editable=HOUSEHOLD_EDITABLE)
    _validate_household(household)
    with transaction.atomic():
        household.save(update_fields=sorted(changes) or None)
        audit.record(actor=by, action="household.update", obj=household, details={"fields": sorted(changes)})
    return household


def delete_household(*, household: Household, by) -> None:
    """Remove a household registered by mistake; one that anything refers to (members, placements,
    support, availability, ...) is kept."""
    _delete_unreferenced(household, by=by)


def _validate_household(household: Household) -> None:
    errors: dict[str, list[str]] = {}
    if household.postcode and not _POSTCODE.match(household.postcode):
        errors["postcode"] = ["A Danish postcode has four digits."]
    if (household.latitude is None) != (household.longitude is None):
        errors["latitude" if household.latitude is None else "longitude"] = ["Give both latitude and longitude."]
    _check_finite(household, ("latitude", "longitude"), errors)
    _check_time_zone(household.time_zone, errors)
    _full_clean(household, errors)


# --- Children ----------------------------------------------------------------------------------------------


def create_child(
    *, by, municipality: Municipality, display_name: str, birth_date: dt.date, today: dt.date, cpr: str = ""
) -> Child:
    """Register a child by a chosen name or initials; a CPR number, if given, is kept only as its hash."""
    child = Child(municipality=municipality, display_name=display_name, birth_date=birth_date)
    errors: dict[str, list[str]] = {}
    if cpr:
        child.cpr_hash = _hash_cpr(cpr, errors)
    _validate_child(child, today=today, errors=errors)
    with transaction.atomic():
        child.save()
        audit.record(actor=by, action="child.create", obj=child)
    return child


def update_child(*, child: Child, by, changes: Mapping[str, Any], today: dt.date) -> Child:
    changes = dict(changes)
    errors: dict[str, list[str]] = {}
    cpr = changes.pop("cpr", None)
    _apply(child, changes, editable=CHILD_EDITABLE)
    fields = sorted(changes)
    if cpr:
        child.cpr_hash = _hash_cpr(cpr, errors)
        fields.append("cpr_hash")
    _validate_child(child, today=today, errors=errors)
    with transaction.atomic():
        child.save(update_fields=fields or None)
        audit.record(actor=by, action="child.update", obj=child, details={"fields": fields})
    return child


def delete_child(*, child: Child, by) -> None:
    """Remove a child registered by mistake; a child with a placement is part of the record and stays."""
    _delete_unreferenced(child, by=by)


def _hash_cpr(cpr: str, errors: dict[str, list[str]]) -> str:
    try:
        return hash_cpr(cpr)
    except DomainError as exc:
        errors.setdefault("cpr", []).append(exc.message)
        return ""


def _validate_child(child: Child, *, today: dt.date, errors: dict[str, list[str]]) -> None:
    if isinstance(child.birth_date, dt.date) and child.birth_date > today:
        errors.setdefault("birth_date", []).append("The birth date is in the future.")
    if child.cpr_hash:
        twin = Child.objects.filter(municipality_id=child.municipality_id, cpr_hash=child.cpr_hash)
        if twin.exclude(pk=child.pk).exists():
            errors.setdefault("cpr", []).append("A child with this CPR number is already registered here.")
    _full_clean(child, errors)


# --- Placements --------------------------------------------------------------------------------------------


def create_placement(
    *,
    by,
    child: Child,
    starts_on: dt.date,
    foster_household: Household | None = None,
    institution_name: str = "",
    birth_households: Iterable[Household] = (),
    consultant=None,
    planned_end_on: dt.date | None = None,
) -> Placement:
    """Place a child with a foster household or an institution. A child has one active placement at a time."""
    placement = Placement(
        municipality_id=child.municipality_id, child=child, foster_household=foster_household,
        institution_name=institution_name, consultant=consultant, starts_on=starts_on,
        planned_end_on=planned_end_on,
    )
    birth = list(birth_households)
    _validate_placement(placement, birth)
    with transaction.atomic():
        # Lock the child so two people placing the same child at once cannot both succeed.
        Child.objects.select_for_update().filter(pk=child.pk).first()
        if Placement.objects.filter(child=child, status=PlacementStatus.ACTIVE).exists():
            raise Conflict(
                "The child already has an active placement; end it first.",
                fields={"child": ["Already placed."]},
            )
        placement.save()
        placement.birth_households.set(birth)
        audit.record(actor=by, action="placement.create", obj=placement)
    return placement


def update_placement(*, placement: Placement, by, changes: Mapping[str, Any]) -> Placement:
    """Correct an active placement. Ending it goes through end_placement or record_breakdown."""
    if placement.status != PlacementStatus.ACTIVE:
        raise InvalidTransition("Only an active placement can be changed; this one has ended.")
    changes = dict(changes)
    birth = changes.pop("birth_households", None)
    _apply(placement, changes, editable=PLACEMENT_EDITABLE)
    birth_list = list(placement.birth_households.all()) if birth is None else list(birth)
    _validate_placement(placement, birth_list)
    fields = sorted(changes)
    with transaction.atomic():
        if fields:
            placement.save(update_fields=fields)
        if birth is not None:
            placement.birth_households.set(birth_list)
            fields.append("birth_households")
        audit.record(actor=by, action="placement.update", obj=placement, details={"fields": fields})
    return placement


def delete_placement(*, placement: Placement, by) -> None:
    """Remove a placement registered by mistake. One with support is history: end it instead."""
    _delete_unreferenced(placement, by=by)


def _validate_placement(placement: Placement, birth_households: list[Household]) -> None:
    errors: dict[str, list[str]] = {}
    home, institution = placement.foster_household, placement.institution_name.strip()
    if home is None and not institution:
        errors["foster_household"] = ["Name the foster household or the institution."]
    if home is not None and institution:
        errors["institution_name"] = ["A placement is with a foster household or an institution, not both."]
    for household in birth_households:
        if household.kind != HouseholdKind.BIRTH:
            errors.setdefault("birth_households", []).append(f"{household.name} is not a birth-parent household.")
        elif household.municipality_id != placement.municipality_id:
            errors.setdefault("birth_households", []).append(f"{household.name} belongs to another municipality.")
    if placement.consultant_id and not Membership.objects.filter(
        user_id=placement.consultant_id, role=Role.CONSULTANT, municipality_id=placement.municipality_id
    ).exists():
        errors["consultant"] = ["Must be a consultant in the placement's municipality."]
    if isinstance(placement.starts_on, dt.date) and placement.starts_on < placement.child.birth_date:
        errors["starts_on"] = ["The placement starts before the child was born."]
    _full_clean(placement, errors)


# --- Providers -------------------------------------------------------------------------------------------


def create_provider(
    *,
    by,
    name: str,
    latitude: float,
    longitude: float,
    capacity_minutes_per_week: int,
    max_cases: int,
    services: Iterable[Service],
    municipalities: Iterable[Municipality],
    competences: Iterable[Competence] = (),
    kind: str = "person",
    email: str = "",
    phone: str = "",
    languages: Iterable[str] = ("da",),
    max_travel_km: int = 30,
    offers_remote: bool = False,
    time_zone: str = DEFAULT_TIME_ZONE,
    is_active: bool = True,
) -> Provider:
    provider = Provider(
        kind=kind, name=name, email=email, phone=phone, languages=list(languages), latitude=latitude,
        longitude=longitude, max_travel_km=max_travel_km, offers_remote=offers_remote,
        capacity_minutes_per_week=capacity_minutes_per_week, max_cases=max_cases, time_zone=time_zone,
        is_active=is_active,
    )
    services, municipalities, competences = list(services), list(municipalities), list(competences)
    _validate_provider(provider, services=services, municipalities=municipalities)
    with transaction.atomic():
        provider.save()
        provider.services.set(services)
        provider.competences.set(competences)
        provider.municipalities.set(municipalities)
        audit.record(actor=by, action="provider.create", obj=provider)
    return provider


def update_provider(*, provider: Provider, by, changes: Mapping[str, Any]) -> Provider:
    """Change a provider. `services`, `competences` and `municipalities` in `changes` replace the sets."""
    changes = dict(changes)
    related = {name: list(changes.pop(name)) for name in ("services", "competences", "municipalities") if name in changes}
    _apply(provider, changes, editable=PROVIDER_EDITABLE)
    _validate_provider(
        provider,
        services=related.get("services", list(provider.services.all())),
        municipalities=related.get("municipalities", list(provider.municipalities.all())),
    )
    fields = sorted(changes)
    with transaction.atomic():
        if fields:
            provider.save(update_fields=fields)
        for name, rows in related.items():
            getattr(provider, name).set(rows)
        audit.record(
            actor=by, action="provider.update", obj=provider, details={"fields": sorted(fields + list(related))}
        )
    return provider


def _validate_provider(provider: Provider, *, services: list[Service], municipalities: list[Municipality]) -> None:
    errors: dict[str, list[str]] = {}
    if not services:
        errors["services"] = ["A provider offers at least one service."]
    if not municipalities:
        errors["municipalities"] = ["A provider serves at least one municipality."]
    _check_finite(provider, ("latitude", "longitude"), errors)
    _check_time_zone(provider.time_zone, errors)
    _full_clean(provider, errors)


# --- Shared -----------------------------------------------------------------------------------------------


def _apply(obj: models.Model, changes: Mapping[str, Any], *, editable: frozenset[str]) -> None:
    fixed = sorted(set(changes) - editable)
    if fixed:
        raise DomainError(
            f"These fields cannot be changed: {', '.join(fixed)}.", code="read_only",
            fields={name: ["Cannot be changed."] for name in fixed},
        )
    for name, value in changes.items():
        setattr(obj, name, value)


def _check_finite(obj: models.Model, names: tuple[str, ...], errors: dict[str, list[str]]) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, float) and not math.isfinite(value):
            errors.setdefault(name, []).append("Must be a finite number.")


def _check_time_zone(name: str, errors: dict[str, list[str]]) -> None:
    if name not in _time_zones():
        errors.setdefault("time_zone", []).append("Use a time zone name such as Europe/Copenhagen.")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _full_clean(obj: models.Model, errors: dict[str, list[str]]) -> None:
    """Run the model's own checks and raise every problem found so far as one DomainError."""
    try:
        obj.full_clean(exclude=[name for name in errors if name != "non_field_errors"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            name = "non_field_errors" if field == "__all__" else field
            errors.setdefault(name, []).extend(str(m) for m in messages)
    if errors:
        raise DomainError(f"The {obj._meta.verbose_name} is not valid.", fields=errors)


def _delete_unreferenced(obj: models.Model, *, by) -> None:
    """Delete a record only if no other row refers to it, so a cascade never takes history with it.

    Checks every reverse relation, including ones added by later models, rather than a list that
    would go stale.
    """
    referring = sorted(
        str(rel.related_model._meta.verbose_name_plural)
        for rel in obj._meta.related_objects
        if rel.related_model._base_manager.filter(**{rel.field.name: obj}).exists()
    )
    if referring:
        raise Conflict(
            f"Other records refer to this {obj._meta.verbose_name} ({', '.join(referring)}), so it is kept.",
            code="referenced",
        )
    with transaction.atomic():
        audit.record(actor=by, action=f"{obj._meta.model_name}.delete", obj=obj)
        obj.delete()
