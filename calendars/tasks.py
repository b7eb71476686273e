"""django-q2 tasks for calendar delivery: thin shells that read the clock once and call calendars.outbox.

``deliver_message`` is queued after commit for each new outbox row. ``deliver_due`` runs every
minute (the ``Schedule`` named ``SCHEDULE_NAME`` is created by migration
``calendars/0002_outbox_schedule``; ``ensure_schedules()`` recreates it) and picks up retries
whose backoff has passed, rows whose task was lost, and rows abandoned by a dead worker.
"""

from __future__ import annotations

import datetime as dt

SCHEDULE_NAME = "calendars.deliver_due"
TASK_FUNC = "calendars.tasks.deliver_due"


def deliver_message(message_id: int) -> str:
    from django.utils import timezone

    from calendars.outbox import deliver

    return deliver(message_id=message_id, now=timezone.now()).status


def deliver_due() -> str:
    from django.utils import timezone

    from calendars.outbox import deliver_due as drain

    counts = drain(now=timezone.now())
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"


def ensure_schedules(*, schedule_model=None, now: dt.datetime | None = None) -> bool:
    """Create the every-minute delivery schedule if it is missing; True if it did."""
    from django.utils import timezone

    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    if schedule_model.objects.filter(name=SCHEDULE_NAME).exists():
        return False
    schedule_model.objects.create(
        name=SCHEDULE_NAME, func=TASK_FUNC, schedule_type="I", minutes=1, repeats=-1, next_run=now or timezone.now(),
    )
    return True
