"""`python manage.py solve_matching INSTANCE.json [-o RESULT.json] [--time-limit SECONDS]`.

A thin shell around scheduler.matching.cli: the command reads a `support-matching/1` file and
writes a `support-matching-result/1` document, touching no database. Problems with the input
are printed one per line and end the process with status 2, without a traceback.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from scheduler.matching import cli


class Command(BaseCommand):
    help = "Match open support needs to providers from an exported instance file (no database)."

    # The matching core never touches the database, so skip Django's system checks: they
    # cost start-up time, which counts against --time-limit.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        status = cli.run(
            instance_path=options["instance"],
            output_path=options["output"],
            time_limit=options["time_limit"],
            workers=options["workers"],
            stdout=self.stdout,
            stderr=self.stderr,
        )
        if status:
            sys.exit(status)
