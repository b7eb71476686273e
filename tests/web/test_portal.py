"""The families' and providers' portal: own support and next sessions, nothing about the child."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from scheduler.services.sessions import propose_series
from tests.sessions.helpers import assigned_need, available

NOW = timezone.make_aware(dt.datetime(2026, 11, 2, 8, 0))


def make_session(world):
    need = assigned_need(world, minutes=60, per_week="1")
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "09:00", "15:00")
    return propose_series(need=need, by=world.consultant, now=NOW, confirm=True)


def test_foster_parent_sees_own_support_and_next_sessions_without_child_name(world, client):
    make_session(world)
    client.force_login(world.foster_parent)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert world.provider.name in html
    assert "Supervision" in html
    assert "Tuesday 3 November 2026" in html or "Tuesday 3. November 2026" in html
    assert world.child.display_name not in html


def test_other_household_and_outsider_see_none_of_it(world, client):
    make_session(world)
    client.force_login(world.other_foster_parent)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert world.provider.name not in html
    assert "No sessions are planned" in html
    client.force_login(world.outsider)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert world.provider.name not in html


def test_provider_sees_the_household_it_serves(world, client):
    make_session(world)
    client.force_login(world.provider_user)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert world.foster_home.name in html


def test_home_sends_families_to_the_portal(world, client):
    client.force_login(world.foster_parent)
    assert client.get("/")["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
