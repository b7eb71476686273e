"""End-to-end tests: a real headless Chromium (Debian's, driven by Playwright) against the demo.

The server is the demo deployment shape, started once per test module in subprocesses: `migrate`,
`seed_demo`, `runserver` and a django-q2 worker (`qcluster`), on a scratch database of its own (a
SQLite file, or a scratch PostgreSQL database when DATABASE_URL points at PostgreSQL, as in CI).
The browser only talks HTTP to it, so nothing here touches the test database.

Locally, without /usr/bin/chromium, the tests are skipped and say why. `.ci/run` installs Debian's
chromium and sets PLEJENET_E2E=required, which turns a missing browser into a failure.
Screenshots of every page visited go to tests/e2e/screenshots/ (git-ignored) for review.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("PLEJENET_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("PLEJENET_E2E") == "required"
# The flags this machine's Chromium needs: no sandbox as root, and no background calls to the
# closed network (they fail many at a time and slow every start).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _browser_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"end-to-end tests need Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)"
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class DemoServer:
    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """Run a management command against the demo's database and return what it printed."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=120, check=True,
        )
        return result.stdout


def _scratch_database(tmp: Path) -> tuple[str, callable]:
    """A database URL for the demo server and a function that removes it afterwards."""
    configured = os.environ.get("DATABASE_URL", "")
    if urlparse(configured).scheme in {"postgres", "postgresql", "pgsql"}:
        import psycopg

        parts = urlparse(configured)
        name = f"{parts.path.lstrip('/')}_e2e"[:63]
        admin_url = urlunparse(parts._replace(path="/postgres"))

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        drop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return urlunparse(parts._replace(path=f"/{name}")), drop
    return f"sqlite:///{tmp / 'e2e.sqlite3'}", lambda: None


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo web server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the demo web server did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demo_server() -> Iterator[DemoServer]:
    _browser_or_skip()
    tmp = Path(tempfile.mkdtemp(prefix="plejenet-e2e-"))
    database_url, drop_database = _scratch_database(tmp)
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}},
        "DATABASE_URL": database_url,
        # The pages are served by runserver with static files, as `make demo` does.
        "DEBUG": "1",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "e2e-only-not-secret-" + "x" * 40,
        "LOG_FORMAT": "plain",
        "Q_WORKERS": "1",
        "SITE_URL": f"http://127.0.0.1:{port}",  # calendar links and alert emails point here
    }
    server = DemoServer(url=f"http://127.0.0.1:{port}", env=env)
    processes: list[subprocess.Popen] = []
    try:
        server.manage("migrate", "--noinput", "-v0")
        server.manage("seed_demo")
        web_log, worker_log = tmp / "web.log", tmp / "worker.log"
        processes.append(subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=web_log.open("w"), stderr=subprocess.STDOUT,
        ))
        processes.append(subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT,
        ))
        _wait_until_up(server.url, processes[0], web_log)
        yield server
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(demo_server):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread while it is open, so these tests must
    # not use the ORM (Django would refuse): they only speak HTTP to the demo server. Module scope
    # closes it (and stops the demo's processes) before the next module's tests use the ORM.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_browser_or_skip(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, demo_server):
    """new_page(width=1280) -> a fresh page in its own context (own cookies), closed after the test."""
    contexts = []

    def make(*, width: int = 1280, height: int = 900, locale: str = "da-DK"):
        context = browser.new_context(
            base_url=demo_server.url, viewport={"width": width, "height": height}, locale=locale,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The demo's logins (support/demo.py prints them too). Staff also enter a TOTP code.
PASSWORDS = {
    "konsulent": "demo-konsulent-aarhus",
    "konsulent2": "demo-konsulent-skanderborg",
    "teamleder": "demo-teamleder-2026",
    "plejeforaelder": "demo-plejefamilie-2026",
    "biologiskforaelder": "demo-mor-og-far-2026",
    "leverandoer": "demo-supervisor-2026",
    "admin": "demo-administrator-2026",
}
STAFF = {"konsulent", "konsulent2", "teamleder", "admin"}


@pytest.fixture(scope="module")
def _signed_in_states() -> dict[str, dict]:
    """Cookies of each signed-in demo user, so each signs in (and uses a TOTP code) only once."""
    return {}


@pytest.fixture
def signed_in(browser, demo_server, _signed_in_states, new_page):
    """signed_in("konsulent") -> a page whose context is signed in as that demo user."""

    def sign_in(username: str, *, width: int = 1280, height: int = 900):
        if username not in _signed_in_states:
            page = new_page(width=width, height=height)
            log_in_through_the_form(page, demo_server, username)
            _signed_in_states[username] = page.context.storage_state()
            return page
        context = browser.new_context(
            base_url=demo_server.url, viewport={"width": width, "height": height}, locale="da-DK",
            storage_state=_signed_in_states[username],
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/")
        return page

    return sign_in


def log_in_through_the_form(page, demo_server: DemoServer, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    # "main": the header has a form of its own (the language switch).
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    if username in STAFF:
        assert "/2fa/" in page.url, (
            f"{username}: expected the two-factor step, got {page.url}: {page.locator('main').inner_text()[:500]}"
        )
        code = demo_server.manage("demo_totp", username).split()[-1]
        page.fill("input[name=otp_token]", code)
        page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "/login/" not in page.url, f"{username} could not sign in: {page.url}"
