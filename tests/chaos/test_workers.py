"""Workers killed mid-delivery, several workers on one broker, several web processes: nothing lost.

Counts are taken at the peers: the Message-IDs aiosmtpd received and the events Radicale holds.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter

from calendars.caldav_client import resource_name
from tests.chaos.conftest import PYTHON, ROOT, _wait, get


def _expected_message_ids(rows) -> set[str]:
    return {f"<calendar-outbox-{r[0]}@plejenet.invalid>" for r in rows if r[1] == "email"}


def _calendar(radicale, name: str) -> str:
    return radicale.new_calendar(f"{name}-{time.time_ns()}")


def _check_peers(rows, inbox, radicale, url) -> Counter:
    """Every email row arrived (copies counted), and the calendar holds exactly the series' events."""
    received = Counter(inbox.message_ids())
    assert set(received) == _expected_message_ids(rows)
    uids = {r[6] for r in rows if r[1] == "caldav"}
    assert set(radicale.events(url)) == {resource_name(uid) for uid in uids}
    return received


def test_sigkilled_workers_lose_nothing(stack, smtp_server, radicale):
    """SIGKILL the whole qcluster (master and workers) 4 times, each time while it holds rows in
    ``sending`` (delivering invitations, the SMTP server taking 0.4 s per message, or CalDAV
    pushes), while series are still being confirmed; after the last restart every row is sent,
    every invitation arrived, and Radicale holds each event once.

    SMTP has no idempotency key, so a kill after the server accepted a message but before the
    row was marked sent resends it on recovery (calendars/outbox.py, "At least once"): such a
    copy has the same Message-ID. At most one copy per kill and per worker process is allowed,
    and the count is printed."""
    _controller, inbox = smtp_server
    inbox.delay = 0.4
    url = _calendar(radicale, "kill")
    worker = stack.start_worker()
    seeding = subprocess.Popen(
        [PYTHON, "-m", "tests.chaos.scenario", "seed", "--tag", "kill", "--series", "12", "--caldav-url", url,
         "--caldav-user", radicale.user, "--caldav-password", radicale.password],
        cwd=ROOT, env=stack.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rng = random.Random(9)
    interrupted: set[int] = set()
    def sending() -> set[int]:
        return {r[0] for r in stack.pg.query(
            "SELECT o.id FROM calendars_outboxmessage o JOIN support_municipality m ON m.id = o.municipality_id "
            "WHERE m.name = 'Chaos kill' AND o.status = 'sending'")}

    for _ in range(4):
        _wait(sending, 90, "a delivery in flight", interval=0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        stack.kill(worker)
        interrupted |= sending()  # what the dead worker held: nobody else can mark these rows now
        worker = stack.start_worker()
    out, _err = seeding.communicate(timeout=180)
    world = json.loads(out.strip().splitlines()[-1])
    rows = stack.wait_all_sent(world["municipality"], timeout=150)
    assert len(rows) == 12 * 3  # per series: the provider's and the family's invitation, one CalDAV sync
    received = _check_peers(rows, inbox, radicale, url)
    attempts = {r[0]: r[3] for r in rows}
    assert interrupted and all(attempts[i] >= 2 for i in interrupted)  # each kill cut a delivery short
    copies = sum(n - 1 for n in received.values())
    print(f"\n4 kills cut {len(interrupted)} deliveries short; {len(rows)} rows sent, {copies} resent copies")
    assert copies <= 4 * 2  # Q_WORKERS=2: at most one message in flight per worker process per kill


def test_two_workers_on_one_broker_deliver_each_message_exactly_once(stack, smtp_server, radicale):
    _controller, inbox = smtp_server
    inbox.delay = 0.05
    url = _calendar(radicale, "two")
    stack.start_worker()
    stack.start_worker()
    _web, base = stack.start_web(workers=1)
    world = stack.scenario("seed", "--tag", "two", "--series", "15", "--caldav-url", url,
                           "--caldav-user", radicale.user, "--caldav-password", radicale.password)
    rows = stack.wait_all_sent(world["municipality"], timeout=120)
    assert len(rows) == 15 * 3
    received = _check_peers(rows, inbox, radicale, url)
    assert set(received.values()) == {1}, "a message was delivered twice"
    health = get(base + "/healthz")
    body = json.loads(health.body)
    assert health.status == 200 and body["queue"]["workers"] == 2, body


def test_two_web_processes_serve_the_same_feeds_and_api(stack, radicale):
    world = stack.scenario("seed", "--tag", "web", "--series", "3")
    (_a, first), (_b, second) = stack.start_web(workers=2), stack.start_web(workers=2)
    feed = f"/cal/{world['feed_token']}.ics"
    api = {"Authorization": f"Token {world['api_token']}", "Accept": "application/json"}
    answers = [get(base + feed) for base in (first, second) for _ in range(3)]
    assert {a.status for a in answers} == {200}
    assert len({a.headers["ETag"] for a in answers}) == 1 and len({a.body for a in answers}) == 1
    assert answers[0].body.count(b"BEGIN:VEVENT") == 3
    etag = answers[0].headers["ETag"]
    assert {get(base + feed, headers={"If-None-Match": etag}).status for base in (first, second)} == {304}
    for path in ("/api/v1/me/", "/api/v1/providers/", "/api/v1/availability/"):
        bodies = {get(base + path, headers=api).body for base in (first, second) for _ in range(2)}
        assert len(bodies) == 1, path
        assert get(first + path, headers=api).status == 200
