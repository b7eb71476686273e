"""Absences saved in the admin pages flag the sessions they hit, like record_provider_absence does.

The admin saves the row itself; once it is committed the django-q2 task ``flag_provider_absence``
runs (synchronously in tests) and calls ``flag_absence``.
"""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from scheduler.models import SeriesChange
from scheduler.services import sessions
from support.models import ProviderAbsence
from tests.sessions.helpers import NOW, assigned_need, available, local


@pytest.fixture
def weekly(world):
    for day in ("tue", "wed", "thu"):
        available(world.provider, day, "09:00", "15:00")
        available(world.foster_home, day, "10:00", "15:00")
    series = sessions.propose_series(need=assigned_need(world), by=world.consultant, now=NOW, months=2)
    return sessions.confirm_series(series=series, by=world.consultant, now=NOW)


def admin_client(world) -> Client:
    client = Client()
    client.force_login(world.administrator)
    return client


def split(value) -> dict:
    local_value = value.astimezone(local(2026, 1, 1).tzinfo)
    return {"0": local_value.strftime("%Y-%m-%d"), "1": local_value.strftime("%H:%M:%S")}


def test_an_absence_added_in_the_admin_flags_the_sessions_it_hits(world, weekly, django_capture_on_commit_callbacks):
    start, end = local(2026, 11, 16), local(2026, 11, 21)
    form = {"provider": world.provider.pk, "reason": "illness",
            **{f"starts_at_{k}": v for k, v in split(start).items()},
            **{f"ends_at_{k}": v for k, v in split(end).items()}}
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client(world).post("/admin/support/providerabsence/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(callbacks) == 1
    assert ProviderAbsence.objects.filter(provider=world.provider, starts_at=start).exists()
    flagged = weekly.occurrences.filter(needs_attention=True)
    assert [o.start for o in flagged] == [local(2026, 11, 17, 10)]
    assert flagged[0].proposed_start is not None
    assert weekly.changes.filter(action=SeriesChange.Action.ABSENCE_FLAGGED).count() == 1


def test_an_absence_added_inline_on_the_provider_page_flags_too(world, weekly, django_capture_on_commit_callbacks):
    client = admin_client(world)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/admin/support/provider/{world.provider.pk}/change/")
    assert page.status_code == 200
    form = {}
    for field in page.context["adminform"].form:  # every field as the page shows it
        value = field.value()
        if value is None:
            continue
        form[field.html_name] = [str(v) for v in value] if isinstance(value, list) else value
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            form[management[name].html_name] = management[name].value()
        for inline_form in formset.formset.initial_forms:  # the rows already there, unchanged
            for field in inline_form:
                if field.value() is not None:
                    form[field.html_name] = field.value()
    prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"] if f.formset.model is ProviderAbsence)
    form[f"{prefix}-TOTAL_FORMS"] = 1
    form.update({f"{prefix}-0-{k}": v for k, v in {
        "reason": "course", "starts_at_0": "2026-11-24", "starts_at_1": "00:00:00",
        "ends_at_0": "2026-11-25", "ends_at_1": "00:00:00", "provider": world.provider.pk,
    }.items()})
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/support/provider/{world.provider.pk}/change/", form)
    assert response.status_code == 302, (response.context["adminform"].form.errors, [f.formset.errors for f in response.context["inline_admin_formsets"]])
    assert [o.start for o in weekly.occurrences.filter(needs_attention=True)] == [local(2026, 11, 24, 10)]
