"""CalDAV push to a real Radicale server on loopback, and the encrypted app password."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import transaction
from icalendar import Calendar

from calendars import caldav_client, crypto, outbox, publish
from calendars.models import CalDavConnection, ConnectionStatus, OutboxMessage, OutboxStatus
from calendars.services import caldav as caldav_services
from scheduler.models import OccurrenceStatus, SeriesStatus
from scheduler.services import meetings, sessions
from support.errors import DomainError, NotFoundInScope
from tests.sessions.helpers import NOW, assigned_need, local


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks, frozen):
    """Run ``fn`` in a transaction, what it queues on commit, then what is due (see test_invitations)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            result = fn(*args, **kwargs)
        outbox.deliver_due(now=NOW)
        return result

    return run


@pytest.fixture
def connected(tuesdays, radicale, run_on_commit, request):
    world = tuesdays
    url = radicale.new_calendar(f"plejenet-{request.node.name[-40:].replace('_', '-')}")
    connection = run_on_commit(caldav_services.connect_caldav, provider=world.provider, url=url, username="mette",
                               password="app-password-1", by=world.provider_user, now=NOW)
    return world, url, connection


def changed(run_on_commit, **kwargs):
    return run_on_commit(publish.changed, now=NOW, **kwargs)


def resource(radicale, url: str, uid: str) -> Calendar | None:
    found = radicale.events(url)
    text = found.get(caldav_client.resource_name(uid))
    return Calendar.from_ical(text) if text else None


def test_connecting_checks_the_password_and_stores_it_encrypted(tuesdays, radicale, run_on_commit):
    world = tuesdays
    url = radicale.new_calendar("check-password")
    with pytest.raises(DomainError) as exc:
        caldav_services.connect_caldav(provider=world.provider, url=url, username="mette", password="wrong",
                                       by=world.provider_user, now=NOW)
    assert exc.value.code == "caldav_unreachable" and "refused" in exc.value.message
    with pytest.raises(NotFoundInScope):  # a consultant never holds the provider's password
        caldav_services.connect_caldav(provider=world.provider, url=url, username="mette", password="app-password-1",
                                       by=world.consultant, now=NOW)
    with pytest.raises(DomainError) as exc:
        caldav_services.connect_caldav(provider=world.provider, url="http://caldav.example.com/cal/",
                                       username="mette", password="x", by=world.provider_user, now=NOW, verify=False)
    assert exc.value.code == "insecure_url"
    connection = run_on_commit(caldav_services.connect_caldav, provider=world.provider, url=url, username="mette",
                               password="app-password-1", by=world.provider_user, now=NOW)
    stored = CalDavConnection.objects.get(pk=connection.pk)
    assert "app-password-1" not in stored.password_encrypted and stored.password() == "app-password-1"
    status = caldav_services.caldav_status(provider=world.provider, user=world.consultant)
    assert status.connected and status.status == ConnectionStatus.ACTIVE and not hasattr(status, "password")


def test_sessions_are_put_updated_and_deleted_on_the_providers_calendar(connected, radicale, run_on_commit):
    world, url, connection = connected
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    changed(run_on_commit, series=series)
    assert resource(radicale, url, series.uid) is None  # proposals are not pushed
    series = sessions.confirm_series(series=series, by=world.consultant, now=NOW)
    changed(run_on_commit, series=series)
    [master] = resource(radicale, url, series.uid).walk("VEVENT")
    assert master["UID"] == series.uid and master["SEQUENCE"] == 0 and "RRULE" in master

    moved = series.occurrences.filter(status=OccurrenceStatus.SCHEDULED).order_by("start")[1]
    sessions.move_occurrence(occurrence=moved, new_start=moved.start + dt.timedelta(hours=1), reason="x",
                             by=world.consultant, now=NOW)
    changed(run_on_commit, series=series, occurrence=moved)
    events = resource(radicale, url, series.uid).walk("VEVENT")
    assert [e["SEQUENCE"] for e in events] == [1, 1]
    assert events[1]["DTSTART"].dt == local(2026, 11, 10, 11)
    assert len(radicale.events(url)) == 1  # updated in place, never a second copy

    # Changing the series from its very first date replaces it: the old event is deleted, the new one PUT.
    new = sessions.change_series_from(series=series, from_date=dt.date(2026, 11, 2), start_time=dt.time(12),
                                      reason="Ny tid", by=world.consultant, now=NOW)
    series.refresh_from_db()
    assert series.status == SeriesStatus.REPLACED
    changed(run_on_commit, series=series)
    changed(run_on_commit, series=new)
    assert resource(radicale, url, series.uid) is None
    [master] = resource(radicale, url, new.uid).walk("VEVENT")
    assert master["DTSTART"].dt == local(2026, 11, 3, 12)
    assert OutboxMessage.objects.filter(connection=connection).exclude(status=OutboxStatus.SENT).count() == 0
    connection.refresh_from_db()
    assert connection.last_success_at == NOW


def test_a_meeting_is_put_and_deleted_when_cancelled(connected, radicale, run_on_commit):
    world, url, _connection = connected
    assigned_need(world)  # so the provider is invited
    meeting = meetings.book_meeting(placement=world.placement, kind="start_up", start=local(2026, 11, 11, 10),
                                    by=world.consultant, now=NOW)
    changed(run_on_commit, meeting=meeting)
    [event] = resource(radicale, url, meeting.uid).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Opstartsmøde"
    meeting = meetings.cancel_meeting(meeting=meeting, reason="x", by=world.consultant, now=NOW)
    changed(run_on_commit, meeting=meeting)
    assert resource(radicale, url, meeting.uid) is None


def test_connecting_pushes_what_already_exists(tuesdays, active_series, radicale, run_on_commit):
    world = tuesdays
    url = radicale.new_calendar("late-connect")
    run_on_commit(caldav_services.connect_caldav, provider=world.provider, url=url, username="mette",
                  password="app-password-1", by=world.provider_user, now=NOW)
    assert resource(radicale, url, active_series.uid) is not None


def test_a_refused_password_fails_permanently_and_the_connection_says_why(tuesdays, active_series, radicale,
                                                                         run_on_commit):
    world = tuesdays
    url = radicale.new_calendar("bad-password")
    connection = run_on_commit(caldav_services.connect_caldav, provider=world.provider, url=url, username="mette",
                               password="expired-password", by=world.provider_user, now=NOW, verify=False)
    row = OutboxMessage.objects.get(connection=connection)
    assert row.status == OutboxStatus.FAILED and row.permanent and "refused" in row.last_error
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.FAILING and "refused" in connection.last_error
    assert [p.pk for p in outbox.delivery_problems(user=world.provider_user)] == [row.pk]
    # The provider fixes the password: connecting again pushes everything, and the failure clears.
    run_on_commit(caldav_services.connect_caldav, provider=world.provider, url=url, username="mette",
                  password="app-password-1", by=world.provider_user, now=NOW)
    assert resource(radicale, url, active_series.uid) is not None


def test_a_server_that_is_down_is_retried_with_backoff(tuesdays, active_series, run_on_commit):
    world = tuesdays
    connection = run_on_commit(caldav_services.connect_caldav, provider=world.provider,
                               url="http://127.0.0.1:9/caldav/", username="mette", password="x",
                               by=world.provider_user, now=NOW, verify=False)
    row = OutboxMessage.objects.get(connection=connection)
    assert row.status == OutboxStatus.PENDING and not row.permanent and row.attempts == 1
    assert row.not_before == NOW + dt.timedelta(seconds=60) and "Connection" in row.last_error
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE and connection.last_error


def test_disconnecting_wipes_the_password_and_stops_pushing(connected, run_on_commit):
    world, _url, connection = connected
    caldav_services.disconnect_caldav(provider=world.provider, by=world.provider_user, now=NOW)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED and connection.password_encrypted == ""
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW)
    series = sessions.confirm_series(series=series, by=world.consultant, now=NOW)
    ids = changed(run_on_commit, series=series)
    assert not OutboxMessage.objects.filter(pk__in=ids, channel="caldav").exists()


# --- Encryption at rest ------------------------------------------------------------------------------------------


def test_keys_rotate_by_adding_first_reencrypting_and_removing_the_old(tuesdays, settings):
    world = tuesdays
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    connection = CalDavConnection(provider=world.provider, url="https://dav.example.com/c/", username="u",
                                  created_at=NOW, updated_at=NOW)
    connection.set_password("s3cret")
    connection.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # 1. the new key first
    assert CalDavConnection.objects.get(pk=connection.pk).password() == "s3cret"
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)  # 2. re-encrypt
    assert "1 secret(s)" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]  # 3. the old key removed
    assert CalDavConnection.objects.get(pk=connection.pk).password() == "s3cret"
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.UndecryptableSecret):
        CalDavConnection.objects.get(pk=connection.pk).password()


def test_a_deployment_without_keys_refuses_to_start_encrypting(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FIELD_ENCRYPTION_KEYS = []
    settings.DEBUG, settings.TESTING = False, False
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        crypto.encrypt("x")
    settings.TESTING = True
    assert crypto.decrypt(crypto.encrypt("x")) == "x"  # development: derived from SECRET_KEY
