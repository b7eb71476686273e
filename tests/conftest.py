"""A small named world for tests: two municipalities and the people in them.

Includes an outsider who must see nothing. Build on these fixtures rather than inventing data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from support.models import (
    Child,
    FosterType,
    Household,
    HouseholdKind,
    Membership,
    Municipality,
    Placement,
    Provider,
    Service,
    Team,
)
from support.roles import Role

TODAY = dt.date(2026, 11, 2)

# Reads every log line of the session and fails the run on names, CPR-like numbers or tokens in them.
pytest_plugins = ["tests.log_guard"]

_FLUSHING_FIXTURES = {"transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}


def _flushes_database(item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
    return transactional or bool(_FLUSHING_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Put back the rows the data migrations made after a test that empties every table.

    A transactional test ends with a flush, which also removes the reference data and the
    django-q2 schedules that migrating created. Run alone, pytest-django orders those tests
    last; `make test` runs modules in parallel processes (pytest-xdist), where a module that
    flushes can run before others in the same process. Restoring the rows keeps every test
    starting from a migrated database, whatever ran before it.
    """
    # After the session's last test the test databases are gone as well: nothing to restore.
    flushes = _flushes_database(item) and nextitem is not None
    result = yield
    if flushes:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            _restore_migrated_rows()
    return result


def _restore_migrated_rows() -> None:
    from calendars.tasks import ensure_schedules as ensure_delivery_schedule
    from scheduler.tasks_sessions import ensure_schedules as ensure_horizon_schedule
    from support.models import Competence
    from support.reference_data import install
    from support.wellbeing.tasks import ensure_schedules as ensure_wellbeing_schedules

    if not Service.objects.exists():
        install(Service, Competence)
    ensure_delivery_schedule()
    ensure_horizon_schedule()
    ensure_wellbeing_schedules()


@dataclass
class World:
    aarhus: Municipality
    odense: Municipality
    team: Team
    consultant: object
    other_consultant: object
    team_lead: object
    foster_parent: object
    other_foster_parent: object
    birth_parent: object
    provider_user: object
    administrator: object
    outsider: object
    foster_home: Household
    other_foster_home: Household
    birth_home: Household
    odense_foster_home: Household
    provider: Provider
    child: Child
    placement: Placement
    odense_placement: Placement


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(username=username, password="pw-" + username + "-123", **extra)


def make_household(municipality, name, kind=HouseholdKind.FOSTER, **extra) -> Household:
    defaults = {
        "foster_type": FosterType.ALMEN if kind == HouseholdKind.FOSTER else "",
        "approved_places": 2 if kind == HouseholdKind.FOSTER else 0,
        "latitude": 56.16,
        "longitude": 10.20,
        "languages": ["da"],
    }
    defaults.update(extra)
    return Household.objects.create(municipality=municipality, name=name, kind=kind, **defaults)


@pytest.fixture
def world(db) -> World:
    return build_world()


def build_world() -> World:
    """The named world's rows (for fixtures that build it once per module: tests/module_data.py)."""
    # Transactional tests flush the database, data migrations included; put the reference rows back.
    if not Service.objects.exists():
        from support.models import Competence
        from support.reference_data import install

        install(Service, Competence)
    aarhus = Municipality.objects.create(code="751", name="Aarhus")
    odense = Municipality.objects.create(code="461", name="Odense")
    team = Team.objects.create(municipality=aarhus, name="Familieplejen Nord")

    foster_home = make_household(aarhus, "Familien Testrup (fiktiv)")
    other_foster_home = make_household(aarhus, "Familien Prøvesen (fiktiv)")
    birth_home = make_household(aarhus, "Forældre Demo (fiktiv)", kind=HouseholdKind.BIRTH)
    odense_foster_home = make_household(odense, "Familien Eksempel (fiktiv)", latitude=55.40, longitude=10.39)

    consultant = make_user("konsulent")
    other_consultant = make_user("konsulent_odense")
    team_lead = make_user("teamleder")
    foster_parent = make_user("plejemor")
    other_foster_parent = make_user("anden_plejefar")
    birth_parent = make_user("biomor")
    provider_user = make_user("supervisor")
    administrator = make_user("admin", is_staff=True, is_superuser=True)
    outsider = make_user("udenforstaaende")

    provider = Provider.objects.create(
        name="Supervisor Mette K. (fiktiv)", latitude=56.15, longitude=10.21, max_travel_km=40,
        capacity_minutes_per_week=1200, max_cases=10, languages=["da", "en"],
    )
    provider.services.add(Service.objects.get(code="supervision"))
    provider.municipalities.add(aarhus)

    Membership.objects.create(user=consultant, role=Role.CONSULTANT, municipality=aarhus, team=team)
    Membership.objects.create(user=other_consultant, role=Role.CONSULTANT, municipality=odense)
    Membership.objects.create(user=team_lead, role=Role.TEAM_LEAD, municipality=aarhus, team=team)
    Membership.objects.create(user=foster_parent, role=Role.FOSTER_PARENT, household=foster_home)
    Membership.objects.create(user=other_foster_parent, role=Role.FOSTER_PARENT, household=other_foster_home)
    Membership.objects.create(user=birth_parent, role=Role.BIRTH_PARENT, household=birth_home)
    Membership.objects.create(user=provider_user, role=Role.PROVIDER, provider=provider)
    Membership.objects.create(user=administrator, role=Role.ADMINISTRATOR)

    child = Child.objects.create(municipality=aarhus, display_name="Demo-barn A.", birth_date=dt.date(2014, 5, 1))
    placement = Placement.objects.create(
        municipality=aarhus, child=child, foster_household=foster_home, consultant=consultant,
        starts_on=dt.date(2025, 3, 1),
    )
    placement.birth_households.add(birth_home)
    odense_child = Child.objects.create(municipality=odense, display_name="Demo-barn O.", birth_date=dt.date(2012, 1, 9))
    odense_placement = Placement.objects.create(
        municipality=odense, child=odense_child, foster_household=odense_foster_home, consultant=other_consultant,
        starts_on=dt.date(2024, 8, 15),
    )
    return World(
        aarhus=aarhus, odense=odense, team=team, consultant=consultant, other_consultant=other_consultant,
        team_lead=team_lead, foster_parent=foster_parent, other_foster_parent=other_foster_parent,
        birth_parent=birth_parent, provider_user=provider_user, administrator=administrator, outsider=outsider,
        foster_home=foster_home, other_foster_home=other_foster_home, birth_home=birth_home,
        odense_foster_home=odense_foster_home, provider=provider, child=child, placement=placement,
        odense_placement=odense_placement,
    )


@pytest.fixture(autouse=True)
def _staff_sessions_pass_two_factor(monkeypatch):
    """Signed-in test clients count as having entered their TOTP code (tests/security tests the real flow).

    Client.force_login/login then also verify the session with a confirmed TOTP device, as
    security.views would after a correct code; Client.login passes a request so django-axes can
    count the attempt. tests/security/conftest.py overrides this fixture with a no-op.
    """
    from tests.security.otp import patch_test_clients

    patch_test_clients(monkeypatch)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language (Danish). A request in English leaves English
    active in the thread (LocaleMiddleware activates per request and does not switch back), which
    would make a later test's gettext read English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
