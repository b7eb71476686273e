"""Propose session series for every accepted assignment in a municipality that has none yet."""

from __future__ import annotations

import datetime as dt
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduler.services.sessions import schedule_assignments
from support.models import Municipality


class Command(BaseCommand):
    help = (
        "Schedule every assigned support need without a running session series: propose a series "
        "(held for the consultant to confirm), or activate it at once with --confirm."
    )

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, help="3-digit municipality code, e.g. 751")
        parser.add_argument("--confirm", action="store_true", help="Activate the series instead of proposing them")
        parser.add_argument("--by", help="Username recorded as the one who scheduled (default: system)")
        parser.add_argument("--months", type=int, help="Horizon to materialise, in months (default 12)")
        parser.add_argument("--now", help="Schedule as if it were this ISO time (for rehearsals), e.g. 2026-11-02T09:00")
        parser.add_argument("--workers", type=int, default=1,
                            help="Threads working on different providers at once (PostgreSQL only; default 1)")

    def handle(self, *args, municipality, confirm, by, months, now, workers, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            known = ", ".join(Municipality.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"--municipality: no municipality with code {municipality!r} (known: {known})")
        user = None
        if by:
            user = get_user_model().objects.filter(username=by, is_active=True).first()
            if user is None:
                raise CommandError(f"--by: no active user named {by!r}")
        if months is not None and not 1 <= months <= 36:
            raise CommandError(f"--months: must be 1..36, got {months}")
        if not 1 <= workers <= 16:
            raise CommandError(f"--workers: must be 1..16, got {workers}")
        when = timezone.now()
        if now:
            try:
                when = dt.datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now: not an ISO date-time: {now!r}") from None
            if timezone.is_naive(when):
                when = timezone.make_aware(when)

        started = time.perf_counter()
        summary = schedule_assignments(
            municipality=found, by=user, now=when, confirm=confirm, months=months, workers=workers
        )
        seconds = time.perf_counter() - started

        for need_id, code, message in summary.failures:
            self.stderr.write(f"need {need_id} not scheduled ({code}): {message}")
        verb = "confirmed" if confirm else "proposed"
        self.stdout.write(
            f"{found.code} {found.name}: {summary.considered} assignment(s) without a series, "
            f"{summary.proposed} {verb} with {summary.occurrences} occurrence(s), "
            f"{len(summary.failures)} could not be scheduled, {summary.already_scheduled} already scheduled "
            f"({seconds:.1f} s)"
        )
