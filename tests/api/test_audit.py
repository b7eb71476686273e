"""Reading a child's or a placement's details leaves a trace: who, what, when, from where."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from support.models import AuditEntry

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("role", ["consultant", "team_lead", "foster_parent"])
def test_reading_a_childs_details_is_recorded(world, client_for, role):
    reader = getattr(world, role)
    with time_machine.travel(NOW, tick=False):
        response = client_for(reader).get(reverse("api:child-detail", args=[world.child.pk]), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="child.read")
    assert (entry.actor, entry.actor_label) == (reader, reader.username)
    assert (entry.object_type, entry.object_id) == ("support.child", str(world.child.pk))
    assert entry.municipality == world.aarhus
    assert entry.ip == "10.1.2.3"
    assert entry.at == NOW


def test_reading_a_placements_details_is_recorded(world, client_for):
    client_for(world.consultant).get(reverse("api:placement-detail", args=[world.placement.pk]))
    entry = AuditEntry.objects.get(action="placement.read")
    assert (entry.actor, entry.object_id, entry.ip) == (world.consultant, str(world.placement.pk), "127.0.0.1")


def test_a_list_page_is_recorded_once_with_the_ids_shown(world, client_for):
    client_for(world.consultant).get(reverse("api:child-list"))
    entry = AuditEntry.objects.get(action="child.list")
    assert entry.details == {"ids": [world.child.pk]}
    assert entry.municipality == world.aarhus


def test_an_empty_list_records_nothing(world, client_for):
    client_for(world.birth_parent).get(reverse("api:child-list"))
    assert not AuditEntry.objects.filter(action="child.list").exists()


def test_a_refused_read_records_nothing(world, client_for):
    response = client_for(world.other_consultant).get(reverse("api:child-detail", args=[world.child.pk]))
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action="child.read").exists()


def test_writes_are_recorded_by_the_services(world, client_for):
    response = client_for(world.consultant).patch(
        reverse("api:child-detail", args=[world.child.pk]), {"display_name": "Nyt navn", "cpr": "010514-1234"},
        format="json",
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="child.update")
    # Field names only: never the values, and never the CPR number.
    assert entry.details == {"fields": ["display_name", "cpr_hash"]}
    assert "010514" not in str(AuditEntry.objects.values_list("details", flat=True))


def test_the_audit_log_shows_the_trail_to_an_administrator(world, client_for):
    client_for(world.foster_parent).get(reverse("api:child-detail", args=[world.child.pk]))
    response = client_for(world.administrator).get(reverse("api:audit-entry-list"), {"action": "child.read"})
    [row] = response.json()["results"]
    assert (row["actor"], row["actor_label"], row["object_id"]) == (
        world.foster_parent.pk, "plejemor", str(world.child.pk)
    )
