"""Talking to a provider's CalDAV server with the ``caldav`` library: PUT, DELETE, and a check.

Each event is one resource in the provider's calendar collection, named after its UID
(``series-<uuid>.ics``), so a PUT is idempotent: sending the same event twice leaves one copy,
and a retry after a crash cannot duplicate it. A DELETE of a resource that is already gone
counts as done.

Failures are ``DeliveryError`` with ``permanent`` set when retrying cannot help (wrong
password, no such calendar, a request the server refuses); timeouts, refused connections, 5xx
and 429 are transient and retried with backoff by the outbox.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import caldav
from caldav.lib import error as dav_error

from calendars.conf import setting

TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def resource_name(uid: str) -> str:
    """``series-<uuid>@plejenet`` -> ``series-<uuid>.ics`` (URL-safe, stable)."""
    local = uid.split("@", 1)[0]
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in local) + ".ics"


def resource_url(collection_url: str, uid: str) -> str:
    return collection_url.rstrip("/") + "/" + resource_name(uid)


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


def _client(url: str, username: str, password: str) -> caldav.DAVClient:
    return caldav.DAVClient(
        url=url, username=username, password=password, timeout=setting("CALENDAR_CALDAV_TIMEOUT"),
        # Basic auth straight away (over TLS): app passwords at iCloud, Fastmail, Nextcloud and Posteo
        # all take it, and probing unauthenticated first costs a round trip and a 401 (which servers
        # such as Radicale deliberately slow down) on every request.
        auth_type="basic", enable_rfc6764=False, rate_limit_handle=False,
    )


def _status_error(status: int, reason: str, what: str) -> DeliveryError:
    permanent = status not in TRANSIENT_STATUS and not 500 <= status < 600
    hint = {401: "the username or app password was refused", 403: "the server refuses access to the calendar",
            404: "the calendar URL does not exist"}.get(status, reason or "")
    return DeliveryError(f"CalDAV {what}: HTTP {status} {hint}".strip(), permanent=permanent)


def _call(fn, what: str):
    try:
        return fn()
    except dav_error.AuthorizationError as exc:
        raise DeliveryError(f"CalDAV {what}: the username or app password was refused ({exc})", permanent=True) from None
    except dav_error.NotFoundError as exc:
        raise DeliveryError(f"CalDAV {what}: the calendar URL does not exist ({exc})", permanent=True) from None
    except dav_error.DAVError as exc:
        raise DeliveryError(f"CalDAV {what}: {type(exc).__name__}: {exc}", permanent=False) from None
    except (OSError, TimeoutError) as exc:
        raise DeliveryError(f"CalDAV {what}: {type(exc).__name__}: {exc}", permanent=False) from None
    except Exception as exc:  # niquests' connection and timeout errors, and anything unforeseen
        name = type(exc).__name__
        transient = any(word in name for word in ("Connection", "Timeout", "Protocol", "Read", "Socket"))
        raise DeliveryError(f"CalDAV {what}: {name}: {exc}", permanent=not transient) from None


def put(*, url: str, username: str, password: str, uid: str, ics: bytes) -> None:
    client = _client(url, username, password)
    target = resource_url(url, uid)
    response = _call(lambda: client.put(target, ics.decode(), {"Content-Type": "text/calendar; charset=utf-8"}),
                     "PUT")
    if not 200 <= response.status < 300:
        raise _status_error(response.status, getattr(response, "reason", ""), "PUT")


def delete(*, url: str, username: str, password: str, uid: str) -> None:
    client = _client(url, username, password)
    response = _call(lambda: client.delete(resource_url(url, uid)), "DELETE")
    if response.status == 404 or 200 <= response.status < 300:
        return
    raise _status_error(response.status, getattr(response, "reason", ""), "DELETE")


def check(*, url: str, username: str, password: str) -> None:
    """Raise ``DeliveryError`` unless ``url`` is a calendar collection these credentials can read."""
    client = _client(url, username, password)
    response = _call(
        lambda: client.request(url, "PROPFIND", '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>'
                               "<d:resourcetype/></d:prop></d:propfind>", {"Depth": "0",
                                                                            "Content-Type": "application/xml"}),
        "check",
    )
    if response.status != 207:
        raise _status_error(response.status, getattr(response, "reason", ""), "check")
    body = response.raw if isinstance(response.raw, str) else (response.raw or b"").decode("utf-8", "replace")
    if "calendar" not in body.lower():
        raise DeliveryError("CalDAV check: the URL is not a calendar collection", permanent=True)
