"""The model rules that matter: scoping, membership-derived roles, placement transitions, need validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from support import services
from support.errors import DomainError, InvalidTransition
from support.models import (
    AuditEntry,
    Child,
    Household,
    HouseholdKind,
    Membership,
    NeedStatus,
    Placement,
    PlacementStatus,
    SupportNeed,
)
from support.roles import Role, scope_for
from tests.conftest import make_household


def need_for(world, **overrides) -> SupportNeed:
    args = {
        "placement": world.placement, "recipient": "foster_household", "service": "supervision",
        "minutes_per_session": 90, "sessions_per_week": "0.5", "starts_on": dt.date(2026, 11, 1), "by": world.consultant,
    }
    args.update(overrides)
    return services.create_support_need(**args)


# --- Municipality scoping -----------------------------------------------------------------------------


def test_consultant_sees_only_own_municipality(world):
    assert list(Placement.objects.for_user(world.consultant)) == [world.placement]
    assert list(Placement.objects.for_user(world.other_consultant)) == [world.odense_placement]
    homes = set(Household.objects.for_user(world.consultant))
    assert world.odense_foster_home not in homes
    assert {world.foster_home, world.other_foster_home, world.birth_home} <= homes


def test_outsider_sees_nothing(world):
    for model in (Placement, Child, Household, SupportNeed):
        assert not model.objects.for_user(world.outsider).exists(), model.__name__


def test_foster_parent_sees_own_household_and_child_only(world):
    assert list(Household.objects.for_user(world.foster_parent)) == [world.foster_home]
    assert list(Child.objects.for_user(world.foster_parent)) == [world.child]
    assert not Child.objects.for_user(world.other_foster_parent).exists()
    assert not Placement.objects.for_user(world.other_foster_parent).exists()


def test_birth_parent_does_not_see_the_foster_household_or_child(world):
    assert list(Household.objects.for_user(world.birth_parent)) == [world.birth_home]
    assert not Child.objects.for_user(world.birth_parent).exists()


def test_provider_sees_households_only_through_assigned_needs(world):
    need = need_for(world)
    assert not Household.objects.for_user(world.provider_user).exists()
    SupportNeed.objects.filter(pk=need.pk).update(current_provider=world.provider, status=NeedStatus.ASSIGNED)
    assert list(Household.objects.for_user(world.provider_user)) == [world.foster_home]
    assert list(SupportNeed.objects.for_user(world.provider_user)) == [need]


def test_inactive_user_loses_all_scope(world):
    world.consultant.is_active = False
    world.consultant.save()
    world.consultant.refresh_from_db()
    assert not Placement.objects.for_user(world.consultant).exists()


def test_placement_cannot_use_another_municipalitys_household(world):
    placement = Placement(
        municipality=world.aarhus, child=world.child, foster_household=world.odense_foster_home,
        starts_on=dt.date(2026, 1, 1),
    )
    with pytest.raises(ValidationError) as err:
        placement.full_clean()
    assert "foster_household" in err.value.message_dict


# --- Roles come from memberships ------------------------------------------------------------------------


def test_roles_come_from_memberships_not_user_flags(world):
    scope = scope_for(world.consultant)
    assert scope.roles == {Role.CONSULTANT}
    assert scope.staff_municipality_ids == {world.aarhus.pk}
    assert scope_for(world.outsider).roles == frozenset()
    # A superuser flag alone gives no case access: the administrator membership is configuration only.
    assert scope_for(world.administrator).roles == {Role.ADMINISTRATOR}
    assert not Placement.objects.for_user(world.administrator).exists()


def test_one_person_can_hold_two_roles(world):
    Membership.objects.create(user=world.foster_parent, role=Role.PROVIDER, provider=world.provider)
    world.foster_parent.refresh_from_db()
    scope = scope_for(world.foster_parent)
    assert scope.roles == {Role.FOSTER_PARENT, Role.PROVIDER}
    assert scope.provider_ids == {world.provider.pk}


def test_membership_rules(world):
    with pytest.raises(ValidationError):
        Membership(user=world.outsider, role=Role.CONSULTANT).full_clean()
    with pytest.raises(ValidationError):
        Membership(user=world.outsider, role=Role.FOSTER_PARENT, household=world.birth_home).full_clean()
    with pytest.raises(ValidationError):
        Membership(user=world.outsider, role=Role.CONSULTANT, municipality=world.odense, team=world.team).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=world.outsider, role=Role.PROVIDER)


def test_membership_takes_municipality_from_household(world):
    membership = Membership.objects.get(user=world.foster_parent)
    assert membership.municipality == world.aarhus


# --- Placement status transitions ------------------------------------------------------------------------


def test_placement_ends_as_planned_and_its_needs_end(world):
    need = need_for(world)
    services.end_placement(placement=world.placement, on=dt.date(2026, 12, 1), by=world.consultant)
    world.placement.refresh_from_db()
    need.refresh_from_db()
    assert world.placement.status == PlacementStatus.ENDED
    assert world.placement.ended_on == dt.date(2026, 12, 1)
    assert need.status == NeedStatus.ENDED
    assert AuditEntry.objects.filter(action="placement.ended", object_id=str(world.placement.pk)).exists()


def test_breakdown_needs_a_known_reason(world):
    with pytest.raises(DomainError) as err:
        services.record_breakdown(placement=world.placement, on=dt.date(2026, 12, 1), reason="bad luck", by=None)
    assert "breakdown_reason" in err.value.fields
    services.record_breakdown(placement=world.placement, on=dt.date(2026, 12, 1), reason="safety", by=None)
    world.placement.refresh_from_db()
    assert world.placement.status == PlacementStatus.BROKE_DOWN
    assert world.placement.breakdown_reason == "safety"


def test_ended_placement_cannot_end_again_or_break_down(world):
    services.end_placement(placement=world.placement, on=dt.date(2026, 12, 1), by=None)
    with pytest.raises(InvalidTransition):
        services.record_breakdown(placement=world.placement, on=dt.date(2026, 12, 2), reason="safety", by=None)
    with pytest.raises(InvalidTransition):
        services.end_placement(placement=world.placement, on=dt.date(2026, 12, 2), by=None)


def test_placement_cannot_end_before_it_started(world):
    with pytest.raises(DomainError):
        services.end_placement(placement=world.placement, on=dt.date(2020, 1, 1), by=None)
    world.placement.refresh_from_db()
    assert world.placement.status == PlacementStatus.ACTIVE


def test_database_refuses_inconsistent_placement_status(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Placement.objects.filter(pk=world.placement.pk).update(status=PlacementStatus.BROKE_DOWN)


# --- Support need validation --------------------------------------------------------------------------------


def test_valid_need_is_created_open_with_competences(world):
    need = need_for(world, required_competences=["trauma"], preferred_competences=["attachment", "attachment"])
    assert need.status == NeedStatus.OPEN
    assert need.sessions_per_week == Decimal("0.5")
    assert [c.code for c in need.required_competences.all()] == ["trauma"]
    assert [c.code for c in need.preferred_competences.all()] == ["attachment"]
    assert need.municipality == world.aarhus
    assert need.recipient_household == world.foster_home


@pytest.mark.parametrize("value", [0, "0", -1, "abc", "NaN", "Infinity"])
def test_sessions_per_week_must_be_positive(world, value):
    with pytest.raises(DomainError) as err:
        need_for(world, sessions_per_week=value)
    assert "sessions_per_week" in err.value.fields
    assert not SupportNeed.objects.exists()


@pytest.mark.parametrize("priority", [0, 6, 2.5])
def test_priority_is_one_to_five(world, priority):
    with pytest.raises(DomainError) as err:
        need_for(world, priority=priority)
    assert "priority" in err.value.fields


def test_required_competences_must_be_known(world):
    with pytest.raises(DomainError) as err:
        need_for(world, required_competences=["trauma", "astrology"])
    assert "astrology" in err.value.fields["required_competences"][0]
    assert not SupportNeed.objects.exists()


def test_unknown_service_is_refused(world):
    with pytest.raises(DomainError) as err:
        need_for(world, service="magic")
    assert "service" in err.value.fields


def test_birth_household_recipient_must_belong_to_the_placement(world):
    stranger = make_household(world.aarhus, "Andre forældre (fiktiv)", kind=HouseholdKind.BIRTH)
    with pytest.raises(DomainError) as err:
        need_for(world, recipient="birth_household", recipient_household=stranger, service="home_guidance")
    assert "recipient_household" in err.value.fields
    need = need_for(world, recipient="birth_household", service="home_guidance")
    assert need.recipient_household == world.birth_home


def test_database_refuses_zero_sessions_and_bad_priority(world):
    need = need_for(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportNeed.objects.filter(pk=need.pk).update(sessions_per_week=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportNeed.objects.filter(pk=need.pk).update(priority=9)


def test_separate_from_is_symmetric(world):
    a = need_for(world)
    b = need_for(world, recipient="birth_household", service="home_guidance")
    services.separate_needs(need=a, other=b, by=world.consultant)
    assert list(b.separate_from.all()) == [a]


def test_needs_cannot_be_added_to_an_ended_placement(world):
    services.end_placement(placement=world.placement, on=dt.date(2026, 12, 1), by=None)
    with pytest.raises(DomainError) as err:
        need_for(world)
    assert "placement" in err.value.fields


# --- Households and audit --------------------------------------------------------------------------------------


def test_foster_household_needs_a_current_or_legacy_type(world):
    home = Household(municipality=world.aarhus, kind=HouseholdKind.FOSTER, name="X (fiktiv)", languages=["da"])
    with pytest.raises(ValidationError):
        home.full_clean()
    home.foster_type = "kommunal_legacy"
    home.full_clean()


def test_audit_entries_cannot_be_changed_or_deleted(world):
    entry = AuditEntry.objects.create(actor_label="x", action="test", object_type="t", object_id="1")
    entry.action = "changed"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


def test_ending_a_placement_ends_a_future_need_on_its_own_start(world):
    future = need_for(world, starts_on=dt.date(2027, 1, 1))
    services.end_placement(placement=world.placement, on=dt.date(2026, 12, 1), by=None)
    future.refresh_from_db()
    assert future.status == NeedStatus.ENDED and future.ends_on == dt.date(2027, 1, 1)


def test_need_cannot_start_before_the_placement_or_use_a_bad_language(world):
    with pytest.raises(DomainError) as err:
        need_for(world, starts_on=dt.date(2020, 1, 1), language="Danish!")
    assert {"starts_on", "language"} <= set(err.value.fields)


def test_placement_must_be_in_a_foster_household_and_not_a_new_legacy_one(world):
    bad = Placement(municipality=world.aarhus, child=world.child, foster_household=world.birth_home,
                    starts_on=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError):
        bad.full_clean()
    legacy = make_household(world.aarhus, "Gammel kommunal (fiktiv)", foster_type="kommunal_legacy")
    with pytest.raises(ValidationError):
        Placement(municipality=world.aarhus, child=world.child, foster_household=legacy,
                  starts_on=dt.date(2026, 1, 1)).full_clean()
    Placement(municipality=world.aarhus, child=world.child, foster_household=legacy,
              starts_on=dt.date(2015, 1, 1), status="ended", ended_on=dt.date(2017, 1, 1)).full_clean()


def test_foster_parent_no_longer_sees_an_ended_placement(world):
    services.end_placement(placement=world.placement, on=dt.date(2026, 12, 1), by=None)
    assert not Placement.objects.for_user(world.foster_parent).exists()
    assert not Child.objects.for_user(world.foster_parent).exists()


def test_weekly_availability_is_ordered_by_weekday(world):
    from support.models import WeeklyAvailability

    for day in ("sun", "mon", "fri", "tue"):
        WeeklyAvailability.objects.create(household=world.foster_home, day=day, start_minute=600, end_minute=700)
    assert [w.day for w in world.foster_home.availability.all()] == ["mon", "tue", "fri", "sun"]
