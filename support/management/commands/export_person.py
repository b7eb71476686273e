"""Right of access: write everything stored about one user to a JSON file (support.privacy)."""

from __future__ import annotations

import json
import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from support import privacy


class Command(BaseCommand):
    help = "Export everything Plejenet stores about one user as JSON (GDPR art. 15)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, metavar="USERNAME", help="The user's username.")
        parser.add_argument("-o", "--output", required=True, metavar="FILE", help="Where to write the JSON ('-' = stdout).")
        parser.add_argument("--force", action="store_true", help="Overwrite FILE if it exists.")

    def handle(self, *args, user: str, output: str, force: bool, **options):
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"No user with the username {user!r}.")
        if output != "-":
            if os.path.isdir(output):
                raise CommandError(f"{output} is a directory; name a file.")
            if os.path.exists(output) and not force:
                raise CommandError(f"{output} exists; use --force to overwrite it.")
            parent = os.path.dirname(os.path.abspath(output))
            if not os.path.isdir(parent):
                raise CommandError(f"The folder {parent} does not exist.")
        data = privacy.export_person(user=person, now=timezone.now())
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
        if output == "-":
            sys.stdout.write(text + "\n")
            return
        # Personal data: readable by the owner of the file only.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        self.stderr.write(f"Wrote the export for user #{person.pk} to {output}.")
