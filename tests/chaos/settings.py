"""Settings for the processes the chaos tests start (gunicorn, qcluster, scenario commands).

The production settings, with short outbox leases and backoff so that recovery from a killed
worker or a dead peer takes seconds instead of minutes. Everything else comes from the
environment exactly as in production (DEBUG off, PostgreSQL, Redis, SMTP).
"""

import os

from config.settings import *  # noqa: F403

# Longer than the PostgreSQL test's outage (4 s plus the restart): a worker that has sent a message
# keeps trying to record it for 90 % of its lease (calendars.outbox._record_sent).
CALENDAR_OUTBOX_LEASE_SECONDS = int(os.environ.get("CHAOS_LEASE_SECONDS", "10"))
CALENDAR_OUTBOX_BACKOFF_SECONDS = int(os.environ.get("CHAOS_BACKOFF_SECONDS", "1"))
CALENDAR_OUTBOX_BACKOFF_MAX_SECONDS = 4
CALENDAR_CALDAV_TIMEOUT = int(os.environ.get("CHAOS_CALDAV_TIMEOUT", "3"))
if os.environ.get("CHAOS_STATIC_ROOT"):  # collectstatic once per run, outside the working tree
    STATIC_ROOT = os.environ["CHAOS_STATIC_ROOT"]
