"""Calendar publishing: subscribable feeds, connected CalDAV calendars and the delivery outbox.

* ``Feed`` is one subscriber's calendar at ``/cal/<token>.ics``. Only the SHA-256 of the token
  is stored: a database leak does not leak working feed URLs, and a lost link is replaced by
  rotating, never by reading it back.
* ``CalDavConnection`` is a provider's own calendar server that their sessions are pushed to;
  the app password is encrypted at rest (``calendars.crypto``).
* ``OutboxMessage`` is every email invitation and every CalDAV push, written in the same
  transaction as the change that caused it and delivered by django-q2 workers (``calendars.outbox``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scheduler.models import Meeting, SessionSeries
from support.models import Household, Municipality, Provider, Team
from support.roles import scope_for

# --- Feeds -------------------------------------------------------------------------------------------------


class FeedKind(models.TextChoices):
    HOUSEHOLD = "household", _("Household (foster or birth parents)")
    PROVIDER = "provider", _("Provider")
    CONSULTANT = "consultant", _("Consultant")
    TEAM = "team", _("Team")


SUBJECT_FIELD = {
    FeedKind.HOUSEHOLD: "household",
    FeedKind.PROVIDER: "provider",
    FeedKind.CONSULTANT: "user",
    FeedKind.TEAM: "team",
}


class FeedQuerySet(models.QuerySet):
    def live(self) -> FeedQuerySet:
        return self.filter(revoked_at__isnull=True)

    def for_user(self, user) -> FeedQuerySet:
        """Feeds the user may see and manage: their own, and those of the cases they work on."""
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        staff = scope.staff_municipality_ids | scope.admin_municipality_ids
        q = Q(household_id__in=scope.household_ids) | Q(provider_id__in=scope.provider_ids) | Q(user=user)
        q |= Q(team_id__in=scope.team_ids)
        q |= Q(household__municipality_id__in=staff) | Q(team__municipality_id__in=staff)
        q |= Q(provider__municipalities__id__in=staff)
        q |= Q(user__memberships__municipality_id__in=scope.staff_municipality_ids,
               user__memberships__role__in=["consultant", "team_lead"])
        return self.filter(pk__in=self.filter(q).values("pk"))


class Feed(models.Model):
    """One subscriber's calendar feed. ``token_hash`` is ``sha256(token)``; the token is shown once."""

    kind = models.CharField(max_length=12, choices=FeedKind.choices)
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text=_("Consultant feeds: the consultant whose cases it shows."),
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    detailed = models.BooleanField(
        default=False,
        help_text=_("Household feeds only: the household chose to show the child's name and details. "
                    "Off by default, because feeds are read by third-party calendar services."),
    )
    language = models.CharField(max_length=2, default="da", choices=[("da", "Dansk"), ("en", "English")])
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(help_text=_("Last change of the feed's own settings or token."))
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Who reads the feed, kept coarse on purpose: a client family and a truncated network.
    # Bumped by calendars.publish.changed in the transaction of every change the feed shows, so a
    # conditional GET is answered from this row alone (see calendars.feeds).
    content_version = models.PositiveBigIntegerField(default=0)
    content_changed_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_client = models.CharField(max_length=40, blank=True, help_text=_("User-Agent family, e.g. Google Calendar."))
    last_network = models.CharField(max_length=50, blank=True, help_text=_("IPv4 /24 or IPv6 /48, never the full address."))
    fetch_count = models.PositiveIntegerField(default=0)

    objects = FeedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="household", household__isnull=False, provider__isnull=True, user__isnull=True,
                             team__isnull=True)
                           | Q(kind="provider", provider__isnull=False, household__isnull=True, user__isnull=True,
                               team__isnull=True)
                           | Q(kind="consultant", user__isnull=False, household__isnull=True, provider__isnull=True,
                               team__isnull=True)
                           | Q(kind="team", team__isnull=False, household__isnull=True, provider__isnull=True,
                               user__isnull=True)),
                name="feed_has_its_one_subject",
            ),
            models.CheckConstraint(condition=Q(detailed=False) | Q(kind="household"), name="feed_detail_households_only"),
            # One live feed per subscriber; a revoked feed stays as history.
            *[
                models.UniqueConstraint(fields=[field], condition=Q(revoked_at__isnull=True),
                                        name=f"feed_one_live_per_{field}")
                for field in ("household", "provider", "user", "team")
            ],
        ]

    def __str__(self) -> str:
        state = " (revoked)" if self.revoked_at else ""
        return f"{self.get_kind_display()} feed #{self.pk}{state}"

    @property
    def subject(self):
        return getattr(self, SUBJECT_FIELD[self.kind])

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


# --- CalDAV -------------------------------------------------------------------------------------------------


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FAILING = "failing", _("Failing: the last push failed permanently")
    DISCONNECTED = "disconnected", _("Disconnected")


class CalDavConnectionQuerySet(models.QuerySet):
    def for_user(self, user) -> CalDavConnectionQuerySet:
        """The provider's own users, staff of a municipality it serves, and global administrators.

        Seeing a connection is seeing its URL, user name and delivery state; the app password is
        never readable by anyone (``calendars.services.caldav``).
        """
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        staff = scope.staff_municipality_ids | scope.admin_municipality_ids
        served = Provider.objects.filter(municipalities__id__in=staff).values("pk")
        return self.filter(Q(provider_id__in=scope.provider_ids) | Q(provider_id__in=served))


class CalDavConnection(models.Model):
    """A provider's own CalDAV calendar; their sessions and meetings are PUT there as they change."""

    provider = models.OneToOneField(Provider, on_delete=models.CASCADE, related_name="caldav_connection")
    url = models.URLField(max_length=500, help_text=_("The calendar collection's URL."))
    username = models.CharField(max_length=200)
    password_encrypted = models.TextField(editable=False, help_text=_("Fernet token (calendars.crypto)."))
    status = models.CharField(max_length=14, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = CalDavConnectionQuerySet.as_manager()

    class Meta:
        verbose_name = "CalDAV connection"

    def __str__(self) -> str:
        return f"CalDAV for {self.provider} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status != ConnectionStatus.DISCONNECTED

    def password(self) -> str:
        from calendars.crypto import decrypt

        return decrypt(self.password_encrypted)

    def set_password(self, value: str) -> None:
        from calendars.crypto import encrypt

        self.password_encrypted = encrypt(value)


# --- Outbox ----------------------------------------------------------------------------------------------------


class Channel(models.TextChoices):
    EMAIL = "email", _("Email invitation (iMIP)")
    CALDAV = "caldav", _("CalDAV push")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent (claimed by a worker)")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (given up)")


class OutboxQuerySet(models.QuerySet):
    def due(self, now: dt.datetime) -> OutboxQuerySet:
        """Rows a worker may claim: pending and due, or claimed by a worker whose lease ran out."""
        return self.filter(
            Q(status=OutboxStatus.PENDING, not_before__lte=now) | Q(status=OutboxStatus.SENDING, lease_until__lt=now)
        )

    def problems(self) -> OutboxQuerySet:
        return self.filter(Q(status=OutboxStatus.FAILED) | Q(status=OutboxStatus.PENDING, attempts__gt=0))

    def for_user(self, user) -> OutboxQuerySet:
        scope = scope_for(user)
        if scope.is_global_admin:
            return self
        staff = scope.staff_municipality_ids | scope.admin_municipality_ids
        return self.filter(Q(municipality_id__in=staff) | Q(connection__provider_id__in=scope.provider_ids))


class OutboxMessage(models.Model):
    """One message that must arrive: an iMIP email (a snapshot) or a CalDAV sync of one event.

    Email rows carry the rendered message; their ``key`` (UID, SEQUENCE, method, recipient) is
    unique, so a change published twice is sent once. CalDAV rows carry no payload: delivery
    PUTs the event as it is *then* (or DELETEs it), so several changes coalesce into one pending
    row per calendar and event, and a late retry can never push an old version.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    key = models.CharField(max_length=250, help_text=_("What this message is, for de-duplication."))
    uid = models.CharField(max_length=120, help_text=_("The calendar UID the message is about."))
    method = models.CharField(max_length=10, blank=True, help_text=_("REQUEST or CANCEL (email); SYNC (CalDAV)."))
    sequence = models.PositiveIntegerField(default=0)
    recipient = models.EmailField(blank=True)
    connection = models.ForeignKey(CalDavConnection, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="messages")
    municipality = models.ForeignKey(Municipality, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    series = models.ForeignKey(SessionSeries, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    permanent = models.BooleanField(default=False, help_text=_("The last failure cannot be fixed by retrying."))
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "not_before"], name="outbox_due"),
            models.Index(fields=["uid"], name="outbox_uid"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(channel="email"), name="outbox_email_once"),
            models.UniqueConstraint(fields=["key"], condition=Q(channel="caldav", status="pending"),
                                    name="outbox_caldav_one_pending"),
            models.CheckConstraint(condition=~Q(channel="caldav") | Q(connection__isnull=False),
                                   name="outbox_caldav_has_connection"),
            models.CheckConstraint(condition=~Q(channel="email") | ~Q(recipient=""), name="outbox_email_has_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.method} {self.uid} ({self.status})"
