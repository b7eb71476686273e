"""The calendar settings, with the defaults that apply when config/settings.py does not set them."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings

DEFAULTS = {
    # Feed requests with an unknown or revoked token, per client IP, before it gets 429 for a window.
    "CALENDAR_FEED_MISS_LIMIT": 20,
    "CALENDAR_FEED_MISS_WINDOW": 900,  # seconds
    # A feed's "last fetched" is written at most this often (a read must not always be a write).
    "CALENDAR_FEED_RECORD_SECONDS": 60,
    # How often subscribed clients are asked to refresh (REFRESH-INTERVAL, X-PUBLISHED-TTL).
    "CALENDAR_FEED_REFRESH_MINUTES": 60,
    # A rendered feed is kept in the cache under its ETag this long (0: render every time).
    "CALENDAR_FEED_CACHE_SECONDS": 3600,
    # Events that ended longer ago than this are left out of feeds.
    "CALENDAR_FEED_HISTORY_DAYS": 90,
    # Cancelled occurrences and meetings stay in feeds as STATUS:CANCELLED this long after cancelling.
    "CALENDAR_CANCELLED_KEEP_DAYS": 30,
    # Services whose name is itself sensitive (health, addiction): feeds and emails say "Samtale".
    "CALENDAR_SENSITIVE_SERVICES": ("substance_treatment", "psychologist"),
    # Outbox delivery.
    "CALENDAR_OUTBOX_MAX_ATTEMPTS": 8,
    "CALENDAR_OUTBOX_BACKOFF_SECONDS": 60,  # 60 s, 2 min, 4 min ... capped below
    "CALENDAR_OUTBOX_BACKOFF_MAX_SECONDS": 6 * 3600,
    "CALENDAR_OUTBOX_LEASE_SECONDS": 300,  # a claim older than this is a dead worker's
    "CALENDAR_CALDAV_TIMEOUT": 15,
    # Where the portal shows one event; {uid} is replaced. The portal pages come separately.
    "CALENDAR_PORTAL_EVENT_PATH": "/calendar/events/{uid}/",
    "CALENDAR_ORGANIZER_EMAIL": "",  # default: the address of DEFAULT_FROM_EMAIL
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def site_url() -> str:
    return getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")


def portal_event_url(uid: str) -> str:
    return site_url() + setting("CALENDAR_PORTAL_EVENT_PATH").format(uid=uid)


def organizer_email() -> str:
    return setting("CALENDAR_ORGANIZER_EMAIL") or parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "noreply@plejenet.invalid"
