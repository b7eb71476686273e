"""Admin for feeds, CalDAV connections and the outbox: read-mostly, never a token or a password."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from calendars import outbox
from calendars.models import CalDavConnection, Feed, OutboxMessage, OutboxStatus
from support.models import Provider


class ScopedAdmin(admin.ModelAdmin):
    """Superusers see everything; other staff only what their memberships allow."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        if hasattr(qs, "for_user"):
            return qs.for_user(request.user)
        return qs.filter(provider__in=Provider.objects.for_user(request.user))


@admin.register(Feed)
class FeedAdmin(ScopedAdmin):
    list_display = ("pk", "kind", "subject_label", "detailed", "language", "created_at", "revoked_at",
                    "last_fetched_at", "last_client", "fetch_count")
    list_filter = ("kind", "detailed", ("revoked_at", admin.EmptyFieldListFilter))
    readonly_fields = [f.name for f in Feed._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # issued through calendars.services.feeds, which returns the token once

    @admin.display(description="subject")
    def subject_label(self, obj: Feed) -> str:
        return str(obj.subject)

    @admin.action(description="Revoke the selected feeds")
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), updated_at=timezone.now())
        self.message_user(request, f"{n} feed(s) revoked.", messages.SUCCESS)


@admin.register(CalDavConnection)
class CalDavConnectionAdmin(ScopedAdmin):
    list_display = ("provider", "url", "status", "last_success_at", "last_error_at", "short_error")
    list_filter = ("status",)
    exclude = ("password_encrypted",)
    readonly_fields = ("provider", "url", "username", "status", "last_error", "last_error_at", "last_success_at",
                       "created_by", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False  # connected by the provider through calendars.services.caldav

    @admin.display(description="last error")
    def short_error(self, obj: CalDavConnection) -> str:
        return obj.last_error[:80]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ScopedAdmin):
    list_display = ("pk", "channel", "method", "uid", "recipient", "connection", "status", "attempts", "not_before",
                    "permanent", "short_error", "sent_at")
    list_filter = ("channel", "status", "permanent", "method")
    search_fields = ("uid", "recipient")
    exclude = ("payload", "claim_token")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields if f.name not in ("payload", "claim_token")]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry the selected failed messages now")
    def retry_now(self, request, queryset):
        n = 0
        for message in queryset.filter(status=OutboxStatus.FAILED):
            outbox.retry(message=message, by=request.user, now=timezone.now())
            n += 1
        self.message_user(request, f"{n} message(s) queued again.", messages.SUCCESS)
