"""Shapes for calendar feeds, the delivery outbox and CalDAV connections.

No rules here: calendars.services.feeds and calendars.services.caldav decide. What these shapes
leave out on purpose:

* a feed's token: it is stored only as a hash, so it appears exactly once, in the answer to
  creating or rotating the feed (`IssuedFeedSerializer`), and nowhere else;
* an outbox row's message body (it holds names and addresses for the recipient only): a delivery
  says what kind of message went where, how it went, and its last error;
* a CalDAV app password: write-only; it is stored encrypted and never returned.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import ScopedPrimaryKeyRelatedField
from calendars.models import CalDavConnection, Feed, FeedKind, OutboxMessage, OutboxStatus
from support.models import Household, Provider, Team
from support.roles import STAFF_ROLES, scope_for

# --- Feeds ---------------------------------------------------------------------------------------------


def feed_consultants(user):
    """Consultants and team leads whose feed the caller may name: staff of the caller's municipalities."""
    scope = scope_for(user)
    people = get_user_model().objects.filter(is_active=True, memberships__role__in=STAFF_ROLES)
    if not scope.is_global_admin:
        people = people.filter(memberships__municipality_id__in=scope.staff_municipality_ids)
    return people.distinct()


class FeedSerializer(serializers.ModelSerializer):
    consultant = serializers.PrimaryKeyRelatedField(source="user", read_only=True, allow_null=True,
                                                    help_text="Consultant feeds: whose cases it shows.")
    subject_name = serializers.SerializerMethodField(help_text="The household's, provider's, person's or team's name.")
    is_live = serializers.BooleanField(read_only=True, help_text="False once revoked: its link then answers 404.")

    class Meta:
        model = Feed
        fields = [
            "id", "kind", "household", "provider", "consultant", "team", "subject_name", "detailed", "language",
            "is_live", "created_at", "rotated_at", "revoked_at", "last_fetched_at", "last_client", "fetch_count",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_subject_name(self, feed: Feed) -> str:
        subject = feed.subject
        if feed.kind == FeedKind.CONSULTANT:
            return subject.get_full_name() or subject.username
        return subject.name


class SubscriptionLinksSerializer(serializers.Serializer):
    https = serializers.URLField(help_text="For Google Calendar's \"From URL\" and for copying.")
    webcal = serializers.CharField(help_text="Opens the subscribe dialog in Apple Calendar, Outlook and most phones.")


class IssuedFeedSerializer(FeedSerializer):
    """A feed with its token: shown once, after creating or rotating. Only a hash is stored."""

    token = serializers.CharField(read_only=True, help_text="Shown only now; rotate the feed to get a new one.")
    links = SubscriptionLinksSerializer(read_only=True)

    class Meta(FeedSerializer.Meta):
        fields = [*FeedSerializer.Meta.fields, "token", "links"]
        read_only_fields = fields


class FeedCreateSerializer(serializers.Serializer):
    """Name exactly one subject. Ids are looked up among the records you can see (else 400 on the field)."""

    household = ScopedPrimaryKeyRelatedField(scope=lambda user: Household.objects.for_user(user), required=False)
    provider = ScopedPrimaryKeyRelatedField(scope=lambda user: Provider.objects.for_user(user), required=False)
    consultant = ScopedPrimaryKeyRelatedField(scope=feed_consultants, required=False)
    team = ScopedPrimaryKeyRelatedField(scope=lambda user: Team.objects.for_user(user), required=False)
    detailed = serializers.BooleanField(
        default=False, help_text="Household feeds only: the child's name and meeting titles (off by default).")
    language = serializers.ChoiceField(choices=[("da", "Dansk"), ("en", "English")], required=False,
                                       help_text="Of the event texts; default from the subject's languages.")

    SUBJECTS = ("household", "provider", "consultant", "team")

    def validate(self, attrs):
        named = [name for name in self.SUBJECTS if attrs.get(name) is not None]
        if len(named) != 1:
            raise serializers.ValidationError(
                {name: ["Name exactly one of household, provider, consultant or team."] for name in self.SUBJECTS})
        attrs["subject"], attrs["subject_field"] = attrs.pop(named[0]), named[0]
        for name in self.SUBJECTS:
            attrs.pop(name, None)
        return attrs


class FeedDetailSerializer(serializers.Serializer):
    detailed = serializers.BooleanField(
        help_text="Show the child's name and meeting titles in this household's own feed. Only the household's "
        "parents decide this.")


# --- Outbox --------------------------------------------------------------------------------------------


class DeliverySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="method", read_only=True,
                                 help_text="REQUEST or CANCEL (email invitation); SYNC (CalDAV push).")
    event = serializers.SerializerMethodField(help_text="What the message is about: series or meeting.")
    provider = serializers.IntegerField(source="provider_ref", read_only=True, allow_null=True,
                                        help_text="CalDAV: the provider whose calendar it is pushed to.")
    next_attempt_at = serializers.SerializerMethodField(help_text="When a waiting message is tried next; null otherwise.")

    class Meta:
        model = OutboxMessage
        fields = [
            "id", "channel", "kind", "status", "uid", "sequence", "event", "series", "meeting", "recipient",
            "provider", "municipality", "attempts", "next_attempt_at", "last_error", "last_error_at", "permanent",
            "sent_at", "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["series", "meeting"], allow_null=True))
    def get_event(self, message: OutboxMessage) -> str | None:
        if message.series_id:
            return "series"
        return "meeting" if message.meeting_id else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, message: OutboxMessage):
        if message.status != OutboxStatus.PENDING:
            return None
        return serializers.DateTimeField().to_representation(message.not_before)


# --- CalDAV ----------------------------------------------------------------------------------------------


class CalDavConnectionSerializer(serializers.ModelSerializer):
    waiting = serializers.IntegerField(read_only=True, help_text="Pushes waiting or being sent.")
    failed = serializers.IntegerField(read_only=True, help_text="Pushes given up on (see calendar-deliveries).")

    class Meta:
        model = CalDavConnection
        fields = [
            "id", "provider", "url", "username", "status", "last_error", "last_error_at", "last_success_at",
            "waiting", "failed", "created_at", "updated_at",
        ]
        read_only_fields = fields


def own_providers(user):
    """Providers whose calendar the caller may connect: their own (global administrators: any)."""
    scope = scope_for(user)
    if scope.is_global_admin:
        return Provider.objects.all()
    return Provider.objects.filter(pk__in=scope.provider_ids)


class CalDavConnectSerializer(serializers.Serializer):
    provider = ScopedPrimaryKeyRelatedField(scope=own_providers, help_text="Your own provider.")
    url = serializers.URLField(max_length=500, help_text="The calendar collection's URL (https).")
    username = serializers.CharField(max_length=200)
    password = serializers.CharField(max_length=500, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="An app password; checked against the server, stored encrypted, "
                                     "never returned.")


class CalDavUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    username = serializers.CharField(max_length=200)
    password = serializers.CharField(max_length=500, write_only=True, required=False, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="Leave out to keep the stored one. Never returned.")
