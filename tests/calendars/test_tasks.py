"""The delivery schedule exists, tasks are thin shells, and the feed URL takes only safe methods."""

from __future__ import annotations

import importlib

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import Schedule

from calendars import tasks
from calendars.services import feeds as feed_services
from tests.sessions.helpers import NOW


def test_the_every_minute_delivery_schedule_is_created_once(db):
    # The migration's own step, on its historical models: rows that migrating left may be gone
    # here (a transactional test earlier in this test process flushes every table).
    migration = importlib.import_module("calendars.migrations.0002_outbox_schedule")
    state = MigrationExecutor(connection).loader.project_state(("calendars", "0002_outbox_schedule"))
    Schedule.objects.filter(name=tasks.SCHEDULE_NAME).delete()
    migration.create_schedule(state.apps, None)
    migration.create_schedule(state.apps, None)
    assert Schedule.objects.filter(name=tasks.SCHEDULE_NAME, func=tasks.TASK_FUNC, minutes=1).count() == 1
    assert tasks.ensure_schedules() is False
    Schedule.objects.filter(name=tasks.SCHEDULE_NAME).delete()
    assert tasks.ensure_schedules() is True


def test_the_drain_task_reports_what_it_did(db):
    assert tasks.deliver_due() == "nothing due"


def test_the_feed_answers_get_and_head_only(tuesdays, active_series, client, frozen):
    issued = feed_services.issue_feed(subject=tuesdays.foster_home, by=tuesdays.foster_parent, now=NOW)
    path = f"/cal/{issued.token}.ics"
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
