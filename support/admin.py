"""Admin pages for every model of the care domain.

Superusers (the administrator role) see everything; other staff users see only what their
memberships allow, through the same `for_user` querysets the API uses.
"""

from __future__ import annotations

from django.contrib import admin

from support import models as m


class ScopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        # A model without a scope is not for non-superusers at all: fail closed.
        return qs.for_user(request.user) if hasattr(qs, "for_user") else qs.none()

    def _scoped_choices(self, db_field, request, kwargs):
        manager = db_field.related_model._default_manager
        if not request.user.is_superuser and hasattr(manager.get_queryset(), "for_user"):
            kwargs["queryset"] = manager.get_queryset().for_user(request.user)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scoped_choices(db_field, request, kwargs))


class AvailabilityInline(admin.TabularInline):
    model = m.WeeklyAvailability
    extra = 0


class ContactInline(admin.TabularInline):
    model = m.ContactPerson
    extra = 0


class AbsenceInline(admin.TabularInline):
    model = m.ProviderAbsence
    extra = 0


def _flag_absence_later(absence) -> None:
    # Absences saved here bypass scheduler.services.sessions.record_provider_absence: flag the
    # sessions and meetings they hit once the save is committed, as that service would.
    from scheduler.services.sessions import flag_absence_on_commit

    flag_absence_on_commit(absence=absence)


@admin.register(m.Municipality)
class MunicipalityAdmin(ScopedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(m.Team)
class TeamAdmin(ScopedAdmin):
    list_display = ["name", "municipality"]
    list_filter = ["municipality"]


@admin.register(m.Service, m.Competence)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ["code", "name_da", "name_en"]


@admin.register(m.Household)
class HouseholdAdmin(ScopedAdmin):
    list_display = ["name", "kind", "foster_type", "approved_places", "city", "municipality"]
    list_filter = ["municipality", "kind", "foster_type"]
    search_fields = ["name", "city"]
    inlines = [ContactInline, AvailabilityInline]


@admin.register(m.Provider)
class ProviderAdmin(ScopedAdmin):
    list_display = ["name", "kind", "capacity_minutes_per_week", "max_cases", "offers_remote", "is_active"]
    list_filter = ["services", "competences", "offers_remote", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["services", "competences", "municipalities"]
    inlines = [AvailabilityInline, AbsenceInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is m.ProviderAbsence:
            for absence in formset.new_objects + [obj for obj, _fields in formset.changed_objects]:
                _flag_absence_later(absence)


@admin.register(m.Child)
class ChildAdmin(ScopedAdmin):
    list_display = ["display_name", "birth_date", "municipality"]
    list_filter = ["municipality"]
    readonly_fields = ["cpr_hash"]


@admin.register(m.Placement)
class PlacementAdmin(ScopedAdmin):
    list_display = ["child", "foster_household", "institution_name", "status", "starts_on", "ended_on", "consultant"]
    list_filter = ["municipality", "status"]
    filter_horizontal = ["birth_households"]
    # Status changes go through support.services (end_placement / record_breakdown), which check the
    # transition and keep the audit trail; the admin shows them but does not edit them directly.
    readonly_fields = ["status", "ended_on", "breakdown_reason"]


@admin.register(m.SupportNeed)
class SupportNeedAdmin(ScopedAdmin):
    list_display = ["placement", "service", "recipient", "priority", "status", "current_provider"]
    list_filter = ["municipality", "service", "status", "priority"]
    filter_horizontal = ["required_competences", "preferred_competences", "excluded_providers", "separate_from"]


@admin.register(m.Membership)
class MembershipAdmin(ScopedAdmin):
    list_display = ["user", "role", "municipality", "team", "household", "provider"]
    list_filter = ["role", "municipality"]


@admin.register(m.WeeklyAvailability)
class WeeklyAvailabilityAdmin(ScopedAdmin):
    list_display = ["__str__", "household", "provider"]


@admin.register(m.ProviderAbsence)
class ProviderAbsenceAdmin(ScopedAdmin):
    list_display = ["provider", "starts_at", "ends_at", "reason"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _flag_absence_later(obj)


@admin.register(m.ContactPerson)
class ContactPersonAdmin(ScopedAdmin):
    list_display = ["name", "relation", "household"]


@admin.register(m.AuditEntry)
class AuditEntryAdmin(ScopedAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_id", "municipality"]
    list_filter = ["action", "municipality"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
from support import admin_wellbeing  # noqa: E402,F401  (registers the well-being models)
