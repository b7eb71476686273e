"""`manage.py seed_demo [--reset] [--today YYYY-MM-DD]`: fictional demo data; the work is in support.demo."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.core.management.base import BaseCommand, CommandError

from support import demo
from support.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create obviously fictional demo data for two municipalities (Demo-Aarhus 751, Demo-Skanderborg 746) "
        "and one login per role. Does nothing if the demo already exists; --reset deletes it and starts over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data first, then create it again."
        )
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Date the data is relative to (default: today in Europe/Copenhagen).",
        )

    def handle(self, *args, reset: bool, today: dt.date | None, **options) -> None:
        started = time.monotonic()
        # Each recorded signal queues a re-scoring task (and each session series its invitations):
        # several hundred "Enqueued" lines that would bury the summary. Warnings still show.
        queue_log = logging.getLogger("django-q")
        level = queue_log.level
        queue_log.setLevel(max(level, logging.WARNING))
        try:
            result = demo.seed(today=today, reset=reset)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        finally:
            queue_log.setLevel(level)
        elapsed = time.monotonic() - started

        if result.deleted:
            self.stdout.write(f"Deleted the old demo ({sum(result.deleted.values())} rows).")
            if options["verbosity"] > 1:
                self.stdout.write(", ".join(f"{n} {label}" for label, n in result.deleted.items()) + ".")
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(f"Demo data created for {result.today:%Y-%m-%d} in {elapsed:.1f} s.")
            )
        else:
            self.stdout.write(
                self.style.WARNING(
                    "Demo data already exists; nothing was changed (use --reset to recreate it)."
                )
            )
        self.stdout.write(", ".join(f"{n} {label}" for label, n in result.counts.items()) + ".")
        if result.created:
            self.stdout.write(
                "The signals and session series queued background tasks (re-scoring, calendar invitations): "
                "a running worker (`python manage.py qcluster`) works through them."
            )
        self.stdout.write("")
        self.stdout.write(login_table(result.logins))
        if not result.created:
            self.stdout.write("(Passwords as seeded, unless someone has changed them since.)")
        self.stdout.write(
            "Staff (konsulent, konsulent2, teamleder, admin) also enter a two-factor code after the password: "
            "`python manage.py demo_totp USERNAME` prints the current one for a demo account."
        )


def login_table(logins: tuple[demo.DemoLogin, ...]) -> str:
    rows = [("Role", "Username", "Password", "What they see")]
    rows += [(str(login.role.label), login.username, login.password, login.sees) for login in logins]
    return _table(rows)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
