"""A list costs the same number of queries with 3 rows as with 30: related rows come in bulk."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support import services
from support.models import (
    AuditEntry,
    Child,
    Competence,
    Membership,
    Municipality,
    NeedStatus,
    Placement,
    Provider,
    ProviderAbsence,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)
from support.roles import Role
from tests.conftest import TODAY, make_household

_seq = itertools.count(1)


def _household(w, kind="foster"):
    return make_household(w.aarhus, f"Familie {next(_seq)} (fiktiv)", kind=kind)


def _child(w):
    return Child.objects.create(municipality=w.aarhus, display_name=f"Barn {next(_seq)}.", birth_date=dt.date(2015, 1, 1))


def _placement(w):
    placement = Placement.objects.create(
        municipality=w.aarhus, child=_child(w), foster_household=_household(w), consultant=w.consultant,
        starts_on=dt.date(2025, 1, 1),
    )
    placement.birth_households.add(_household(w, kind="birth"), w.birth_home)
    return placement


def _provider(w):
    provider = Provider.objects.create(
        name=f"Udbyder {next(_seq)} (fiktiv)", latitude=56.1, longitude=10.2, capacity_minutes_per_week=600,
        max_cases=3,
    )
    provider.services.add(*Service.objects.all()[:2])
    provider.competences.add(*Competence.objects.all()[:3])
    provider.municipalities.add(w.aarhus, w.odense)
    return provider


def _need(w, assigned_to=None):
    need = services.create_support_need(
        placement=_placement(w), recipient="foster_household", service="supervision", minutes_per_session=60,
        sessions_per_week="1", starts_on=TODAY, by=w.consultant, required_competences=["trauma", "adhd"],
        preferred_competences=["attachment"],
    )
    need.excluded_providers.add(w.provider)
    if assigned_to:
        SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.ASSIGNED, current_provider=assigned_to)
    return need


def _membership(w):
    user = get_user_model().objects.create_user(username=f"bruger{next(_seq)}")
    return Membership.objects.create(user=user, role=Role.FOSTER_PARENT, household=w.foster_home)


def _window(w):
    return WeeklyAvailability.objects.create(household=w.foster_home, day="tue", start_minute=next(_seq) % 600,
                                             end_minute=1200)


def _absence(w):
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=next(_seq))
    return ProviderAbsence.objects.create(provider=w.provider, starts_at=start, ends_at=start + dt.timedelta(days=1))


def _audit(w):
    return AuditEntry.objects.create(actor=w.consultant, actor_label="konsulent", action="x", object_type="t",
                                     object_id=str(next(_seq)), municipality=w.aarhus)


def _team(w):
    return Team.objects.create(municipality=w.aarhus, name=f"Team {next(_seq)}")


def _municipality(w):
    taken = set(Municipality.objects.values_list("code", flat=True))
    code = next(f"{i:03d}" for i in range(100, 1000) if f"{i:03d}" not in taken)
    return Municipality.objects.create(code=code, name=f"Kommune {code}")


def _service(w):
    n = next(_seq)
    return Service.objects.create(code=f"svc-{n}", name_da=f"Ydelse {n}", name_en=f"Service {n}")


CASES = [
    ("household", "consultant", _household),
    ("child", "consultant", _child),
    ("placement", "consultant", _placement),
    ("provider", "consultant", _provider),
    ("provider", "administrator", _provider),
    ("support-need", "consultant", _need),
    ("support-need", "provider_user", lambda w: _need(w, assigned_to=w.provider)),
    ("membership", "consultant", _membership),
    ("availability", "consultant", _window),
    ("provider-absence", "consultant", _absence),
    ("audit-entry", "administrator", _audit),
    ("team", "consultant", _team),
    ("municipality", "administrator", _municipality),
    ("service", "outsider", _service),
]


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 100})
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize(("endpoint", "role", "make"), CASES)
def test_list_query_count_does_not_grow_with_rows(world, client_for, endpoint, role, make):
    client = client_for(getattr(world, role))
    path = reverse(f"api:{endpoint}-list")
    for _ in range(3):
        make(world)
    client.get(path)  # warm up anything cached per process
    with_few = count_queries(client, path)
    for _ in range(27):
        make(world)
    with_many = count_queries(client, path)
    assert with_many == with_few, f"{endpoint}: {with_few} queries for few rows, {with_many} for many"
    assert client.get(path, {"page_size": 100}).json()["count"] >= 30
