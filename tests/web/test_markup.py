"""Rendered pages stay within what a strict Content-Security-Policy and WCAG AA allow.

No inline scripts, no style attributes or blocks, no event-handler attributes; every visible
form control has a label; landmarks and a skip link on every page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from scheduler.models import MatchingRun, Proposal, RunStatus
from tests.web.conftest import add_need


class PageAudit(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.labels_for: set[str] = set()
        self.controls: list[tuple[str, str | None]] = []
        self.tags: list[str] = []
        self._in_script = False
        self._open_label = 0
        self.html_lang = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in attrs:
            self.problems.append(f"style= on <{tag}>")
        for name in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
        if tag == "script":
            if not attrs.get("src"):
                self.problems.append("<script> without src")
            self._in_script = True
        if tag == "label":
            self._open_label += 1
            if attrs.get("for"):
                self.labels_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit", "button"):
            labelled = self._open_label or attrs.get("aria-label") or attrs.get("aria-labelledby")
            self.controls.append((attrs.get("id") or attrs.get("name") or tag, "wrapped" if labelled else None))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag == "label":
            self._open_label -= 1

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("inline script code")


def audit(response) -> PageAudit:
    parser = PageAudit()
    parser.feed(response.content.decode())
    unlabelled = [cid for cid, how in parser.controls if how is None and cid not in parser.labels_for]
    parser.problems += [f"control without label: {cid}" for cid in unlabelled]
    return parser


@pytest.fixture
def pages(world, client_for, django_capture_on_commit_callbacks):
    """Every page of this issue as the person who uses it, including error re-renders."""
    add_need(world)
    consultant = client_for(world.consultant)
    with django_capture_on_commit_callbacks(execute=True):
        consultant.post("/workspace/matching/", {"municipality": world.aarhus.pk})
    run = MatchingRun.objects.get(municipality=world.aarhus)
    proposal = Proposal.objects.get(run=run)
    active = MatchingRun.objects.create(municipality=world.odense, status=RunStatus.RUNNING)
    odense = client_for(world.other_consultant)
    from django.test import Client

    return {
        "login": Client().get("/login/"),
        "logout": consultant.get("/logout/"),
        "no access": client_for(world.outsider).get("/"),
        "workspace": consultant.get("/workspace/"),
        "run list": consultant.get("/workspace/matching/"),
        "run detail": consultant.get(f"/workspace/matching/{run.pk}/"),
        "reject error": consultant.post(f"/workspace/matching/{run.pk}/proposals/{proposal.pk}/reject/", {}),
        "active run": odense.get(f"/workspace/matching/{active.pk}/"),
        "conflict": odense.post("/workspace/matching/", {"municipality": world.odense.pk}),
        "progress fragment": odense.get(f"/workspace/matching/{active.pk}/progress/"),
        "not found": consultant.get(f"/workspace/matching/{active.pk}/"),
    }


def test_pages_have_no_inline_code_or_styles_and_label_every_control(pages):
    for name, response in pages.items():
        assert response.status_code in (200, 400, 404, 409), name
        assert audit(response).problems == [], name
        html = response.content.decode()
        assert not re.search(r"\sstyle\s*=", html), name
        assert "javascript:" not in html, name


def test_full_pages_have_landmarks_skip_link_and_language(pages):
    for name, response in pages.items():
        if name == "progress fragment":
            continue
        page = audit(response)
        assert page.html_lang == "da", name
        for landmark in ("header", "main", "footer"):
            assert landmark in page.tags, (name, landmark)
        html = response.content.decode()
        assert 'class="skip-link" href="#main"' in html and 'id="main"' in html, name
        assert '<script src="/static/vendor/htmx.min.js" defer></script>' in html, name


def test_status_is_told_in_words_not_colour_alone(pages):
    html = pages["run list"].content.decode()
    assert re.search(r'class="status status--done"><span class="status__icon" aria-hidden="true">✓</span> Færdig', html)
