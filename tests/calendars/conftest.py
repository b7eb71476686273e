"""Real peers on loopback for the calendar tests: an SMTP server (aiosmtpd), a CalDAV server
(Radicale, as a subprocess with its own storage folder and htpasswd users), and ical.js under node.

Nothing here is mocked: messages are parsed as they arrived at the SMTP server, and CalDAV
resources are read back from Radicale with the ``caldav`` library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import caldav
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.db import connection

from scheduler.services import sessions
from tests.sessions.helpers import NOW, assigned_need, available

ROOT = Path(__file__).resolve().parents[2]
ICALJS = ROOT / "node_modules" / "ical.js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QueryLog(list):
    """SQL statements run inside ``with count_queries() as log:`` (Django's CaptureQueriesContext
    is emptied by the request_started signal, so it cannot count what a test-client request runs)."""


@contextlib.contextmanager
def count_queries():
    log = QueryLog()

    def record(execute, sql, params, many, context):
        log.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield log


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the miss counters live in the cache
    yield
    cache.clear()


@pytest.fixture
def frozen():
    """The clock at the session tests' NOW (Monday 2 November 2026, 09:00 Copenhagen)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def tuesdays(world):
    """The provider works Tuesdays 09-15, the foster family can do Tuesdays 10-14 (as in tests/sessions)."""
    available(world.provider, "tue", "09:00", "15:00")
    available(world.foster_home, "tue", "10:00", "14:00")
    world.provider.email = "mette@provider.test"
    world.provider.save(update_fields=["email"])
    world.foster_home.email = "testrup@family.test"
    world.foster_home.save(update_fields=["email"])
    world.consultant.email = "konsulent@aarhus.test"
    world.consultant.save(update_fields=["email"])
    return world


@pytest.fixture
def active_series(tuesdays):
    """A confirmed weekly supervision series for the world's foster family, from Tuesday 3 November 2026."""
    world = tuesdays
    need = assigned_need(world)
    series = sessions.propose_series(need=need, by=world.consultant, now=NOW)
    return sessions.confirm_series(series=series, by=world.consultant, now=NOW)


# --- SMTP ---------------------------------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list = field(default_factory=list)
    reject: set = field(default_factory=set)  # addresses answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd handler hook
        if address in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if address in rcpt]


class SmtpServer:
    def __init__(self, port: int):
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings):
    server = SmtpServer(free_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


def calendar_part(message):
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part
    raise AssertionError("no text/calendar part")


# --- Radicale -------------------------------------------------------------------------------------------------


@dataclass
class Radicale:
    base: str
    user: str
    password: str
    process: subprocess.Popen
    folder: Path

    def new_calendar(self, name: str) -> str:
        url = f"{self.base}/{self.user}/{name}/"
        client = caldav.DAVClient(url=url, username=self.user, password=self.password, auth_type="basic",
                                  enable_rfc6764=False)
        response = client.request(url, "MKCALENDAR", "")
        assert response.status == 201, response.status
        return url

    def events(self, url: str) -> dict[str, str]:
        """Resource name -> iCalendar text of every event in the collection."""
        client = caldav.DAVClient(url=url, username=self.user, password=self.password, auth_type="basic",
                                  enable_rfc6764=False)
        calendar = client.calendar(url=url)
        return {str(e.url).rsplit("/", 1)[-1]: e.data for e in calendar.events()}


@pytest.fixture(scope="session")
def radicale(tmp_path_factory):
    folder = tmp_path_factory.mktemp("radicale")
    (folder / "users").write_text("mette:app-password-1\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", "", f"--storage-filesystem-folder={folder / 'collections'}",
         f"--server-hosts=127.0.0.1:{port}", "--auth-type=htpasswd", f"--auth-htpasswd-filename={folder / 'users'}",
         "--auth-htpasswd-encryption=plain", "--rights-type=owner_only", "--logging-level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("Radicale did not start")
            time.sleep(0.1)
    yield Radicale(f"http://127.0.0.1:{port}", "mette", "app-password-1", process, folder)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# --- ical.js ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def icaljs():
    """Run tests/calendars/js/expand.mjs; skipped locally (failing in CI) without ``npm ci``."""
    node = shutil.which("node")
    if node is None or not ICALJS.exists():
        reason = "ical.js is not installed: run `npm ci` in the project root (node 20 and package-lock.json)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    def expand(ics: bytes, start, end) -> list[dict]:
        import json

        result = subprocess.run(
            [node, str(ROOT / "tests" / "calendars" / "js" / "expand.mjs"), start.isoformat(), end.isoformat()],
            input=ics, capture_output=True, check=False, timeout=60, cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr.decode()
        return json.loads(result.stdout)

    return expand
