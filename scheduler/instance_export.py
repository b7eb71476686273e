"""Export a municipality's open support needs and available providers as a `support-matching/1` instance.

Field names follow ../shared/specs/matching-instance.md. Providers carry their *remaining*
capacity: minutes and cases already taken by accepted assignments (in any municipality they
serve) are subtracted, so a run never plans on time that is already promised.
"""

from __future__ import annotations

import math
from collections import defaultdict

from django.db.models import Count, F, FloatField, Sum
from django.db.models.functions import Cast

from support.models import Municipality, NeedStatus, Provider, SupportNeed

FORMAT = "support-matching/1"
MATCHABLE_STATUSES = [NeedStatus.OPEN, NeedStatus.PROPOSED]


# Why a need was left out of the export (scheduler.services.matching stores it as its reason).
NO_COORDINATES = "The receiving household has no address coordinates, so reach cannot be checked."


def need_key(pk: int) -> str:
    return f"N{pk}"


def provider_key(pk: int) -> str:
    return f"P{pk}"


def key_to_pk(key: str) -> int:
    return int(key.lstrip("NP"))


def build_instance(*, municipality: Municipality, name: str) -> tuple[dict, list[tuple[int, str]]]:
    """Return (instance, skipped) where skipped lists (need pk, reason) for needs that cannot be exported."""
    providers = list(
        Provider.objects.serving(municipality).prefetch_related("services", "competences", "availability")
    )
    provider_ids = [p.pk for p in providers]
    used = {
        row["current_provider"]: row
        for row in SupportNeed.objects.filter(status=NeedStatus.ASSIGNED, current_provider__in=provider_ids)
        .values("current_provider")
        .annotate(
            minutes=Sum(Cast(F("minutes_per_session"), FloatField()) * Cast(F("sessions_per_week"), FloatField())),
            cases=Count("id"),
        )
    }
    needs = list(
        SupportNeed.objects.filter(municipality=municipality, status__in=MATCHABLE_STATUSES)
        .select_related("service", "recipient_household")
        .prefetch_related(
            "required_competences", "preferred_competences", "excluded_providers", "separate_from",
            "recipient_household__availability",
        )
        .order_by("pk")
    )
    # A need kept separate from an *assigned* need must not go to that need's provider.
    assigned_partner_providers: dict[int, set[int]] = defaultdict(set)
    for a, b_provider in SupportNeed.separate_from.through.objects.filter(
        from_supportneed__in=[n.pk for n in needs], to_supportneed__status=NeedStatus.ASSIGNED
    ).values_list("from_supportneed_id", "to_supportneed__current_provider_id"):
        if b_provider:
            assigned_partner_providers[a].add(b_provider)

    exported_ids = set()
    skipped: list[tuple[int, str]] = []
    need_docs = []
    for need in needs:
        home = need.recipient_household
        if not home.has_location:
            skipped.append((need.pk, NO_COORDINATES))
            continue
        exported_ids.add(need.pk)
        excluded = {p.pk for p in need.excluded_providers.all()} | assigned_partner_providers.get(need.pk, set())
        need_docs.append(
            {
                "id": need_key(need.pk),
                "service": need.service.code,
                "household": f"H{home.pk}",
                "placement": f"PL{need.placement_id}",
                "location": {"lat": home.latitude, "lon": home.longitude},
                "availability": [w.as_spec() for w in home.availability.all()],
                "minutes_per_session": need.minutes_per_session,
                "sessions_per_week": float(need.sessions_per_week),
                "required_competences": sorted(c.code for c in need.required_competences.all()),
                "preferred_competences": sorted(c.code for c in need.preferred_competences.all()),
                "language": need.language,
                "remote_ok": need.remote_ok,
                "priority": need.priority,
                "current_provider": provider_key(need.current_provider_id) if need.current_provider_id else None,
                "excluded_providers": sorted(provider_key(pk) for pk in excluded),
                "separate_from": [],
            }
        )
    by_key = {doc["id"]: doc for doc in need_docs}
    for need in needs:
        if need.pk in exported_ids:
            by_key[need_key(need.pk)]["separate_from"] = sorted(
                need_key(o.pk) for o in need.separate_from.all() if o.pk in exported_ids
            )

    provider_docs = []
    for provider in providers:
        taken = used.get(provider.pk, {"minutes": 0.0, "cases": 0})
        provider_docs.append(
            {
                "id": provider_key(provider.pk),
                "name": provider.name,
                "services": sorted(s.code for s in provider.services.all()),
                "competences": sorted(c.code for c in provider.competences.all()),
                "languages": list(provider.languages),
                "location": {"lat": provider.latitude, "lon": provider.longitude},
                "max_travel_km": provider.max_travel_km,
                "offers_remote": provider.offers_remote,
                # Floor the remainder: rounding up could promise minutes that are not there.
                "capacity_minutes_per_week": max(
                    0, math.floor(provider.capacity_minutes_per_week - (taken["minutes"] or 0.0) + 1e-6)
                ),
                "max_cases": max(0, provider.max_cases - taken["cases"]),
                "availability": [w.as_spec() for w in provider.availability.all()],
            }
        )
    return {"format": FORMAT, "name": name, "providers": provider_docs, "needs": need_docs}, skipped
