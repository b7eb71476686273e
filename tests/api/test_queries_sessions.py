# ruff: noqa: F811  (the fixture imported from tests/api/sessions_world.py is a parameter here)
"""The session lists cost the same number of queries with 3 rows as with 30 (style of test_queries.py)."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from scheduler.models import MeetingKind
from scheduler.services import meetings, sessions
from tests.api.sessions_world import frozen  # noqa: F401
from tests.api.test_queries import count_queries
from tests.sessions.helpers import NOW, add_placement, assigned_need, local

_seq = itertools.count(1)


def _series(w):
    """A confirmed series (one month of occurrences) for a new placement: a series, its rows, its history."""
    need = assigned_need(w, placement=add_placement(w, f"Q{next(_seq)}"), per_week="0.25")
    return sessions.confirm_series(series=sessions.propose_series(need=need, by=w.consultant, now=NOW, months=1),
                                   by=w.consultant, now=NOW)


def _meeting(w):
    """A meeting about a new placement the world's provider supports (so it is invited too)."""
    n = next(_seq)
    placement = add_placement(w, f"M{n}")
    assigned_need(w, placement=placement)
    return meetings.book_meeting(
        placement=placement, kind=MeetingKind.START_UP, start=local(2026, 11, 9 + n % 5, 8) +
        (n // 5) * (local(2026, 11, 2, 9, 15) - local(2026, 11, 2, 9)), by=w.consultant, now=NOW, allow_missing=True,
    )


CASES = [
    ("session-series", "consultant", _series),
    ("session-series", "provider_user", _series),
    ("session-occurrence", "consultant", _series),
    ("session-occurrence", "provider_user", _series),
    ("session-change", "consultant", _series),
    ("meeting", "consultant", _meeting),
    ("meeting", "provider_user", _meeting),
]


@pytest.mark.parametrize(("endpoint", "role", "make"), CASES)
def test_list_query_count_does_not_grow_with_rows(world, frozen, client_for, endpoint, role, make):
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
