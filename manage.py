#!/usr/bin/env python
"""Django's command-line utility for Plejenet."""

import os
import sys

# Commands that serve or work the queue check that the database and broker are reachable first,
# so a wrong DATABASE_URL or REDIS_URL stops them with one clear line instead of a traceback.
SERVICE_COMMANDS = {"runserver", "qcluster", "migrate", "seed_demo"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured

    from config.preflight import check_services, exit_on_misconfiguration

    try:
        import django

        django.setup()
        if len(sys.argv) > 1 and sys.argv[1] in SERVICE_COMMANDS:
            check_services()
    except ImproperlyConfigured as exc:
        exit_on_misconfiguration(exc)

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
