"""Calendar publishing over HTTP: feeds, the delivery outbox and providers' CalDAV connections.

* **Feeds** (`/calendar-feeds/`): owners (the household's parents, the provider's users, the
  consultant, the team) and staff of the municipality list, create, rotate and revoke them
  (calendars.services.feeds decides who). The token is in the answer to create and rotate only;
  it is stored as a hash and cannot be read again. A household's parents opt its feed in to
  more detail with PATCH `detailed`.
* **Deliveries** (`/calendar-deliveries/`): the outbox, read-only, for the municipality's staff,
  administrators and (their own CalDAV pushes) providers. No message bodies.
* **CalDAV** (`/caldav-connections/`): a provider's users connect, change and disconnect their
  calendar; staff of the municipalities it serves read the status and the last error.

Someone else's object answers 404; an object you can see but not change answers 403.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import Count, F, Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from api import serializers_calendars as s
from api.views import ReadOnlyViewSet
from calendars.crypto import UndecryptableSecret
from calendars.models import CalDavConnection, Channel, Feed, FeedKind, OutboxMessage, OutboxStatus
from calendars.services import caldav as caldav_services
from calendars.services import feeds as feed_services
from support.roles import scope_for

SUBJECT_KINDS = {"household": FeedKind.HOUSEHOLD, "provider": FeedKind.PROVIDER, "consultant": FeedKind.CONSULTANT,
                 "team": FeedKind.TEAM}


# --- Feeds -----------------------------------------------------------------------------------------------


class FeedWrites(BasePermission):
    """Rotate and revoke: the feed's owner or the municipality's staff (calendars.services.feeds.can_manage).

    The detail opt-in is the household's own decision; its service answers for itself.
    """

    message = "Only the calendar's owner and the municipality's staff can change this feed."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or view.action == "partial_update":
            return True
        return feed_services.can_manage(request.user, kind=obj.kind, subject=obj.subject)


class FeedFilter(filters.FilterSet):
    live = filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull",
                                 help_text="true: only feeds whose link works; false: only revoked ones.")

    class Meta:
        model = Feed
        fields = ["kind", "live"]


def _issued(issued: feed_services.IssuedFeed) -> Feed:
    feed = issued.feed
    feed.token, feed.links = issued.token, issued.links
    return feed


@extend_schema_view(
    list=extend_schema(summary="Calendar feeds you own or manage, live ones first"),
    retrieve=extend_schema(summary="One calendar feed (never its token)"),
)
class FeedViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Subscribable calendar feeds (`/cal/<token>.ics`)."""

    permission_classes = [IsAuthenticated, FeedWrites]
    serializer_class = s.FeedSerializer
    filterset_class = FeedFilter
    ordering_fields = ["created_at", "kind"]  # default: live feeds first (get_queryset)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Feed.objects.none()  # schema generation runs as AnonymousUser
        return (Feed.objects.for_user(self.request.user).select_related("household", "provider", "user", "team")
                .order_by(F("revoked_at").asc(nulls_first=True), "kind", "id"))

    @extend_schema(
        request=s.FeedCreateSerializer, responses={201: s.IssuedFeedSerializer},
        summary="Create a feed; the answer holds its token and links, shown this once",
        description="Name one household, provider, consultant or team. 409 if it already has a live feed "
        "(rotate that one instead). 403 if you can see the subject but may not manage its calendar.",
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(s.FeedCreateSerializer)
        subject, kind = data.pop("subject"), SUBJECT_KINDS[data.pop("subject_field")]
        if not feed_services.can_manage(request.user, kind=kind, subject=subject):
            raise PermissionDenied(FeedWrites.message)
        issued = feed_services.issue_feed(subject=subject, by=request.user, now=timezone.now(), **data)
        return Response(s.IssuedFeedSerializer(_issued(issued)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.FeedDetailSerializer, responses=s.FeedSerializer,
        summary="A household opts its own feed in to (or out of) more detail",
        description="Only the household's parents: staff get 400 `household_decides`; other feeds 400 "
        "`detail_households_only`.",
    )
    def partial_update(self, request, *args, **kwargs):
        feed = self.get_object()
        data = self.validated(s.FeedDetailSerializer)
        feed = feed_services.set_feed_detail(feed=feed, detailed=data["detailed"], by=request.user, now=timezone.now())
        return self.output(feed)

    @extend_schema(request=None, responses=s.IssuedFeedSerializer,
                   summary="A new link for the feed; the old one stops working at once (token shown once)")
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        issued = feed_services.rotate_feed(feed=self.get_object(), by=request.user, now=timezone.now())
        return Response(s.IssuedFeedSerializer(_issued(issued)).data)

    @extend_schema(request=None, responses=s.FeedSerializer,
                   summary="Stop the feed for good: its link answers 404 (a new feed can be created later)")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        feed = feed_services.revoke_feed(feed=self.get_object(), by=request.user, now=timezone.now())
        return self.output(feed)


# --- Deliveries ---------------------------------------------------------------------------------------------


class DeliveryFilter(filters.FilterSet):
    problems = filters.BooleanFilter(method="filter_problems",
                                     help_text="true: failed, or waiting after a failed attempt.")

    class Meta:
        model = OutboxMessage
        fields = ["channel", "status", "problems"]

    def filter_problems(self, queryset, name, value):
        problems = Q(status=OutboxStatus.FAILED) | Q(status=OutboxStatus.PENDING, attempts__gt=0)
        return queryset.filter(problems) if value else queryset.exclude(problems)


class DeliveryViewSet(ReadOnlyViewSet):
    """Email invitations and CalDAV pushes: their state, attempts and last error (never their content).

    Staff of the municipality and administrators; a provider's users see the pushes to their own calendar.
    """

    serializer_class = s.DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "updated_at", "not_before"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return (OutboxMessage.objects.for_user(self.request.user)
                .defer("payload", "claim_token")
                .annotate(provider_ref=F("connection__provider_id")))


# --- CalDAV --------------------------------------------------------------------------------------------------


class ProviderOwnWrites(BasePermission):
    """Only the provider's own users (and global administrators) connect or change its calendar."""

    message = "Only the provider's own users can connect or change its calendar."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or view.detail:
            return True
        scope = scope_for(request.user)
        return scope.is_global_admin or bool(scope.provider_ids)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        scope = scope_for(request.user)
        return scope.is_global_admin or obj.provider_id in scope.provider_ids


@extend_schema_view(
    create=extend_schema(request=s.CalDavConnectSerializer, responses={201: s.CalDavConnectionSerializer},
                         summary="Connect the provider's CalDAV calendar (replaces an earlier connection)",
                         description="The password is checked against the server first (400 `caldav_unreachable`), "
                         "then stored encrypted. Every current session and upcoming meeting is pushed."),
    update=extend_schema(request=s.CalDavUpdateSerializer, responses=s.CalDavConnectionSerializer),
    partial_update=extend_schema(request=s.CalDavUpdateSerializer, responses=s.CalDavConnectionSerializer),
    destroy=extend_schema(summary="Disconnect: stop pushing and wipe the stored password",
                          responses={204: OpenApiResponse(description="Disconnected.")}),
)
class CalDavConnectionViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                              ReadOnlyViewSet):
    """Providers' own CalDAV calendars: status and last error (the app password is never returned)."""

    permission_classes = [IsAuthenticated, ProviderOwnWrites]
    serializer_class = s.CalDavConnectionSerializer
    filterset_fields = ["status"]
    ordering = ["provider", "id"]

    def get_queryset(self):
        waiting = Q(messages__status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
                    messages__channel=Channel.CALDAV)
        return (CalDavConnection.objects.for_user(self.request.user).defer("password_encrypted")
                .annotate(waiting=Count("messages", filter=waiting),
                          failed=Count("messages", filter=Q(messages__status=OutboxStatus.FAILED))))

    def _fresh(self, connection: CalDavConnection) -> CalDavConnection:
        return self.get_queryset().get(pk=connection.pk)

    def create(self, request, *args, **kwargs):
        data = self.validated(s.CalDavConnectSerializer)
        connection = caldav_services.connect_caldav(by=request.user, now=timezone.now(), **data)
        return self.output(self._fresh(connection), status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, partial: bool = False, **kwargs):
        connection = self.get_object()
        data = self.validated(s.CalDavUpdateSerializer, partial=partial)
        password = data.get("password")
        if not password:
            try:
                password = connection.password() if connection.password_encrypted else ""
            except UndecryptableSecret:
                password = ""
            if not password:
                raise ValidationError({"password": ["Give the app password again: none is stored."]})
        connection = caldav_services.connect_caldav(
            provider=connection.provider, url=data.get("url", connection.url),
            username=data.get("username", connection.username), password=password, by=request.user,
            now=timezone.now(),
        )
        return self.output(self._fresh(connection))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        connection = self.get_object()
        caldav_services.disconnect_caldav(provider=connection.provider, by=request.user, now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
