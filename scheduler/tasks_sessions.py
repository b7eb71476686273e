"""django-q2 tasks for session scheduling: thin shells that read the clock once and call a service.

``extend_session_horizons`` runs daily (the ``Schedule`` row named ``SCHEDULE_NAME`` is created by
migration ``scheduler/0003_session_horizon_schedule``; ``ensure_schedules()`` recreates it if an
administrator deleted it) and keeps every running series materialised a rolling year ahead, so
calendars and load figures are plain queries.
"""

from __future__ import annotations

import datetime as dt

SCHEDULE_NAME = "scheduler.extend_session_horizons"
TASK_FUNC = "scheduler.tasks_sessions.extend_session_horizons"


def extend_session_horizons() -> str:
    from django.utils import timezone

    from scheduler.services.sessions import extend_horizons

    summary = extend_horizons(now=timezone.now())
    return f"{summary.series} series extended: {summary.booked} booked, {summary.skipped} skipped"


def flag_provider_absence(absence_id: int) -> str:
    """Flag the sessions and meetings an absence recorded elsewhere (admin, import) affects."""
    from django.utils import timezone

    from scheduler.services.sessions import flag_absence
    from support.models import ProviderAbsence

    report = flag_absence(absence=ProviderAbsence.objects.get(pk=absence_id), by=None, now=timezone.now())
    return f"{len(report.flagged)} occurrence(s), {len(report.meetings)} meeting(s) flagged"


def next_daily_run(now: dt.datetime) -> dt.datetime:
    """Tomorrow 03:00 Copenhagen time: a quiet hour, after the day's changes."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Copenhagen")
    tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(3), tzinfo=tz)


def ensure_schedules(*, schedule_model=None, now: dt.datetime | None = None) -> bool:
    """Create the daily horizon schedule if it is missing; returns True if it created it.

    Idempotent: an existing row (perhaps with a changed time by an administrator) is left alone.
    """
    from django.utils import timezone

    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    if schedule_model.objects.filter(name=SCHEDULE_NAME).exists():
        return False
    schedule_model.objects.create(
        name=SCHEDULE_NAME, func=TASK_FUNC, schedule_type="D", repeats=-1,
        next_run=next_daily_run(now or timezone.now()),
    )
    return True
