"""The log guard (tests/log_guard.py) catches each kind of personal data it looks for.

Each test logs one value on purpose through the real loggers and handlers, checks that the
session's guard recorded it, and takes the finding back so the run itself stays clean. The guard
then fails the whole run on any such line that nobody took back.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.test import Client
from rest_framework.authtoken.models import Token

from calendars import access
from support.models import Child
from tests.conftest import make_user
from tests.log_guard import CPR_LIKE


def kinds(findings) -> set[tuple[str, str]]:
    return {(f.kind, f.value) for f in findings}


def test_a_childs_name_saved_during_the_run_is_caught(db, world, log_guard):
    child = Child.objects.create(
        municipality=world.aarhus, display_name="Rigtigt-barn Zenobia", birth_date=dt.date(2015, 6, 1)
    )
    since = log_guard.mark()
    logging.getLogger("support.services").warning("placed child %s", child.display_name)
    assert ("name", "Rigtigt-barn Zenobia") in kinds(log_guard.take_findings(since=since))


def test_a_demo_name_is_caught_and_the_test_that_logged_it_is_named(log_guard, request):
    since = log_guard.mark()
    logging.getLogger("scheduler").info("respite for Malthe Fiktivholm")
    found = log_guard.take_findings(since=since)
    assert kinds(found) == {("name", "Malthe"), ("name", "Fiktivholm")}
    assert {f.test for f in found} == {request.node.nodeid}


def test_a_cpr_number_in_a_json_access_log_line_is_caught(db, log_guard):
    # Requested paths are cleaned before they are logged (config.observability.safe_path): the
    # number never gets there that way. Should any code log one, the guard sees it.
    since = log_guard.mark()
    Client().get("/api/v1/children/010203-1234/")
    assert log_guard.take_findings(since=since) == []
    logging.getLogger("plejenet.access").info("request", extra={"path": "/api/v1/children/010203-1234/"})
    found = log_guard.take_findings(since=since)
    access_lines = [f for f in found if '"logger": "plejenet.access"' in f.line]
    assert access_lines and access_lines[0].value == "010203-1234"


def test_a_feed_token_in_a_django_q_log_line_is_caught(log_guard):
    # django-q's logger stops propagating when nothing above it has a handler; the guard then sits on it too.
    token = access.new_token()
    since = log_guard.mark()
    logging.getLogger("django-q").error("delivery for %s failed", token)
    assert ("token", token) in kinds(log_guard.take_findings(since=since))


def test_an_api_token_is_known_to_the_guard_but_cut_by_the_redaction(db, log_guard):
    token = Token.objects.create(user=make_user("log-guard-user"))
    # Logged plainly, the production formatter redacts it: nothing reaches the output.
    since = log_guard.mark()
    logging.getLogger("api").warning("token %s", token.key)
    assert log_guard.take_findings(since=since) == []
    # Glued to more hex the redaction cannot tell it is a token, and the guard catches it.
    logging.getLogger("api").warning("token deadbeef%s", token.key)
    assert ("token", token.key) in kinds(log_guard.take_findings(since=since))


def test_cpr_pattern_needs_a_plausible_date_so_ids_and_times_pass():
    assert CPR_LIKE.search("cpr 010203-1234") and CPR_LIKE.search("cpr 3112991234")
    assert not CPR_LIKE.search("epoch 1732301234")  # month 32
    assert not CPR_LIKE.search("ids 12345678901 and 2026-11-22T20:44:37+0100")
    assert not CPR_LIKE.search("request 7f3a9c2b010203123405e6f708192a3b")


def test_a_logger_that_does_not_propagate_is_read_too(log_guard):
    quiet = logging.getLogger("tests.log_guard.quiet")
    quiet.propagate = False
    try:
        from tests.log_guard import _attach

        _attach(log_guard)  # what the guard does before each test
        since = log_guard.mark()
        quiet.error("CPR 311299-1234 in a line nobody else reads")
        assert ("CPR-like number", "311299-1234") in kinds(log_guard.take_findings(since=since))
    finally:
        quiet.removeHandler(log_guard)
        quiet.propagate = True


def test_a_clean_line_is_not_a_finding(log_guard):
    assert log_guard.scan('{"logger": "plejenet.access", "path": "/api/v1/children/7/", "status": 200}') == []
