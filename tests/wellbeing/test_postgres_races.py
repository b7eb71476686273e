"""Races on PostgreSQL: concurrent recomputations and simultaneous "help now" presses.

Real threads, each with its own connection, against committed data (``transaction=True``).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from support.models import Alert, Competence, Incident, RiskScore, Service
from support.reference_data import install
from support.wellbeing import signals
from support.wellbeing.scoring import recompute_placements
from tests.wellbeing.conftest import NOW, TODAY, calm_history

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent writers need PostgreSQL"),
]
RACERS = 6


@pytest.fixture
def reference_data(transactional_db):
    install(Service, Competence)


def race(n, attempt) -> list:
    barrier = threading.Barrier(n)
    results, lock = [], threading.Lock()

    def run(i):
        try:
            barrier.wait(timeout=30)
            outcome = ("ok", attempt(i))
        except Exception as exc:  # noqa: BLE001 - any failure must show in the assertion
            outcome = ("error", repr(exc))
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_recomputations_leave_exactly_one_latest_score(reference_data, world):
    calm_history(world.placement)
    Incident.objects.create(municipality=world.aarhus, placement=world.placement, on=TODAY, kind="running_away")

    results = race(RACERS, lambda i: recompute_placements(placement_ids=[world.placement.pk], now=NOW).scored)

    assert results == [("ok", 1)] * RACERS
    assert RiskScore.objects.filter(placement=world.placement).count() == RACERS
    assert RiskScore.objects.filter(placement=world.placement, latest=True).count() == 1
    assert Alert.objects.filter(status="open").count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_help_now_presses_all_succeed_with_one_open_alert(reference_data, world):
    results = race(RACERS, lambda i: signals.record_checkin(
        placement=world.placement, by=world.foster_parent, on=TODAY, stress=9, help_now=True, now=NOW).pk)

    assert [r[0] for r in results] == ["ok"] * RACERS
    alert = Alert.objects.get(key="help_now")
    assert alert.repeat_count == RACERS - 1
