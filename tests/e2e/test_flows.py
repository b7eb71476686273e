"""The key flows in a real browser, one role at a time (see conftest for the server and browser).

Each test saves screenshots of the pages it visits under tests/e2e/screenshots/.
"""

from __future__ import annotations

import re

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
