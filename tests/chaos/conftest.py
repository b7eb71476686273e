"""The chaos stack: real processes on loopback, each of which the tests may kill, stop or hang.

* a **private PostgreSQL cluster** (``initdb`` + ``pg_ctl`` in a temporary folder, on a free port;
  the shared server on 5432 is never touched), migrated once per session;
* a **private Redis** (``redis-server`` on a free port) as broker and cache;
* **gunicorn** web processes and **django-q2** ``qcluster`` workers, started with production
  settings (DEBUG off) plus short outbox leases (``tests/chaos/settings.py``);
* **aiosmtpd** (the Inbox of tests/calendars/conftest.py) and **Radicale** (its session fixture),
  each behind a ``Gate``: a TCP relay on loopback that forwards, refuses or hangs on command.

The tests run only with ``make chaos`` (or ``CHAOS=1``, or ``-m chaos``): they need ``initdb``,
``pg_ctl`` and ``redis-server`` and take a few minutes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from tests.calendars.conftest import Inbox, free_port, radicale  # noqa: F401  (radicale: a fixture)

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
NEEDS = ("initdb", "pg_ctl", "redis-server")


def pytest_collection_modifyitems(config, items):
    wanted = os.environ.get("CHAOS") == "1" or "chaos" in (config.getoption("-m") or "")
    for item in items:
        if "tests/chaos/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.chaos)
            if not wanted:
                item.add_marker(pytest.mark.skip(reason="chaos tests run with `make chaos` (or CHAOS=1)"))


def _wait(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True
    return False


# --- PostgreSQL -------------------------------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway cluster. As root, initdb refuses to run: the server then runs as user postgres."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, name: str = "chaos") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def query(self, sql: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url(), connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()


# --- Redis --------------------------------------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _port_open(self.port), 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()


# --- Gates: relays that forward, refuse or hang -----------------------------------------------------------------


class Gate:
    """``127.0.0.1:port`` relays to ``target`` while ``mode`` is "up"; "down" closes each new
    connection at once (like a dead server's RST), "hang" accepts and never answers."""

    def __init__(self, target_port: int):
        self.target_port, self.mode = target_port, "up"
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode: str) -> None:
        assert mode in {"up", "down", "hang"}
        self.mode = mode
        if mode != "hang":
            for s in self.held:
                with contextlib.suppress(OSError):
                    s.close()
            self.held.clear()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "down":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()
            elif self.mode == "hang":
                self.held.append(client)
            else:
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)

        def pump(src, dst):
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        t.start()
        pump(client, upstream)
        t.join(timeout=30)
        client.close()
        upstream.close()

    def close(self) -> None:
        self._stop = True
        self.set("up")
        self.server.close()


# --- SMTP -------------------------------------------------------------------------------------------------------


@dataclass
class SlowInbox(Inbox):
    """The calendar tests' Inbox, taking ``delay`` seconds to accept each message (a busy relay)."""

    delay: float = 0.0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for _rcpt, m in self.messages]


# --- The stack ------------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    pg: PrivatePostgres
    redis: PrivateRedis
    folder: Path
    secrets: dict
    smtp_port: int = 0
    processes: list = field(default_factory=list)

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.chaos.settings", DATABASE_URL=self.pg.url(),
            REDIS_URL=f"redis://127.0.0.1:{self.redis.port}/0", DEBUG="0", SECURE_HTTPS="0",
            ALLOWED_HOSTS="127.0.0.1,localhost", SITE_URL="http://127.0.0.1", LOG_LEVEL="WARNING",
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp_port}" if self.smtp_port else "", EMAIL_TIMEOUT="3",
            Q_WORKERS="2", DB_CONNECT_TIMEOUT="2", API_THROTTLE_USER="100000/minute",
            API_THROTTLE_ANON="100000/minute", CHAOS_STATIC_ROOT=str(self.folder / "static"), **self.secrets,
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def manage(self, *args: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def scenario(self, *args: str, timeout: float = 180) -> dict:
        result = subprocess.run([PYTHON, "-m", "tests.chaos.scenario", *args], cwd=ROOT, env=self.env(),
                                capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    def _spawn(self, name: str, command: list[str], **env) -> subprocess.Popen:
        log = open(self.folder / f"{name}-{len(self.processes)}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.log = log
        self.processes.append(process)
        return process

    def start_worker(self, **env) -> subprocess.Popen:
        return self._spawn("worker", [PYTHON, "manage.py", "qcluster"], **env)

    def start_web(self, workers: int = 2, **env) -> tuple[subprocess.Popen, str]:
        port = free_port()
        process = self._spawn("web", [PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind",
                                      f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"], **env)
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: get(base + "/healthz").status in (200, 503), 30, f"gunicorn on {port}")
        return process, base

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the process and everything it started (gunicorn's and qcluster's children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)
            self.kill(process, signal.SIGKILL)  # the process group: orphaned children too
            process.log.close()
        self.processes.clear()

    def outbox(self, municipality: int) -> list[tuple]:
        return self.pg.query(
            "SELECT id, channel, status, attempts, last_error, not_before, uid FROM calendars_outboxmessage "
            "WHERE municipality_id = %s ORDER BY id", (municipality,))

    def wait_all_sent(self, municipality: int, timeout: float = 120, nudge: float = 3.0) -> list[tuple]:
        """Until every row of the municipality is sent, queueing deliver_due every ``nudge`` seconds
        (the every-minute schedule, sped up)."""
        deadline, last_nudge = time.monotonic() + timeout, 0.0
        while True:
            rows = self.outbox(municipality)
            if rows and all(r[2] == "sent" for r in rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"not delivered after {timeout} s: {[r[:5] for r in rows if r[2] != 'sent']}")
            if time.monotonic() - last_nudge > nudge:
                self.scenario("queue-due")
                last_nudge = time.monotonic()
            time.sleep(0.3)


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    seconds: float


def get(url: str, *, headers: dict | None = None, timeout: float = 10) -> Response:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback only)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return Response(response.status, dict(response.headers), response.read(), time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers), exc.read(), time.perf_counter() - started)


def post(url: str, payload: dict, *, headers: dict | None = None, timeout: float = 10) -> Response:
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return Response(response.status, dict(response.headers), response.read(), time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers), exc.read(), time.perf_counter() - started)


@pytest.fixture(scope="session")
def chaos_folder():
    folder = Path(tempfile.mkdtemp(prefix="plejenet-chaos-"))
    os.chmod(folder, 0o755)  # noqa: S103 (the postgres user must reach its data folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres(chaos_folder):
    missing = [tool for tool in NEEDS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the chaos tests need {', '.join(missing)} on PATH")
    folder = chaos_folder / "pg"
    folder.mkdir()
    pg = PrivatePostgres(folder)
    pg.init()
    yield pg
    pg.stop("immediate")


@pytest.fixture(scope="session")
def private_redis(chaos_folder):
    redis_server = PrivateRedis(chaos_folder)
    redis_server.start()
    yield redis_server
    redis_server.stop()


@pytest.fixture(scope="session")
def migrated(private_postgres, private_redis, chaos_folder):
    secrets = {"SECRET_KEY": "chaos-" + Fernet.generate_key().decode(),
               "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    stack = Stack(private_postgres, private_redis, chaos_folder, secrets)
    result = stack.manage("migrate", "--noinput", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    result = stack.manage("collectstatic", "--noinput", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return secrets


@pytest.fixture
def smtp_server():
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def stack(migrated, private_postgres, private_redis, chaos_folder, smtp_server):
    """A clean broker, the SMTP server behind a gate, and every started process ended afterwards."""
    if private_redis.process is None:
        private_redis.start()
    private_redis.flush()
    controller, _inbox = smtp_server
    smtp_gate = Gate(controller.port)
    stack = Stack(private_postgres, private_redis, chaos_folder, migrated, smtp_port=smtp_gate.port)
    stack.smtp_gate = smtp_gate
    yield stack
    stack.stop_all()
    smtp_gate.close()
