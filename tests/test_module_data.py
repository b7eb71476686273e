"""tests/module_data.py: rows built once for a module, and every test starts from them as built.

The tests run in file order: the first changes the rows and the objects, the ones after it must
not see those changes.
"""

from __future__ import annotations

import pytest

from support.models import Household, HouseholdKind, Municipality
from tests.module_data import built_once, fresh_copy

NAME = "Familien Gentaget (fiktiv)"


def build() -> Household:
    town = Municipality.objects.create(code="998", name="Prøveby")
    return Household.objects.create(municipality=town, name=NAME, kind=HouseholdKind.BIRTH)


@pytest.fixture(scope="module")
def _home_once(request, django_db_setup, django_db_blocker):
    yield from built_once(request, django_db_blocker, build)


@pytest.fixture
def home(_home_once, request, db) -> Household:
    return fresh_copy(_home_once, request)


def test_a_test_changes_the_rows_and_its_objects(home, log_guard):
    Household.objects.filter(pk=home.pk).update(name="Familien Ændret (fiktiv)")
    Municipality.objects.create(code="997", name="Ekstraby")
    home.name = "Kun i hukommelsen"
    home.municipality.name = "Kun i hukommelsen"
    assert ("name", NAME) in log_guard.scan(f"a line naming {NAME}")


def test_the_next_test_gets_the_rows_as_built(home):
    assert list(Household.objects.filter(pk=home.pk).values_list("name", flat=True)) == [NAME]
    assert not Municipality.objects.filter(code="997").exists()
    assert Municipality.objects.get(code="998").name == "Prøveby"


def test_the_next_test_gets_its_own_objects_as_built(home):
    assert (home.name, home.municipality.name) == (NAME, "Prøveby")


def test_names_saved_while_building_are_looked_for_in_every_test(home, log_guard):
    # The guard forgets what earlier tests saved; these rows are not an earlier test's.
    assert ("name", NAME) in log_guard.scan(f"a line naming {NAME}")
