"""GDPR: retention (anonymise closed placements), right of access (export) and erasure (delete)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
import time_machine
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import models
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from support import audit, privacy
from support.errors import DomainError
from support.models import (
    AuditEntry,
    BreakdownReason,
    CheckIn,
    Child,
    ContactPerson,
    Membership,
    Placement,
    PlacementStatus,
    Service,
    SupportNeed,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)  # retention 5 years: cut-off 2 Nov 2021


def closed_placement(world, child, *, ended_on, starts_on=dt.date(2018, 1, 1), note="Fiktiv note om afslutningen."):
    return Placement.objects.create(
        municipality=world.aarhus, child=child, foster_household=world.foster_home, consultant=world.consultant,
        starts_on=starts_on, status=PlacementStatus.BROKE_DOWN, ended_on=ended_on,
        breakdown_reason=BreakdownReason.CHILD_BEHAVIOUR, end_note=note,
    )


def need_for(world, placement, reason="Fiktiv begrundelse med navne."):
    return SupportNeed.objects.create(
        municipality=world.aarhus, placement=placement, recipient="foster_household",
        recipient_household=world.foster_home, service=Service.objects.get(code="supervision"),
        minutes_per_session=60, sessions_per_week="0.5", starts_on=placement.starts_on, reason=reason,
    )


def checkin_for(world, placement, text="Fiktiv fritekst fra plejefamilien."):
    return CheckIn.objects.create(
        municipality=world.aarhus, placement=placement, household=world.foster_home,
        submitted_by=world.foster_parent, on=placement.starts_on, stress=6, free_text=text,
    )


def child(world, name, birth=dt.date(2010, 6, 15)):
    return Child.objects.create(municipality=world.aarhus, display_name=name, birth_date=birth, cpr_hash="f" * 64)


@pytest.fixture
def history(world):
    old_child = child(world, "Gammelt barn")
    old = closed_placement(world, old_child, ended_on=dt.date(2020, 3, 1))
    on_cutoff = closed_placement(world, child(world, "Skæringsdag"), ended_on=dt.date(2021, 11, 2))
    after_cutoff = closed_placement(world, child(world, "Dagen efter"), ended_on=dt.date(2021, 11, 3))
    mixed_child = child(world, "Barn med ny anbringelse")
    mixed_old = closed_placement(world, mixed_child, ended_on=dt.date(2019, 5, 1))
    mixed_active = Placement.objects.create(
        municipality=world.aarhus, child=mixed_child, foster_household=world.other_foster_home,
        starts_on=dt.date(2024, 1, 1),
    )
    return {
        "old": old, "need": need_for(world, old), "checkin": checkin_for(world, old), "on_cutoff": on_cutoff,
        "after_cutoff": after_cutoff, "after_need": need_for(world, after_cutoff), "mixed_old": mixed_old,
        "mixed_active": mixed_active,
    }


# --- Retention ---------------------------------------------------------------------------------------------


def test_closed_placements_past_retention_are_anonymised_and_keep_their_statistics(history):
    result = privacy.anonymise_closed_placements(now=NOW)
    old = Placement.objects.select_related("child").get(pk=history["old"].pk)
    assert (old.child.display_name, old.child.birth_date, old.child.cpr_hash) == ("Anonymiseret", dt.date(2010, 1, 1), "")
    assert old.end_note == ""
    assert (old.status, old.ended_on, old.starts_on, old.breakdown_reason) == (
        "broke_down", dt.date(2020, 3, 1), dt.date(2018, 1, 1), "child_behaviour",
    )
    assert SupportNeed.objects.get(pk=history["need"].pk).reason == ""
    checkin = CheckIn.objects.get(pk=history["checkin"].pk)
    assert (checkin.free_text, checkin.stress) == ("", 6)
    assert history["old"].pk in result.placement_ids and history["on_cutoff"].pk in result.placement_ids
    assert result.cutoff == dt.date(2021, 11, 2)


def test_a_placement_that_ended_after_the_cutoff_is_untouched(history):
    privacy.anonymise_closed_placements(now=NOW)
    recent = Placement.objects.select_related("child").get(pk=history["after_cutoff"].pk)
    assert recent.child.display_name == "Dagen efter" and recent.end_note
    assert SupportNeed.objects.get(pk=history["after_need"].pk).reason
    assert Placement.objects.get(pk=history["on_cutoff"].pk).child.display_name == "Anonymiseret"


def test_a_child_with_a_newer_placement_keeps_their_identity_but_the_old_story_goes(history):
    privacy.anonymise_closed_placements(now=NOW)
    mixed_old = Placement.objects.select_related("child").get(pk=history["mixed_old"].pk)
    assert mixed_old.end_note == ""
    assert mixed_old.child.display_name == "Barn med ny anbringelse"
    assert mixed_old.child.cpr_hash == "f" * 64


def test_the_active_world_is_never_touched(world, history):
    privacy.anonymise_closed_placements(now=NOW)
    assert Child.objects.get(pk=world.child.pk).display_name == "Demo-barn A."


def test_dry_run_changes_nothing_and_a_second_run_finds_nothing(history):
    dry = privacy.anonymise_closed_placements(now=NOW, dry_run=True)
    assert Placement.objects.get(pk=history["old"].pk).end_note
    assert dry.placement_ids and dry.child_ids
    real = privacy.anonymise_closed_placements(now=NOW)
    assert (real.placement_ids, real.child_ids) == (dry.placement_ids, dry.child_ids)
    again = privacy.anonymise_closed_placements(now=NOW)
    assert (again.placement_ids, again.child_ids, again.cleared_rows) == ([], [], {})
    entries = AuditEntry.objects.filter(action="privacy.anonymise_closed_placements").order_by("at", "pk")
    assert [e.details["dry_run"] for e in entries] == [True, False, False]
    assert "Gammelt barn" not in json.dumps([e.details for e in entries])


def test_the_retention_period_comes_from_settings(history, settings):
    settings.RETENTION_YEARS = 10
    result = privacy.anonymise_closed_placements(now=NOW)
    assert result.cutoff == dt.date(2016, 11, 2) and result.placement_ids == []


def test_a_leap_day_counts_back_to_the_28th():
    assert privacy.retention_cutoff(now=dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC), years=5) == dt.date(2023, 2, 28)


def test_the_command_reports_and_supports_dry_run(history, capsys):
    with time_machine.travel(NOW, tick=False):
        call_command("anonymise_closed_placements", "--dry-run")
        assert "Would anonymise" in capsys.readouterr().out
        assert Placement.objects.get(pk=history["old"].pk).end_note
        call_command("anonymise_closed_placements")
    out = capsys.readouterr().out
    assert out.startswith("Anonymised") and "2021-11-02" in out
    assert Placement.objects.get(pk=history["old"].pk).child.display_name == "Anonymiseret"


def test_the_command_refuses_a_nonsense_period(db):
    with pytest.raises(CommandError, match="at least 1 year") as error:
        call_command("anonymise_closed_placements", "--years", "0")
    assert error.value.returncode == 1


# --- Right of access ---------------------------------------------------------------------------------------


def test_export_holds_everything_about_the_person_and_nothing_secret(world, history):
    ContactPerson.objects.create(household=world.foster_home, name="Plejemor (fiktiv)", user=world.foster_parent)
    audit.record(actor=world.foster_parent, action="checkin.create", obj=history["checkin"])
    Token.objects.create(user=world.foster_parent)
    TOTPDevice.objects.create(user=world.foster_parent, name="phone", confirmed=True)
    other = checkin_for(world, history["after_cutoff"], text="Someone else's words")
    CheckIn.objects.filter(pk=other.pk).update(submitted_by=world.other_foster_parent)

    data = privacy.export_person(user=world.foster_parent, now=NOW)
    text = json.dumps(data)  # JSON-ready as it is

    assert data["user"]["username"] == "plejemor"
    assert [m["role"] for m in data["memberships"]] == ["foster_parent"]
    assert [h["id"] for h in data["households"]] == [world.foster_home.pk]
    assert data["households"][0]["contacts"][0]["name"] == "Plejemor (fiktiv)"
    assert [c["free_text"] for c in data["records"]["support.CheckIn"]] == ["Fiktiv fritekst fra plejefamilien."]
    assert "Someone else's words" not in text
    assert data["audit"]["by_them"][0]["action"] == "checkin.create"
    assert data["security"]["api_token"]["exists"] is True
    assert data["security"]["two_factor_devices"][0]["name"] == "phone"
    token = Token.objects.get(user=world.foster_parent).key
    device_key = TOTPDevice.objects.get(user=world.foster_parent).key
    assert token not in text and device_key not in text and world.foster_parent.password not in text
    assert AuditEntry.objects.filter(action="privacy.export_person", object_id=str(world.foster_parent.pk)).exists()


def test_export_command_writes_a_private_json_file(world, tmp_path):
    target = tmp_path / "plejemor.json"
    call_command("export_person", "--user", "plejemor", "-o", str(target))
    assert json.loads(target.read_text())["format"] == privacy.EXPORT_FORMAT
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    with pytest.raises(CommandError, match="exists"):
        call_command("export_person", "--user", "plejemor", "-o", str(target))
    call_command("export_person", "--user", "plejemor", "-o", str(target), "--force")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody", "-o", "out.json"], "No user with the username 'nobody'"),
        (["--user", "plejemor", "-o", "/no/such/folder/out.json"], "does not exist"),
        (["-o", "out.json"], "--user"),
    ],
)
def test_export_command_explains_bad_input(world, args, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("export_person", *args)
    assert error.value.returncode == 1


# --- Erasure ---------------------------------------------------------------------------------------------


def test_deleting_a_person_keeps_the_audit_trail_pseudonymised(world, history, client):
    person = world.foster_parent
    person_id = person.pk
    for _ in range(3):
        audit.record(actor=person, action="checkin.create", obj=history["checkin"])
    Token.objects.create(user=person)
    TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    client.force_login(person)
    entries_before = AuditEntry.objects.count()

    result = privacy.delete_person(user=person)

    assert not get_user_model().objects.filter(pk=person_id).exists()
    assert not Membership.objects.filter(user_id=person_id).exists()
    assert not Token.objects.filter(user_id=person_id).exists() and not TOTPDevice.objects.filter(user_id=person_id).exists()
    assert result.sessions == 1 and client.get("/").status_code == 302  # signed out everywhere
    pseudonym = privacy.pseudonym_for(person_id)
    assert result.pseudonym == pseudonym and pseudonym.startswith("deleted-user-") and len(pseudonym) == 25
    mine = AuditEntry.objects.filter(action="checkin.create")
    assert mine.count() == 3 and {(e.actor_id, e.actor_label) for e in mine} == {(None, pseudonym)}
    assert AuditEntry.objects.count() == entries_before + 1  # nothing removed; one entry for the deletion
    assert not AuditEntry.objects.filter(actor_label="plejemor").exists()
    deletion = AuditEntry.objects.get(action="privacy.delete_person")
    assert deletion.object_id == str(person_id) and "plejemor" not in json.dumps(deletion.details)
    # What the municipality must keep stays, without the author link.
    assert CheckIn.objects.get(pk=history["checkin"].pk).submitted_by_id is None


def test_deleting_keeps_the_admin_history_under_the_pseudonym(world):
    lead_id = world.team_lead.pk
    LogEntry.objects.create(user=world.team_lead, action_flag=ADDITION, object_repr="x", change_message="[]")
    privacy.delete_person(user=world.team_lead)
    entry = LogEntry.objects.get()
    assert entry.user.username == privacy.pseudonym_for(lead_id) and not entry.user.is_active
    assert not entry.user.has_usable_password()


def test_the_last_superuser_cannot_be_deleted(world):
    with pytest.raises(DomainError, match="last active superuser"):
        privacy.delete_person(user=world.administrator)
    with pytest.raises(CommandError, match="last active superuser") as error:
        call_command("delete_person", "--user", "admin", "--noinput")
    assert error.value.returncode == 1
    assert get_user_model().objects.filter(username="admin").exists()


def test_delete_command(world, capsys):
    call_command("delete_person", "--user", "biomor", "--noinput")
    assert "Deleted user" in capsys.readouterr().out
    assert not get_user_model().objects.filter(username="biomor").exists()
    with pytest.raises(CommandError, match="No user with the username 'biomor'"):
        call_command("delete_person", "--user", "biomor", "--noinput")
    with pytest.raises(CommandError, match="--user"):
        call_command("delete_person", "--noinput")


# --- The registry ----------------------------------------------------------------------------------------

TEXT_NAMES = {"note", "reason", "comment", "title", "label", "text", "free_text", "place_name", "flag_reason"}


def test_every_registered_field_exists():
    assert privacy.sources()  # raises ImproperlyConfigured naming a field that went away


def test_every_text_field_about_a_placement_is_registered():
    """A new model with a placement link and free text must say what retention does with the text."""
    placement = apps.get_model("support", "Placement")
    registered = dict(privacy.sources())
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in {"support", "scheduler", "calendars"}:
            continue
        linked = model is placement or any(
            f.is_relation and f.many_to_one and f.related_model is placement for f in model._meta.fields
        )
        if not linked:
            continue
        texts = [
            f.name for f in model._meta.fields
            if isinstance(f, models.TextField) or (isinstance(f, models.CharField) and f.name in TEXT_NAMES)
        ]
        source = registered.get(model)
        covered = set(source.free_text) | set(source.keep) if source else set()
        missing += [f"{model._meta.label}.{name}" for name in texts if name not in covered]
    assert missing == [], "register these in support/privacy.py (free_text=... or keep=...)"
