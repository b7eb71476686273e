"""Rows built once for a test module and rolled back after each test: Django's setUpTestData for pytest.

The permission tables ask a few hundred read-only questions of one world; building that world
through the services for every question was most of their time. Here a module-scoped fixture
builds it once inside an outer transaction (as ``TestCase.setUpClass`` does before
``setUpTestData``), and every test that asks for it runs in a savepoint of that transaction (the
one pytest-django's ``db`` opens, the way ``TestCase`` does per test), so whatever a test writes
is rolled back and the next test sees the rows as built. Each test also gets its own deep copy of
the Python objects, as ``TestCase`` gives each test for attributes set in ``setUpTestData``, so a
test that changes an instance in memory (``refresh_from_db``, a cached relation) leaves the next
one alone. The outer transaction is rolled back when the module's tests are done.

Usage, in a test module::

    @pytest.fixture(scope="module")
    def _world_once(request, django_db_setup, django_db_blocker):
        yield from built_once(request, django_db_blocker, build_world)

    @pytest.fixture
    def world(_world_once, request, db):
        return fresh_copy(_world_once, request)

Every test of the module that uses the database must ask for it (``built_once`` refuses a module
where one does not: the rows would be there for that test too), and only tests on ``db``: a ``transactional_db`` test
flushes tables, which would empty the outer transaction (``fresh_copy`` refuses one). With
``scope="class"`` the same holds for the tests of one class.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator
from typing import TypeVar

import pytest
from django.db import DEFAULT_DB_ALIAS, transaction

from tests import log_guard

T = TypeVar("T")


def built_once(
    request: pytest.FixtureRequest, django_db_blocker, build: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS
) -> Generator[T]:
    """Run `build` in a transaction that stays open while the module's (or class's) tests run, then roll it back."""
    # The rows stay for every test of the module until it ends, so a test there that uses the database
    # without asking for them (and expects it empty) would still see them: refuse that layout.
    strangers = [
        item.name for item in request.session.items
        if request.node in item.listchain() and _uses_database(item) and request.fixturename not in item.fixturenames
    ]
    if strangers:
        pytest.fail(f"{request.fixturename} is built once for {request.node.name}, but these tests there do not "
                    f"ask for it and would see its rows: {', '.join(strangers[:5])}")
    with django_db_blocker.unblock():
        outer = transaction.atomic(using=using)
        # Like TestCase's class-level atomic: a durable atomic block inside a test is still allowed.
        outer._from_testcase = True
        outer.__enter__()
        try:
            data = build()
        except BaseException:
            _roll_back(outer, using)
            raise
    _saved_values[id(data)] = _runtime_log_values()
    try:
        yield data
    finally:
        _saved_values.pop(id(data), None)
        with django_db_blocker.unblock():
            _roll_back(outer, using)


def _uses_database(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "db" in names or "transactional_db" in names or item.get_closest_marker("django_db") is not None


def _roll_back(outer, using: str) -> None:
    transaction.set_rollback(True, using=using)
    outer.__exit__(None, None, None)


def fresh_copy(data: T, request: pytest.FixtureRequest) -> T:
    """A test's own copy of the module's objects; the rows themselves are the test's savepoint's."""
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        pytest.fail("Rows built once per module need a test on `db`: a transactional test would flush them.")
    _remember_log_values(_saved_values.get(id(data), ((), ())))
    return copy.deepcopy(data)


# The log guard (tests/log_guard.py) forgets the names and tokens saved before each test starts, as
# each test's database used to start empty. These rows outlive a test, so every test that gets them
# has their names and tokens looked for in its log lines again.
_saved_values: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _runtime_log_values() -> tuple[tuple[str, ...], tuple[str, ...]]:
    guard = log_guard._guard
    if guard is None:
        return (), ()
    return tuple(guard.names - guard.static_names), tuple(guard.secrets)


def _remember_log_values(values: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    guard = log_guard._guard
    if guard is None:
        return
    names, secrets = values
    for name in names:
        guard.add_name(name)
    for secret in secrets:
        guard.add_secret(secret)
