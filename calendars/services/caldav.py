"""A provider connects (or disconnects) their own CalDAV calendar.

Only the provider's own users (and global administrators) may do it: the app password is the
provider's, and staff have no business holding it. The password is checked against the server
before it is stored, stored encrypted (``calendars.crypto``), and never shown again. Connecting
queues a push of every current series and upcoming meeting of the provider.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from calendars import caldav_client, outbox
from calendars.events import LIVE_SERIES
from calendars.models import CalDavConnection, Channel, ConnectionStatus, OutboxMessage, OutboxStatus
from scheduler.models import Meeting, MeetingStatus, SessionSeries
from support import audit
from support.errors import DomainError, NotFoundInScope
from support.models import Provider
from support.roles import scope_for


def _require_provider_user(user, provider: Provider) -> None:
    scope = scope_for(user)
    if not (scope.is_global_admin or provider.pk in scope.provider_ids):
        raise NotFoundInScope("Not found.")


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DomainError("Give the calendar's full URL (https://...).", code="bad_url", fields={"url": ["https://..."]})
    if parts.scheme == "http" and not (caldav_client.is_loopback(url) or settings.DEBUG):
        # The app password travels with every request: only over TLS.
        raise DomainError("The calendar URL must use https.", code="insecure_url", fields={"url": ["https only"]})
    return url if url.endswith("/") else url + "/"


def connect_caldav(*, provider: Provider, url: str, username: str, password: str, by, now: dt.datetime,
                   verify: bool = True) -> CalDavConnection:
    """Store (or replace) the provider's calendar connection and push their current events to it."""
    _require_provider_user(by, provider)
    url = _check_url(url)
    if not username or not password:
        raise DomainError("Username and app password are both needed.", code="credentials_required",
                          fields={k: ["required"] for k, v in (("username", username), ("password", password)) if not v})
    if verify:
        try:
            caldav_client.check(url=url, username=username, password=password)
        except caldav_client.DeliveryError as exc:
            raise DomainError(f"Could not open the calendar: {exc}", code="caldav_unreachable",
                              fields={"url": [str(exc)]}) from None
    with transaction.atomic():
        connection = CalDavConnection.objects.select_for_update().filter(provider=provider).first()
        if connection is None:
            connection = CalDavConnection(provider=provider, created_at=now, created_by=_user(by))
        connection.url, connection.username = url, username
        connection.set_password(password)
        connection.status, connection.last_error, connection.last_error_at = ConnectionStatus.ACTIVE, "", None
        connection.updated_at = now
        connection.save()
        audit.record(actor=by, action="caldav.connect", object_type="calendars.caldavconnection",
                     object_id=str(connection.pk), details={"provider": provider.pk, "host": urlsplit(url).hostname})
        ids = push_everything(connection=connection, now=now)
        outbox.deliver_after_commit(ids)
    return connection


def push_everything(*, connection: CalDavConnection, now: dt.datetime) -> list[int]:
    """Queue a sync of every live series and upcoming meeting of the connection's provider."""
    provider_id = connection.provider_id
    ids = []
    for series in SessionSeries.objects.filter(provider_id=provider_id, status__in=LIVE_SERIES).order_by("pk"):
        row = outbox.enqueue_caldav(connection=connection, uid=series.uid, now=now, series=series,
                                    municipality_id=series.municipality_id, sequence=series.sequence)
        ids.append(row.pk if row else None)
    meetings = Meeting.objects.filter(participants__provider_id=provider_id, status=MeetingStatus.SCHEDULED,
                                      end__gte=now).distinct().order_by("pk")
    for meeting in meetings:
        row = outbox.enqueue_caldav(connection=connection, uid=meeting.uid, now=now, meeting=meeting,
                                    municipality_id=meeting.municipality_id, sequence=meeting.sequence)
        ids.append(row.pk if row else None)
    return [i for i in ids if i is not None]


def disconnect_caldav(*, provider: Provider, by, now: dt.datetime) -> CalDavConnection | None:
    """Stop pushing; the stored password is wiped. Events already in the calendar stay there."""
    _require_provider_user(by, provider)
    with transaction.atomic():
        connection = CalDavConnection.objects.select_for_update().filter(provider=provider).first()
        if connection is None:
            return None
        connection.status, connection.password_encrypted, connection.updated_at = ConnectionStatus.DISCONNECTED, "", now
        connection.save(update_fields=["status", "password_encrypted", "updated_at"])
        OutboxMessage.objects.filter(connection=connection, channel=Channel.CALDAV, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.FAILED, permanent=True, last_error="the CalDAV calendar was disconnected",
            last_error_at=now, updated_at=now,
        )
        audit.record(actor=by, action="caldav.disconnect", object_type="calendars.caldavconnection",
                     object_id=str(connection.pk), details={"provider": provider.pk})
    return connection


@dataclass(frozen=True)
class CalDavStatus:
    connected: bool
    url: str = ""
    username: str = ""
    status: str = ""
    last_error: str = ""
    last_error_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    waiting: int = 0
    failed: int = 0


def caldav_status(*, provider: Provider, user) -> CalDavStatus:
    """What the provider's page shows: the connection (never the password) and its delivery state."""
    scope = scope_for(user)
    staff = provider.municipalities.filter(pk__in=scope.staff_municipality_ids | scope.admin_municipality_ids).exists()
    if not (scope.is_global_admin or provider.pk in scope.provider_ids or staff):
        raise NotFoundInScope("Not found.")
    connection = CalDavConnection.objects.filter(provider=provider).first()
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return CalDavStatus(connected=False)
    rows = OutboxMessage.objects.filter(connection=connection)
    return CalDavStatus(
        connected=True, url=connection.url, username=connection.username, status=connection.status,
        last_error=connection.last_error, last_error_at=connection.last_error_at,
        last_success_at=connection.last_success_at,
        waiting=rows.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).count(),
        failed=rows.filter(status=OutboxStatus.FAILED).count(),
    )


def _user(by):
    return by if getattr(by, "is_authenticated", False) else None
