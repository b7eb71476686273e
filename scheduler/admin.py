"""Admin pages for the scheduler.

Sessions are read-only here: every change goes through ``scheduler.services.sessions`` /
``meetings`` so it is checked for double bookings and kept in the history. Non-superusers see
only what their memberships allow (``for_user``), like everywhere else.
"""

from __future__ import annotations

from django.contrib import admin

from scheduler import models as m

# --- Sessions, meetings and bookings ---------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.for_user(request.user) if hasattr(qs, "for_user") else qs.none()


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SeriesChangeInline(ReadOnlyInline):
    model = m.SeriesChange
    fields = ["at", "by_label", "action", "occurrence", "sequence", "reason"]
    readonly_fields = fields


@admin.register(m.SessionSeries)
class SessionSeriesAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "provider", "household", "rrule", "first_date", "until", "sequence"]
    list_filter = ["kind", "status", "municipality"]
    search_fields = ["uid", "provider__name", "household__name"]
    list_select_related = ["provider", "household"]
    inlines = [SeriesChangeInline]


@admin.register(m.SessionOccurrence)
class SessionOccurrenceAdmin(ReadOnlyAdmin):
    list_display = ["id", "series", "start", "end", "status", "needs_attention", "sequence"]
    list_filter = ["status", "needs_attention"]
    date_hierarchy = "start"
    list_select_related = ["series__provider", "series__household"]


class ParticipantInline(ReadOnlyInline):
    model = m.MeetingParticipant
    fields = ["label", "role", "party", "required", "attending"]
    readonly_fields = fields
    show_change_link = False


class MeetingChangeInline(ReadOnlyInline):
    model = m.MeetingChange
    fields = ["at", "by_label", "action", "sequence", "reason"]
    readonly_fields = fields
    show_change_link = False


@admin.register(m.Meeting)
class MeetingAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "placement", "start", "status", "needs_attention", "sequence"]
    list_filter = ["kind", "status", "needs_attention", "municipality"]
    date_hierarchy = "start"
    inlines = [ParticipantInline, MeetingChangeInline]


@admin.register(m.Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ["party", "start", "end", "active", "occurrence", "meeting"]
    list_filter = ["active"]
    search_fields = ["party__key"]
    list_select_related = ["party"]

    def get_queryset(self, request):
        # Bookings are plumbing: superusers only.
        qs = super(ReadOnlyAdmin, self).get_queryset(request)
        return qs if request.user.is_superuser else qs.none()
