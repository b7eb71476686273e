"""The demo seed: enough fictional data to show every role something, and safe to run again."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from scheduler.models import Meeting, MeetingKind, ParticipantRole, SessionOccurrence
from support import demo, services
from support.errors import Conflict
from support.models import (
    Alert,
    AlertStatus,
    CheckIn,
    Child,
    ContactPerson,
    FosterType,
    Goal,
    Household,
    HouseholdKind,
    Membership,
    Milestone,
    Municipality,
    NeedStatus,
    Placement,
    PlacementStatus,
    Provider,
    RiskScore,
    Service,
    SupportNeed,
)
from support.roles import Role

TODAY = dt.date(2026, 11, 2)
pytestmark = pytest.mark.django_db


def demo_needs():
    return SupportNeed.objects.filter(municipality__in=demo.demo_municipalities())


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def fingerprint() -> list[tuple]:
    """The demo's content without primary keys or timestamps."""
    munis = demo.demo_municipalities()
    return [
        *Household.objects.filter(municipality__in=munis)
        .order_by("name", "street")
        .values_list(
            "municipality__code",
            "name",
            "kind",
            "foster_type",
            "approved_places",
            "street",
            "postcode",
            "latitude",
            "longitude",
            "languages",
            "email",
        ),
        *Child.objects.filter(municipality__in=munis)
        .order_by("display_name", "birth_date")
        .values_list("display_name", "birth_date"),
        *Placement.objects.filter(municipality__in=munis)
        .order_by("child__birth_date", "starts_on")
        .values_list(
            "child__display_name",
            "foster_household__name",
            "institution_name",
            "status",
            "starts_on",
            "planned_end_on",
            "ended_on",
            "breakdown_reason",
        ),
        *demo_needs()
        .order_by("placement__child__birth_date", "service__code", "recipient", "starts_on")
        .values_list(
            "service__code",
            "recipient",
            "recipient_household__name",
            "priority",
            "status",
            "starts_on",
            "ends_on",
            "language",
            "remote_ok",
            "current_provider__name",
        ),
        *Provider.objects.filter(email__endswith=demo.EMAIL_DOMAIN)
        .order_by("name")
        .values_list(
            "name", "latitude", "longitude", "capacity_minutes_per_week", "max_cases", "household__name"
        ),
        *SessionOccurrence.objects.filter(series__municipality__in=munis)
        .order_by("series__provider__name", "start")
        .values_list("series__provider__name", "series__household__name", "start", "end", "status"),
        *Meeting.objects.filter(municipality__in=munis).order_by("start").values_list("kind", "start", "end"),
        *CheckIn.objects.filter(municipality__in=munis)
        .order_by("municipality__code", "placement__child__display_name", "on")
        .values_list(
            "municipality__code", "placement__child__display_name", "on", "stress", "help_now", "commitment", "problem_behaviours",
            "free_text",
        ),
        *RiskScore.objects.filter(municipality__in=munis, latest=True)
        .order_by("municipality__code", "placement__child__display_name")
        .values_list("municipality__code", "placement__child__display_name", "level", "index", "trend_direction"),
        *Goal.objects.filter(municipality__in=munis).order_by("title").values_list("title", "indicator", "review_on"),
        *Milestone.objects.filter(municipality__in=munis)
        .order_by("due_on", "rule_code", "title_en", "status")
        .values_list("rule_code", "title_en", "due_on", "status"),  # sequence: a goal's id for goal reviews
    ]


def test_seed_meets_the_minimums_and_every_service_has_a_provider():
    result = demo.seed(today=TODAY)

    assert result.created
    counts = result.counts
    assert counts["municipalities"] == 2
    assert counts["foster households"] >= 40
    assert counts["birth households"] >= 15
    assert counts["active placements"] + counts["ended placements"] + counts["broken-down placements"] >= 60
    assert counts["ended placements"] >= 3 and counts["broken-down placements"] >= 3
    assert counts["providers"] >= 30
    assert counts["open needs"] >= 40
    assert counts["assigned needs"] >= 3
    for municipality in demo.demo_municipalities():
        assert municipality.teams.count() >= 2
    providers = Provider.objects.filter(email__endswith=demo.EMAIL_DOMAIN)
    for service in Service.objects.all():
        assert providers.filter(services=service).exists(), f"no demo provider offers {service.code}"
    assert providers.filter(household__kind=HouseholdKind.RESPITE, services__code="respite").exists()
    languages = {code for codes in providers.values_list("languages", flat=True) for code in codes}
    assert {"da", "en", "ar", "so", "tr", "uk", "pl"} <= languages
    assert providers.filter(municipalities__code="751").filter(municipalities__code="746").exists()
    assert providers.filter(absences__isnull=False).exists()
    assert demo_needs().filter(separate_from__isnull=False).exists()
    assert demo_needs().filter(remote_ok=True).exists()
    assert demo_needs().filter(required_competences__isnull=False).exists()
    assert set(demo_needs().values_list("priority", flat=True)) == {1, 2, 3, 4, 5}


def test_the_demo_shows_sessions_a_meeting_signals_scores_alerts_and_goals():
    demo.seed(today=TODAY)
    User = get_user_model()
    munis = demo.demo_municipalities()
    morning = dt.datetime.combine(TODAY, dt.time(0), tzinfo=demo.COPENHAGEN)
    eight_weeks = (morning, morning + dt.timedelta(weeks=8))

    # The portal's "next 8 weeks" for the foster family and the provider login are not empty.
    for username in ("plejeforaelder", "leverandoer"):
        upcoming = SessionOccurrence.objects.for_user(User.objects.get(username=username)).booked().between(
            *eight_weeks
        )
        assert upcoming.count() >= 4, username
    assert not SupportNeed.objects.filter(
        municipality__in=munis, status=NeedStatus.ASSIGNED, session_series__isnull=True
    ).exists()

    testrup = Household.objects.get(name="Familien Testrup (fiktiv)")
    meeting = Meeting.objects.get(municipality__in=munis)
    assert meeting.kind == MeetingKind.FOLLOW_UP and meeting.placement.foster_household == testrup
    assert eight_weeks[0] < meeting.start < eight_weeks[1]
    roles = set(meeting.participants.filter(attending=True).values_list("role", flat=True))
    assert {ParticipantRole.CONSULTANT, ParticipantRole.FOSTER_PARENTS, ParticipantRole.BIRTH_PARENTS} <= roles
    assert Meeting.objects.for_user(User.objects.get(username="biologiskforaelder")).filter(pk=meeting.pk).exists()

    # About twelve weeks of weekly check-ins, dated in the past; the foster family sent its own.
    checkins = CheckIn.objects.filter(municipality__in=munis)
    assert checkins.count() >= 40 * 8
    assert not checkins.filter(on__gt=TODAY).exists()
    assert checkins.filter(on__lt=TODAY - dt.timedelta(weeks=10)).exists()
    assert checkins.filter(household=testrup, submitted_by__username="plejeforaelder").exists()

    # One current score per active foster placement, a believable spread, and alerts for the rises.
    scorable = Placement.objects.filter(
        municipality__in=munis, status=PlacementStatus.ACTIVE, foster_household__isnull=False
    )
    latest = RiskScore.objects.filter(municipality__in=munis, latest=True)
    assert latest.count() == scorable.count()
    levels = Counter(latest.values_list("level", flat=True))
    assert set(levels) == {"green", "yellow", "red", "no_data"}
    assert levels["green"] > levels["yellow"] > levels["red"] >= 2 and levels["no_data"] >= 2
    assert latest.filter(level="red", trend_direction="rising").exists()
    open_alerts = Alert.objects.filter(municipality__in=munis, status=AlertStatus.OPEN)
    assert open_alerts.filter(level="red").exists()
    for red in latest.filter(level="red"):
        assert open_alerts.filter(placement=red.placement).exists()

    # Goals for the Testrup siblings, with review dates that became milestones.
    goals = Goal.objects.filter(placement__foster_household=testrup)
    assert goals.count() >= 2 and goals.values("placement").distinct().count() == 2
    assert Milestone.objects.filter(placement__foster_household=testrup, rule_code__icontains="goal").exists()
    assert Milestone.objects.filter(municipality__in=munis).values("municipality").distinct().count() == 2

    # Free text stays short, neutral and marked.
    for text in checkins.exclude(free_text="").values_list("free_text", flat=True):
        assert text.endswith("(demo)") and len(text) < 60


def test_placements_needs_and_ages_are_consistent():
    demo.seed(today=TODAY)
    placements = Placement.objects.filter(municipality__in=demo.demo_municipalities()).select_related(
        "child", "foster_household"
    )

    for placement in placements:
        assert placement.child.municipality_id == placement.municipality_id
        if placement.foster_household:
            assert placement.foster_household.municipality_id == placement.municipality_id
            assert placement.foster_household.kind == HouseholdKind.FOSTER
        if placement.is_active:
            assert placement.ended_on is None
        else:
            assert placement.ended_on <= TODAY
            assert placement.support_needs.exclude(status=NeedStatus.ENDED).count() == 0
        if placement.status == PlacementStatus.BROKE_DOWN:
            assert placement.breakdown_reason
    for household in Household.objects.filter(
        municipality__in=demo.demo_municipalities(), kind=HouseholdKind.FOSTER
    ):
        assert (
            household.foster_placements.filter(status=PlacementStatus.ACTIVE).count()
            <= household.approved_places
        )
    # Kommunale plejefamilier were abolished in 2019: only old, ended placements use them.
    legacy = placements.filter(foster_household__foster_type=FosterType.KOMMUNAL_LEGACY)
    assert legacy.exists()
    assert not legacy.filter(status=PlacementStatus.ACTIVE).exists()
    assert not legacy.filter(starts_on__gte=dt.date(2019, 7, 1)).exists()
    for child in Child.objects.filter(municipality__in=demo.demo_municipalities()):
        assert child.placements.filter(status=PlacementStatus.ACTIVE).count() <= 1
    for need in demo_needs().select_related("placement", "recipient_household"):
        assert (
            need.municipality_id == need.placement.municipality_id == need.recipient_household.municipality_id
        )
        if need.status == NeedStatus.ASSIGNED:
            assert need.current_provider.services.filter(pk=need.service_id).exists()
            assert need.current_provider.municipalities.filter(pk=need.municipality_id).exists()
    # Children are 0-17, with some near 16 (preparing adulthood) and 17 (the decision before 18).
    children = list(Child.objects.filter(municipality__in=demo.demo_municipalities()))
    ages = [child.age_on(TODAY) for child in children]
    soon = TODAY + dt.timedelta(days=90)
    assert min(ages) == 0 and max(ages) == 17
    assert ages.count(17) >= 3
    assert sum(1 for child in children if child.age_on(TODAY) == 15 and child.age_on(soon) == 16) >= 2


def test_every_role_has_a_login_with_a_membership_and_the_printed_password():
    demo.seed(today=TODAY)

    for login in demo.LOGINS:
        user = authenticate(HttpRequest(), username=login.username, password=login.password)
        assert user is not None, login.username
        assert Membership.objects.filter(user=user, role=login.role).exists(), login.username
    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert Membership.objects.get(user=admin).municipality is None
    for username in ("konsulent", "konsulent2", "teamleder"):
        staff = User.objects.get(username=username)
        assert staff.is_staff and not staff.is_superuser
        assert staff.has_perm("support.change_supportneed") and staff.has_perm("support.view_placement")
        assert not staff.has_perm("support.view_contactperson")  # that admin page is not scoped yet
    assert {m.municipality.code for m in Membership.objects.filter(role=Role.CONSULTANT)} == {"751", "746"}
    foster = Membership.objects.get(user__username="plejeforaelder").household
    assert foster.kind == HouseholdKind.FOSTER
    assert foster.foster_placements.filter(status=PlacementStatus.ACTIVE).count() >= 2
    provider_user = User.objects.get(username="leverandoer")
    assigned = SupportNeed.objects.for_user(provider_user)
    assert {n.municipality.code for n in assigned} == {"751", "746"}
    birth_parent = User.objects.get(username="biologiskforaelder")
    assert SupportNeed.objects.for_user(birth_parent).exists()
    assert (
        not Household.objects.for_user(User.objects.get(username="konsulent2"))
        .filter(municipality__code="751")
        .exists()
    )


def test_nothing_looks_like_real_people():
    demo.seed(today=TODAY)
    munis = demo.demo_municipalities()
    emails = [
        *get_user_model().objects.filter(username__in=demo.USERNAMES).values_list("email", flat=True),
        *Household.objects.filter(municipality__in=munis).values_list("email", flat=True),
        *ContactPerson.objects.filter(household__municipality__in=munis).values_list("email", flat=True),
        *Provider.objects.filter(municipalities__in=munis).values_list("email", flat=True),
    ]

    assert emails
    assert all(e.endswith(("example.org", ".invalid")) for e in emails), [
        e for e in emails if not e.endswith(("example.org", ".invalid"))
    ]
    assert not Child.objects.exclude(cpr_hash="").exists()
    assert all(
        re.search(r"Demo-barn |\(demo\)", name)
        for name in Child.objects.values_list("display_name", flat=True)
    )
    assert all("(fiktiv" in name for name in Household.objects.values_list("name", flat=True))
    assert all("(fiktiv" in name for name in ContactPerson.objects.values_list("name", flat=True))
    assert all("(fiktiv" in name for name in Provider.objects.values_list("name", flat=True))
    assert not ContactPerson.objects.exclude(phone="").exists()
    assert all(m.name.startswith("Demo-") for m in munis)


def test_second_run_changes_nothing_and_says_so():
    first = io.StringIO()
    call_command("seed_demo", today=TODAY, stdout=first)
    before, content = row_counts(), fingerprint()
    second = io.StringIO()
    call_command("seed_demo", today=TODAY, stdout=second)

    assert row_counts() == before
    assert fingerprint() == content
    assert "Demo data created" in first.getvalue()
    assert "nothing was changed" in second.getvalue()
    for login in demo.LOGINS:  # the logins table is printed both times
        assert re.search(rf"{login.username}\s+{re.escape(login.password)}", first.getvalue())
        assert login.password in second.getvalue()


def test_reset_recreates_the_same_demo_and_keeps_real_data():
    odense = Municipality.objects.create(code="461", name="Odense")
    real_home = Household.objects.create(
        municipality=odense, kind=HouseholdKind.FOSTER, foster_type=FosterType.ALMEN, name="Familien Rigtig"
    )
    real_user = get_user_model().objects.create_user("rigtig_konsulent", password="not-a-demo-pw-1")
    demo.seed(today=TODAY)
    real_provider = Provider.objects.create(
        name="Real Supervisor", latitude=55.4, longitude=10.4, capacity_minutes_per_week=600, max_cases=5
    )
    real_provider.municipalities.add(odense, *demo.demo_municipalities())
    content = fingerprint()
    old_ids = set(
        Household.objects.filter(municipality__in=demo.demo_municipalities()).values_list("pk", flat=True)
    )

    out = io.StringIO()
    call_command("seed_demo", reset=True, today=TODAY, stdout=out)

    assert "Deleted the old demo" in out.getvalue()
    assert fingerprint() == content
    assert not Household.objects.filter(pk__in=old_ids).exists()
    assert Household.objects.filter(pk=real_home.pk).exists()
    assert get_user_model().objects.filter(pk=real_user.pk).exists()
    real_provider.refresh_from_db()
    assert list(real_provider.municipalities.all()) == [odense]


def test_refuses_to_take_over_real_municipalities_and_users(world):
    # The shared test world has a real "751 Aarhus" and users named konsulent, teamleder and admin.
    with pytest.raises(CommandError, match="751 Aarhus.*not demo data"):
        call_command("seed_demo", today=TODAY, stdout=io.StringIO())
    world.aarhus.code = "999"
    world.aarhus.save()
    with pytest.raises(Conflict, match="not demo users") as refused:
        demo.seed(today=TODAY)

    assert all(name in refused.value.message for name in ("konsulent", "teamleder", "admin"))

    assert not demo.demo_municipalities().exists()
    assert world.consultant.memberships.count() == 1


def test_a_failure_half_way_leaves_nothing_behind(monkeypatch):
    before = row_counts()

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "record_breakdown", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        demo.seed(today=TODAY)

    assert row_counts() == before


def test_dates_follow_today_even_on_a_leap_day():
    demo.seed(today=dt.date(2028, 2, 29))
    placements = Placement.objects.filter(municipality__in=demo.demo_municipalities())

    assert placements.filter(status=PlacementStatus.ACTIVE, starts_on__gt=dt.date(2027, 11, 1)).exists()
    assert not placements.filter(starts_on__gt=dt.date(2028, 2, 29)).exists()
    assert not demo_needs().filter(starts_on__gt=dt.date(2028, 3, 31)).exists()


def test_demo_staff_get_a_working_two_factor_code(db, settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django_otp.plugins.otp_totp.models import TOTPDevice

    demo.seed(today=dt.date(2026, 11, 2))
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_totp", "konsulent", stdout=out)
    device = TOTPDevice.objects.get(user__username="konsulent")
    assert device.verify_token(out.getvalue().strip())
    with pytest.raises(CommandError, match="not a demo account"):
        call_command("demo_totp", "someone-real")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_totp", "konsulent")


def test_seeding_queues_no_re_scoring_task_per_signal(django_capture_on_commit_callbacks):
    """The seed scores every placement itself; the services' per-signal re-scoring requests are
    gathered (support.wellbeing.signals.recompute_in_one_go) instead of each queueing a task."""
    with django_capture_on_commit_callbacks() as callbacks:
        demo.seed(today=TODAY)
    queued = [c for c in callbacks if c.__qualname__.startswith("enqueue_recompute")]
    assert queued == []
    assert CheckIn.objects.count() > 100  # the signals were recorded all the same
    assert RiskScore.objects.filter(latest=True).count() == Placement.objects.filter(
        municipality__in=demo.demo_municipalities(), status=PlacementStatus.ACTIVE, foster_household__isnull=False,
    ).count()


def test_outside_the_seed_a_signal_still_queues_its_re_scoring(world, django_capture_on_commit_callbacks):
    from support.wellbeing import signals

    with django_capture_on_commit_callbacks() as callbacks:
        signals.enqueue_recompute([world.placement.pk])
    assert [c.__qualname__ for c in callbacks] == ["enqueue_recompute.<locals>.enqueue"]
    with signals.recompute_in_one_go() as gathered, django_capture_on_commit_callbacks() as callbacks:
        signals.enqueue_recompute([world.placement.pk, world.placement.pk])
    assert callbacks == [] and gathered == {world.placement.pk}
