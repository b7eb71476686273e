"""The key flows in a real browser, one role at a time (see conftest for the server and browser).

Each test saves screenshots of the pages it visits under tests/e2e/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

LANDINGS = [
    # username, where they land, a landmark the page must have
    ("konsulent", "/workspace/", "main"),
    ("teamleder", "/workspace/", "main"),
    ("plejeforaelder", "/portal/", "main"),
    ("biologiskforaelder", "/portal/", "main"),
    ("leverandoer", "/portal/", "main"),
    ("admin", "/admin/", "#content"),
]


@pytest.mark.parametrize(("username", "landing", "landmark"), LANDINGS, ids=[row[0] for row in LANDINGS])
def test_each_role_signs_in_and_lands_in_their_area(signed_in, username, landing, landmark):
    page = signed_in(username)
    page.goto("/")
    page.wait_for_url(f"**{landing}")
    assert page.locator(landmark).first.is_visible()
    assert page.locator("html").get_attribute("lang") in {"da", None} or landing == "/admin/"
    screenshot(page, f"home-{username}")


def test_families_never_see_the_workspace(signed_in):
    page = signed_in("plejeforaelder")
    response = page.goto("/workspace/")
    assert response.status == 404
    screenshot(page, "workspace-refused-plejeforaelder")


def test_consultant_runs_matching_and_accepts_a_proposal(signed_in):
    page = signed_in("konsulent")
    page.goto("/workspace/matching/")
    screenshot(page, "matching-runs")
    page.locator("form.panel button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/workspace/matching/\d+/$"))
    # The run is a django-q2 task in the demo's worker; the page follows its progress with htmx
    # until proposals appear.
    first_accept = page.locator("form.decision__accept button[type=submit]").first
    first_accept.wait_for(state="visible", timeout=90_000)
    screenshot(page, "matching-run-proposals")
    card = page.locator("article.proposal", has=page.locator("form.decision__accept")).first
    card_id = card.get_attribute("id")
    with page.expect_navigation() as navigation:
        first_accept.click()
    assert navigation.value.status == 200, f"accepting answered {navigation.value.status}"
    decided = page.locator(f"#{card_id}")
    decided.locator(".status--accepted").wait_for()
    assert decided.locator("form.decision__accept").count() == 0, "the accepted proposal still offers Accept"
    screenshot(page, "matching-proposal-accepted")


def test_foster_parent_sends_the_weekly_check_in(signed_in):
    page = signed_in("plejeforaelder", width=390, height=844)  # a phone
    page.goto("/portal/")
    form = page.locator("#checkin-form")
    assert "vederlag" in page.locator("#checkin-purpose").inner_text()  # the purpose is stated, in Danish
    form.locator("input[name=stress][value='6']").check()
    form.locator("input[name=conflicts]").fill("2")
    screenshot(page, "portal-checkin-phone")
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert navigation.value.status == 200
    assert page.locator(".notice--error").count() == 0, page.locator("main").inner_text()[:500]
    screenshot(page, "portal-checkin-sent")


def test_help_now_reaches_the_consultant(signed_in):
    family = signed_in("plejeforaelder", width=390, height=844)
    family.goto("/portal/")
    family.locator("#help-now").click()
    family.wait_for_url("**/portal/help-now/")
    form = family.locator("#help-now-form")
    form.locator("input[name=stress][value='9']").check()
    screenshot(family, "portal-help-now-confirm")
    with family.expect_navigation() as navigation:
        family.locator("#help-now-confirm").click()
    assert navigation.value.status == 200
    screenshot(family, "portal-help-now-sent")

    consultant = signed_in("konsulent")
    consultant.goto("/alerts/?show=all")
    urgent = consultant.locator("#alerts-inbox [data-kind=help_now]").first
    urgent.wait_for()
    screenshot(consultant, "alerts-inbox-help-now")
    urgent.locator("a").first.click()
    consultant.locator("#alert").wait_for()
    assert consultant.locator("#recommendations, #alert-reasons").count() >= 1
    screenshot(consultant, "alert-detail-help-now")


def test_team_lead_reads_the_capacity_dashboard_and_downloads_the_csv(signed_in):
    page = signed_in("teamleder")
    page.goto("/workspace/capacity/")
    for heading in ("#heatmap-heading", "#near-heading", "#ledger-heading", "#waiting-heading", "#risk-heading"):
        assert page.locator(heading).is_visible(), heading
    screenshot(page, "capacity-dashboard")
    with page.expect_download() as download:
        page.locator("a[href*='export.csv']").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("section,"), text[:200]
    # Carers' signals are for consultants only: the team lead's navigation has no alerts inbox.
    assert page.locator("nav a[href='/alerts/']").count() == 0


def test_foster_parent_gets_a_calendar_link_that_a_calendar_app_can_read(signed_in):
    page = signed_in("plejeforaelder", width=390, height=844)
    page.goto("/portal/")
    card = page.locator("#calendar")
    create = card.locator("button[value=create]")
    if create.count() == 0:  # a link exists already (an earlier run): make a new one, which shows it once
        create = card.locator("button[value=rotate]")
    with page.expect_navigation():
        create.first.click()
    https = page.locator("#calendar-https").input_value()
    webcal = page.locator("#calendar-webcal").input_value()
    assert https.startswith("http") and "/cal/" in https and webcal.startswith("webcal://")
    assert page.locator(".calendar-qr svg").count() == 1
    screenshot(page, "portal-calendar-link-phone")

    feed = page.request.get(https)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    body = feed.text()
    assert body.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in body
    # Calendar services read feeds: no child's name, ever (support/demo.py names them "Demo-barn ...").
    assert "Demo-barn" not in body and "(demo)" not in body
