"""Several workers draining the outbox at once deliver every message exactly once (real threads, PostgreSQL).

Each thread has its own database connection and the data is committed (``transaction=True``), so
the conditional UPDATE that claims a row races exactly as it would between django-q2 workers.
On SQLite these tests are skipped: its single writer lock serialises the race away.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction

from calendars import outbox, publish
from calendars.models import OutboxMessage, OutboxStatus
from scheduler.services import sessions
from support.models import Competence, Service
from support.reference_data import install
from tests.sessions.helpers import NOW, assigned_need, available

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="racing workers need PostgreSQL's row locking; SQLite serialises all writers"),
]
WORKERS = 6


@pytest.fixture
def reference_data(transactional_db):
    install(Service, Competence)


@pytest.fixture
def failed_once(reference_data, world, smtp, frozen):
    """Two invitations that failed once while the SMTP server was down, now due again."""
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    world.provider.email, world.foster_home.email = "mette@provider.test", "testrup@family.test"
    world.provider.save()
    world.foster_home.save()
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    smtp.stop()
    series = sessions.confirm_series(series=series, by=world.consultant, now=NOW)  # the hook queues, commits
    with transaction.atomic():
        publish.changed(series=series, now=NOW)  # a no-op once the scheduler calls the hook itself
    outbox.deliver_due(now=NOW)
    ids = list(OutboxMessage.objects.filter(series=series).values_list("pk", flat=True))
    assert len(ids) == 2
    assert set(OutboxMessage.objects.filter(pk__in=ids).values_list("status", flat=True)) == {OutboxStatus.PENDING}
    smtp.start()
    return ids


def race(work) -> list:
    barrier = threading.Barrier(WORKERS)
    results, lock = [], threading.Lock()

    def run():
        try:
            barrier.wait(timeout=30)
            outcome = work()
        except Exception as exc:  # noqa: BLE001 - must show in the assertion
            outcome = ("error", repr(exc))
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_row_send_it_once(failed_once, smtp):
    later = NOW + dt.timedelta(minutes=5)
    target = failed_once[0]
    results = race(lambda: outbox.deliver(message_id=target, now=later).status)
    assert sorted(results) == ["sent"] + ["skipped"] * (WORKERS - 1)
    assert len(smtp.inbox.messages) == 1
    row = OutboxMessage.objects.get(pk=target)
    assert row.status == OutboxStatus.SENT and row.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_workers_draining_together_deliver_every_row_exactly_once(failed_once, smtp):
    later = NOW + dt.timedelta(minutes=5)
    results = race(lambda: outbox.deliver_due(now=later))
    sent = sum(r.get("sent", 0) for r in results)
    assert sent == len(failed_once) == 2, results
    assert sorted(r for rcpt, _m in smtp.inbox.messages for r in rcpt) == ["mette@provider.test", "testrup@family.test"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
