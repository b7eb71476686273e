"""Anonymise placements that ended more than RETENTION_YEARS ago (support.privacy). Run daily."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from support import privacy
from support.errors import DomainError


class Command(BaseCommand):
    help = "Anonymise closed placements past the retention period (RETENTION_YEARS, default 5)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
        parser.add_argument("--years", type=int, default=None, help="Override RETENTION_YEARS for this run.")

    def handle(self, *args, dry_run: bool, years: int | None, **options):
        if years is not None and years < 1:
            raise CommandError("--years: the retention period is at least 1 year.")
        try:
            result = privacy.anonymise_closed_placements(now=timezone.now(), years=years, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        verb = "Would anonymise" if dry_run else "Anonymised"
        rows = ", ".join(f"{label} {count}" for label, count in sorted(result.cleared_rows.items())) or "none"
        self.stdout.write(
            f"{verb} {len(result.placement_ids)} placement(s) and {len(result.child_ids)} child(ren) "
            f"that ended on or before {result.cutoff.isoformat()}. Free-text rows: {rows}."
        )
