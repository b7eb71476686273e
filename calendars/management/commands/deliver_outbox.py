"""Drain the calendar outbox in the foreground: for operators, and after an outage."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from calendars.models import OutboxMessage, OutboxStatus
from calendars.outbox import deliver_due


class Command(BaseCommand):
    help = "Deliver every due calendar invitation and CalDAV push now (safe beside running workers)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="At most this many rows per round.")
        parser.add_argument("--all", action="store_true",
                            help="Also rows waiting for their backoff (try everything pending right now).")

    def handle(self, *args, limit: int, all: bool, **options):
        now = timezone.now()
        if all:
            OutboxMessage.objects.filter(status=OutboxStatus.PENDING, not_before__gt=now).update(not_before=now)
        total: dict[str, int] = {}
        while True:
            counts = deliver_due(now=timezone.now(), limit=limit)
            for status, n in counts.items():
                total[status] = total.get(status, 0) + n
            # Stop when a round delivered nothing new (what is left is waiting for its backoff).
            if not counts or set(counts) <= {"skipped"} or sum(counts.values()) < limit:
                break
        left = OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).count()
        failed = OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count()
        summary = ", ".join(f"{n} {s}" for s, n in sorted(total.items())) or "nothing due"
        self.stdout.write(f"{summary}; {left} still waiting, {failed} failed in all")
