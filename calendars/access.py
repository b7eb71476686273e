"""Feed tokens, the miss rate limit, and what we record about who fetches a feed.

Tokens are 256 random bits (``secrets.token_urlsafe(32)``, 43 characters). Only their SHA-256 is
stored and looked up: a plain hash is enough because the input is random, not a password, and it
keeps the lookup a single indexed equality.

A client that asks for too many unknown or revoked tokens (``CALENDAR_FEED_MISS_LIMIT`` within one
fixed window of ``CALENDAR_FEED_MISS_WINDOW`` seconds) gets 429 for *every* feed request until the
window ends,
so a hit cannot be told apart from a miss by the status code while it is blocked. The counter is
in the cache (Redis in production, so all web processes share it), keyed by a hash of the IP.

What a fetch records: the time, a User-Agent *family* ("Google Calendar", "Outlook"...), and the
client's network truncated to /24 (IPv4) or /48 (IPv6): enough to tell "Google's servers" from
"a phone at home", not enough to locate a person.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from calendars.conf import setting

TOKEN_BYTES = 32
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible(token: str) -> bool:
    return bool(TOKEN_SHAPE.match(token))


# --- Clients ---------------------------------------------------------------------------------------------------


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind our proxy (SECURE_PROXY_SSL_HEADER set) the last X-Forwarded-For hop.

    The last hop is the one our own proxy appended; earlier ones are whatever the client claimed.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def truncated_network(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


# Checked in order; the first match names the family.
_FAMILIES = (
    ("Google Calendar", ("google-calendar-importer", "googlecalendar", "google")),
    ("Outlook", ("microsoft outlook", "outlook", "microsoft office", "exchange")),
    ("Apple Calendar", ("dataaccessd", "calendaragent", "ios/", "macos/", "mac os x", "darwin")),
    ("Thunderbird", ("thunderbird", "lightning")),
    ("DAVx5 / ICSx5", ("davx5", "icsx5", "davdroid")),
    ("Browser", ("mozilla/", "chrome/", "safari/")),
    ("Script", ("curl/", "wget/", "python", "go-http-client", "java/", "okhttp")),
)


def client_family(user_agent: str) -> str:
    agent = (user_agent or "").lower()
    if not agent:
        return "Unknown"
    for family, needles in _FAMILIES:
        if any(n in agent for n in needles):
            return family
    return "Other"


# --- The miss limit ---------------------------------------------------------------------------------------------


def _window() -> tuple[int, int]:
    """(index of the current fixed window, seconds left in it). Fixed windows keep the counter
    correct on any cache (expiry is not relied on: the key changes when the window does)."""
    length = int(setting("CALENDAR_FEED_MISS_WINDOW"))
    now = time.time()
    return int(now // length), max(1, int(length - now % length))


def _miss_key(ip: str, window: int) -> str:
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()[:24]
    return f"calendars:feed-miss:{digest}:{window}"


def is_blocked(ip: str) -> bool:
    window, _left = _window()
    return (cache.get(_miss_key(ip, window)) or 0) >= setting("CALENDAR_FEED_MISS_LIMIT")


def record_miss(ip: str) -> int:
    window, left = _window()
    key = _miss_key(ip, window)
    if cache.add(key, 1, timeout=left + 60):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=left + 60)
        return 1


def retry_after() -> int:
    """Seconds until the current window ends (the Retry-After of a 429)."""
    return _window()[1]
