"""django-q2 task functions: thin shells that take primary keys, read the clock once, call a service.

Schedules are rows (visible in the admin), created by the data migration
`support/migrations/0005_wellbeing_schedules.py`, which calls `ensure_schedules`; running it again
(e.g. from a shell after changing the times here) updates the rows instead of adding more.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

NIGHTLY_NAME = "wellbeing-nightly"
EMAILS_NAME = "wellbeing-alert-emails"
NIGHTLY_AT = dt.time(2, 30)  # local time: after midnight, so "today" is the day being scored
LOCAL = ZoneInfo("Europe/Copenhagen")


def recompute_placements(placement_ids: list[int], as_of: str | None = None) -> int:
    """Re-score some placements: after a signal arrived, or one chunk of the nightly run.

    `as_of` (an ISO timestamp) keeps all chunks of one night on the same day even if the queue
    runs late.
    """
    from support.wellbeing.scoring import recompute_placements as recompute

    now = dt.datetime.fromisoformat(as_of) if as_of else timezone.now()
    return recompute(placement_ids=placement_ids, now=now).scored


def send_alert_emails() -> int:
    from support.wellbeing.alerts import send_pending_alert_emails

    return send_pending_alert_emails(now=timezone.now())


def nightly() -> dict:
    """Every night: milestones first (the ledger feeds driver D6), then all scores, then alerts and emails.

    The scores are computed in chunks, one task per chunk, so the cluster's workers score them in
    parallel (a django-q2 worker is a daemonic process and cannot start scoring processes itself).
    In sync mode (tests) the chunk tasks run at once, in order.
    """
    from django_q.tasks import async_task

    from support.wellbeing.alerts import send_pending_alert_emails
    from support.wellbeing.loading import scorable_placements
    from support.wellbeing.milestones import raise_milestone_alerts, refresh_milestones
    from support.wellbeing.scoring import CHUNK_SIZE

    now = timezone.now()
    today = timezone.localdate(now)
    milestones = refresh_milestones(today=today, now=now)
    ids = list(scorable_placements().filter(starts_on__lte=today).order_by("id").values_list("id", flat=True))
    chunks = [ids[i:i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)]
    for chunk in chunks:
        async_task("support.wellbeing.tasks.recompute_placements", chunk, now.isoformat(),
                   task_name=f"wellbeing-nightly-{today}-{chunk[0]}", group=f"wellbeing-nightly-{today}")
    milestone_alerts = raise_milestone_alerts(today=today, now=now)
    sent = send_pending_alert_emails(now=now)
    return {"milestones_created": milestones.created, "placements": len(ids), "chunks": len(chunks),
            "milestone_alerts": milestone_alerts, "emails_sent": sent}


def next_local(at: dt.time, *, now: dt.datetime) -> dt.datetime:
    """The next time the local clock shows `at` (a date-and-zone computation, so DST is handled)."""
    local = now.astimezone(LOCAL)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=LOCAL)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=LOCAL)
    return candidate


def ensure_schedules(schedule_model=None, *, now: dt.datetime | None = None) -> list[str]:
    """Create or update this package's schedules; idempotent (keyed by name).

    `schedule_model` lets a data migration pass its historical model.
    """
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    now = now or timezone.now()
    wanted = [
        (NIGHTLY_NAME, "support.wellbeing.tasks.nightly", "D", None, next_local(NIGHTLY_AT, now=now)),
        # Retries failed or waiting alert emails; new ones are sent at once by their own task.
        (EMAILS_NAME, "support.wellbeing.tasks.send_alert_emails", "I", 5, now),
    ]
    for name, func, kind, minutes, next_run in wanted:
        schedule_model.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1, "next_run": next_run},
        )
    return [w[0] for w in wanted]
