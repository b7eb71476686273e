"""Start-up checks: a wrong or unreachable setting stops the process with one clear line.

Settings errors (bad values) surface as ImproperlyConfigured while settings load; this module
adds the checks that need the network: can we reach the database and the broker?
"""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured


def check_services() -> None:
    """Raise ImproperlyConfigured naming DATABASE_URL or REDIS_URL when it cannot be reached."""
    from django.conf import settings
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:
        target = "DATABASE_URL" if settings.DATABASE_URL else "the default SQLite database"
        raise ImproperlyConfigured(f"{target}: cannot connect ({_first_line(exc)})") from None
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            raise ImproperlyConfigured(f"REDIS_URL: cannot connect ({_first_line(exc)})") from None


def exit_on_misconfiguration(exc: ImproperlyConfigured) -> None:
    print(f"Configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0]
