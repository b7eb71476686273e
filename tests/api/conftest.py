"""The named world, plus one of everything the API serves in each place it can be.

For every resource there is a row in the caller's own household or municipality, one in another
household of the same municipality, and one in the other municipality, so each test can ask
"own / other household's / other municipality's" of every role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support import services
from support.models import (
    Child,
    NeedStatus,
    Placement,
    Provider,
    ProviderAbsence,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)
from tests.conftest import TODAY, World, build_world
from tests.module_data import built_once

ROLES = [
    "consultant", "other_consultant", "team_lead", "foster_parent", "birth_parent", "provider_user",
    "administrator", "outsider",
]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counts live in the cache and are keyed by user id, which a new test may reuse.
    cache.clear()
    yield
    cache.clear()


@dataclass
class ApiWorld:
    w: World
    odense_team: Team
    other_child: Child
    other_placement: Placement
    odense_child: Child
    odense_provider: Provider
    need: SupportNeed  # assigned to w.provider, received by w.foster_home
    other_need: SupportNeed
    odense_need: SupportNeed
    availability: dict[str, WeeklyAvailability]
    absence: ProviderAbsence
    odense_absence: ProviderAbsence

    def user(self, role: str):
        return getattr(self.w, role)


def _need(placement, by) -> SupportNeed:
    return services.create_support_need(
        placement=placement, recipient="foster_household", service="supervision", minutes_per_session=90,
        sessions_per_week="0.5", starts_on=TODAY, by=by, required_competences=["trauma"], priority=4,
        reason="Fictional reason a provider must not read.",
    )


@pytest.fixture
def api_world(world) -> ApiWorld:
    return build_api_world(world)


@pytest.fixture(scope="module")
def _api_world_once(request, django_db_setup, django_db_blocker):
    """The API world built once for a module whose own `api_world` asks for it (tests/module_data.py):
    what each test writes is rolled back. Modules that do not ask get a fresh world per test."""
    yield from built_once(request, django_db_blocker, lambda: build_api_world(build_world()))


def build_api_world(w: World) -> ApiWorld:
    odense_team = Team.objects.create(municipality=w.odense, name="Familieplejen Syd")
    other_child = Child.objects.create(municipality=w.aarhus, display_name="Demo-barn B.", birth_date=dt.date(2016, 2, 3))
    other_placement = Placement.objects.create(
        municipality=w.aarhus, child=other_child, foster_household=w.other_foster_home, consultant=w.consultant,
        starts_on=dt.date(2025, 6, 1),
    )
    odense_child = w.odense_placement.child
    odense_provider = Provider.objects.create(
        name="Terapeut Odense (fiktiv)", latitude=55.40, longitude=10.38, capacity_minutes_per_week=600, max_cases=5,
        languages=["da"],
    )
    odense_provider.services.add(Service.objects.get(code="supervision"))
    odense_provider.municipalities.add(w.odense)

    need = _need(w.placement, w.consultant)
    SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.ASSIGNED, current_provider=w.provider)
    need.refresh_from_db()
    other_need = _need(other_placement, w.consultant)
    odense_need = _need(w.odense_placement, w.other_consultant)

    def window(**owner):
        return WeeklyAvailability.objects.create(day="mon", start_minute=8 * 60, end_minute=16 * 60, **owner)

    availability = {
        "foster_home": window(household=w.foster_home),
        "other_foster_home": window(household=w.other_foster_home),
        "odense_foster_home": window(household=w.odense_foster_home),
        "provider": window(provider=w.provider),
        "odense_provider": window(provider=odense_provider),
    }
    start = dt.datetime(2026, 12, 21, 8, tzinfo=dt.UTC)
    absence = ProviderAbsence.objects.create(provider=w.provider, starts_at=start, ends_at=start + dt.timedelta(days=5))
    odense_absence = ProviderAbsence.objects.create(
        provider=odense_provider, starts_at=start, ends_at=start + dt.timedelta(days=2), reason="illness"
    )
    return ApiWorld(
        w=w, odense_team=odense_team, other_child=other_child, other_placement=other_placement,
        odense_child=odense_child, odense_provider=odense_provider, need=need, other_need=other_need,
        odense_need=odense_need, availability=availability, absence=absence, odense_absence=odense_absence,
    )


@pytest.fixture
def client_for(db):
    """An API client signed in with `user`'s token (None: anonymous). Each request loads the user afresh."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
