"""The transactional outbox: messages commit with the change that caused them, workers deliver them.

Life of a row::

    pending --claim--> sending --ok--> sent
       ^                  |
       +--- transient ----+ (attempts < max: not_before = now + backoff, last_error kept)
                          +--- permanent, or attempts used up --> failed (last_error, permanent)

**Claiming** is one conditional UPDATE (``status`` pending and due, or sending with an expired
lease) that sets a fresh ``claim_token``; only the worker whose UPDATE changed a row delivers
it, so any number of workers (threads, processes, ``deliver_outbox``) can run at once. Marking
the result is conditional on the same ``claim_token``, so a worker that lost its lease cannot
overwrite the row of the worker that took over.

**At least once, and why duplicates are harmless.** SMTP has no idempotency key, so exactly-once
is impossible: a worker killed after the server said 250 but before the row was marked ``sent``
leaves the row ``sending``; when its lease (``CALENDAR_OUTBOX_LEASE_SECONDS``) expires the row is
sent again. The window is kept small (the row is marked in its own short transaction right after
the server accepted it; nothing else happens in between), and a duplicate is recognisable and
harmless: it has the same ``Message-ID`` (derived from the row id; mail systems such as Gmail
drop a second copy) and the same UID and SEQUENCE, which calendar apps treat as the update they
already applied. CalDAV is idempotent by nature: a PUT to the same resource name.

**CalDAV rows sync, they do not replay.** A CalDAV row says "make the provider's calendar show
event UID as it is now": delivery renders the event at delivery time and PUTs it (or DELETEs it
if it is gone). Changes coalesce into one pending row per calendar and event, and a retry can
never push an outdated version. If the event changed while it was being pushed, another sync
is queued.

Tasks: ``calendars.tasks.deliver_message`` (queued on commit for each new row) and
``calendars.tasks.deliver_due`` (every minute; retries and rows whose task was lost).
``python manage.py deliver_outbox`` drains the outbox in the foreground.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from calendars import caldav_client
from calendars.conf import setting
from calendars.crypto import UndecryptableSecret
from calendars.models import CalDavConnection, Channel, ConnectionStatus, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


# --- Enqueueing (inside the caller's transaction) ----------------------------------------------------------


def enqueue_email(*, key: str, uid: str, method: str, sequence: int, recipient: str, payload: dict, now: dt.datetime,
                  municipality_id: int | None = None, series=None, meeting=None) -> OutboxMessage | None:
    """Add one invitation; ``None`` if this exact message (same key) was already queued or sent."""
    if OutboxMessage.objects.filter(channel=Channel.EMAIL, key=key).exists():
        return None
    try:
        with transaction.atomic():
            return OutboxMessage.objects.create(
                channel=Channel.EMAIL, key=key, uid=uid, method=method, sequence=sequence, recipient=recipient,
                payload=payload, municipality_id=municipality_id, series=series, meeting=meeting, not_before=now,
                created_at=now, updated_at=now,
            )
    except IntegrityError:  # queued concurrently by another transaction
        return None


def caldav_key(connection_id: int, uid: str) -> str:
    return f"caldav:{connection_id}:{uid}"


def enqueue_caldav(*, connection: CalDavConnection, uid: str, now: dt.datetime, municipality_id: int | None = None,
                   series=None, meeting=None, sequence: int = 0) -> OutboxMessage | None:
    """Ask for a sync of one event to the provider's calendar; coalesces with a pending one."""
    key = caldav_key(connection.pk, uid)
    pending = OutboxMessage.objects.filter(channel=Channel.CALDAV, key=key, status=OutboxStatus.PENDING)
    if pending.update(not_before=now, updated_at=now, sequence=sequence):
        return None
    try:
        with transaction.atomic():
            return OutboxMessage.objects.create(
                channel=Channel.CALDAV, key=key, uid=uid, method="SYNC", sequence=sequence, connection=connection,
                municipality_id=municipality_id, series=series, meeting=meeting, not_before=now, created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # a pending row appeared meanwhile: it will sync the current state
        return None


def deliver_after_commit(ids: Iterable[int]) -> None:
    """Queue a delivery task per row once the surrounding transaction has committed."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return

    def queue() -> None:
        from django_q.tasks import async_task

        for message_id in ids:
            async_task("calendars.tasks.deliver_message", message_id, task_name=f"calendar-outbox-{message_id}")

    # robust: a broker hiccup must not fail the request; deliver_due picks the rows up anyway.
    transaction.on_commit(queue, robust=True)


# --- Claiming and marking ------------------------------------------------------------------------------------------


def backoff(attempts: int) -> dt.timedelta:
    """60 s, 2 min, 4 min, 8 min ... after the 1st, 2nd, 3rd ... failed attempt, capped."""
    base = setting("CALENDAR_OUTBOX_BACKOFF_SECONDS")
    seconds = min(base * 2 ** max(attempts - 1, 0), setting("CALENDAR_OUTBOX_BACKOFF_MAX_SECONDS"))
    return dt.timedelta(seconds=seconds)


def claim(message_id: int, *, now: dt.datetime) -> str | None:
    """Take the row for delivery; returns the claim token, or None if another worker has it or it is not due."""
    token = uuid.uuid4().hex
    lease = dt.timedelta(seconds=setting("CALENDAR_OUTBOX_LEASE_SECONDS"))
    claimed = OutboxMessage.objects.due(now).filter(pk=message_id).update(
        status=OutboxStatus.SENDING, claim_token=token, claimed_at=now, lease_until=now + lease,
        attempts=F("attempts") + 1, updated_at=now,
    )
    return token if claimed == 1 else None


def _mark_sent(message_id: int, token: str, now: dt.datetime) -> bool:
    with transaction.atomic():
        return OutboxMessage.objects.filter(pk=message_id, claim_token=token, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.SENT, sent_at=now, lease_until=None, permanent=False, updated_at=now,
        ) == 1


def _record_sent(message_id: int, token: str, now: dt.datetime, *, until: float) -> bool:
    """Mark a delivered row sent, retrying while the database is away and our lease still holds.

    The message has left; if the database is restarting now, giving up would leave the row
    `sending` and a worker would send it again when the lease ends. Past ``until`` (monotonic
    seconds, a margin before the lease ends) another worker may claim it, so we stop trying.
    """
    delay = 0.2
    while True:
        try:
            return _mark_sent(message_id, token, now)
        except (OperationalError, InterfaceError):
            if time.monotonic() + delay >= until:
                raise
            if not connection.in_atomic_block:
                connection.close()  # the next attempt opens a fresh connection
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _mark_failed(message: OutboxMessage, token: str, error: str, *, permanent: bool, now: dt.datetime) -> str:
    give_up = permanent or message.attempts >= setting("CALENDAR_OUTBOX_MAX_ATTEMPTS")
    status = OutboxStatus.FAILED if give_up else OutboxStatus.PENDING
    OutboxMessage.objects.filter(pk=message.pk, claim_token=token, status=OutboxStatus.SENDING).update(
        status=status, last_error=error[:2000], last_error_at=now, permanent=permanent, lease_until=None,
        not_before=now if give_up else now + backoff(message.attempts), updated_at=now,
    )
    return status


# --- Delivering ------------------------------------------------------------------------------------------------------


def _smtp_error(exc: Exception) -> tuple[str, bool]:
    """The message to record and whether retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return f"SMTP refused the recipient: {exc.recipients}", all(500 <= c < 600 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", 500 <= exc.smtp_code < 600
    # Refused connections, timeouts, dropped sessions and the unforeseen: worth another try.
    return f"{type(exc).__name__}: {exc}", False


def _send_email(message: OutboxMessage) -> None:
    from django.core.mail import get_connection

    from calendars import imip

    email = imip.build_email(outbox_id=message.pk, recipient=message.recipient, payload=message.payload)
    connection = get_connection(fail_silently=False)
    email.connection = connection
    email.send(fail_silently=False)


def _caldav_state(message: OutboxMessage, now: dt.datetime) -> tuple[tuple, bytes | None]:
    """(version, bytes to PUT or None to DELETE) for the event as it is now."""
    from calendars import publish

    return publish.caldav_object(message, now=now)


def _sync_caldav(message: OutboxMessage, now: dt.datetime) -> tuple:
    connection = message.connection
    if connection is None or not connection.is_active:
        raise caldav_client.DeliveryError("the CalDAV calendar was disconnected", permanent=True)
    try:
        password = connection.password()
    except UndecryptableSecret:
        raise caldav_client.DeliveryError("the stored app password cannot be decrypted with the configured "
                                          "FIELD_ENCRYPTION_KEYS; connect the calendar again", permanent=True) from None
    version, body = _caldav_state(message, now)
    credentials = {"url": connection.url, "username": connection.username, "password": password}
    if body is None:
        caldav_client.delete(uid=message.uid, **credentials)
    else:
        caldav_client.put(uid=message.uid, ics=body, **credentials)
    return version


@dataclass(frozen=True)
class Outcome:
    message_id: int
    status: str  # sent, pending (will retry), failed, skipped (not claimed)
    error: str = ""


def deliver(*, message_id: int, now: dt.datetime | None = None) -> Outcome:
    """Claim and deliver one row. Safe to call from several workers at once for the same row."""
    now = now or timezone.now()
    token = claim(message_id, now=now)
    if token is None:
        return Outcome(message_id, "skipped")
    record_until = time.monotonic() + 0.9 * setting("CALENDAR_OUTBOX_LEASE_SECONDS")
    message = OutboxMessage.objects.select_related("connection").get(pk=message_id)
    try:
        if message.channel == Channel.EMAIL:
            _send_email(message)
            version = None
        else:
            version = _sync_caldav(message, now)
    except caldav_client.DeliveryError as exc:
        return _failed(message, token, str(exc), exc.permanent, now)
    except Exception as exc:  # SMTP, sockets, and anything unforeseen: recorded on the row, retried
        error, permanent = _smtp_error(exc)
        return _failed(message, token, error, permanent, now)
    if not _record_sent(message_id, token, now, until=record_until):
        log.warning("calendar outbox %s: delivered, but the claim had passed to another worker", message_id)
    if message.channel == Channel.CALDAV:
        CalDavConnection.objects.filter(pk=message.connection_id).exclude(
            status=ConnectionStatus.DISCONNECTED).update(last_success_at=now, status=ConnectionStatus.ACTIVE,
                                                         updated_at=now)
        _resync_if_changed(message, version, now)
    return Outcome(message_id, "sent")


def _failed(message: OutboxMessage, token: str, error: str, permanent: bool, now: dt.datetime) -> Outcome:
    status = _mark_failed(message, token, error, permanent=permanent, now=now)
    log.warning("calendar outbox %s (%s) attempt %s failed, permanent=%s: %s", message.pk, message.channel,
                message.attempts, permanent, error[:200])
    if message.channel == Channel.CALDAV and message.connection_id:
        # The channel records its last error; a permanent one marks the connection as failing.
        fields = {"last_error": error[:2000], "last_error_at": now, "updated_at": now}
        if permanent:
            fields["status"] = ConnectionStatus.FAILING
        CalDavConnection.objects.filter(pk=message.connection_id).exclude(
            status=ConnectionStatus.DISCONNECTED).update(**fields)
    return Outcome(message.pk, status, error)


def _resync_if_changed(message: OutboxMessage, version: tuple, now: dt.datetime) -> None:
    """If the event changed while we pushed it, push again (the last writer must be the newest state)."""
    current, _body = _caldav_state(message, now)
    if current != version and message.connection is not None:
        with transaction.atomic():
            row = enqueue_caldav(connection=message.connection, uid=message.uid, now=now,
                                 municipality_id=message.municipality_id, series=message.series,
                                 meeting=message.meeting)
            deliver_after_commit([row.pk] if row else [])


def deliver_due(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Deliver every due row (pending and due, or abandoned by a dead worker). Returns counts by outcome."""
    now = now or timezone.now()
    ids = list(OutboxMessage.objects.due(now).order_by("not_before", "pk").values_list("pk", flat=True)[:limit])
    counts: dict[str, int] = {}
    for message_id in ids:
        outcome = deliver(message_id=message_id, now=now)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def retry(*, message: OutboxMessage, by, now: dt.datetime) -> OutboxMessage:
    """Try a failed row again now (after the provider fixed their password, say)."""
    from support.errors import NotFoundInScope

    if not OutboxMessage.objects.for_user(by).filter(pk=message.pk).exists():
        raise NotFoundInScope("Not found.")
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.FAILED).update(
            status=OutboxStatus.PENDING, attempts=0, not_before=now, permanent=False, updated_at=now,
        )
        if message.connection_id:
            CalDavConnection.objects.filter(pk=message.connection_id, status=ConnectionStatus.FAILING).update(
                status=ConnectionStatus.ACTIVE, updated_at=now)
        deliver_after_commit([message.pk])
    message.refresh_from_db()
    return message


def delivery_problems(*, user, limit: int = 100):
    """Failed rows and rows waiting for a retry, that the user may see: for the consultant's page
    (their municipality's invitations) and the provider's (their calendar's pushes)."""
    return (
        OutboxMessage.objects.for_user(user).problems()
        .select_related("series", "meeting", "connection__provider")
        .order_by("-updated_at")[:limit]
    )


def backlog() -> int:
    """Rows not yet delivered (for health checks and the operator)."""
    return OutboxMessage.objects.filter(Q(status=OutboxStatus.PENDING) | Q(status=OutboxStatus.SENDING)).count()
