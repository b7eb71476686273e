"""/healthz and start-up configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(code_or_args: list[str], **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update({"DEBUG": "1", "SECRET_KEY": "test-only-key"})
    env.pop("REDIS_URL", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, *code_or_args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_healthz_reports_database_and_queue(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["queue"]["ok"] is True
    assert body["queue"]["broker"] in {"orm", "redis"}


def test_healthz_answers_503_when_database_is_unreachable():
    # A real unreachable PostgreSQL (nothing listens on port 1), served through the real WSGI stack.
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup();"
        "from django.test import Client; r = Client().get('/healthz', HTTP_HOST='localhost');"
        "print(r.status_code, r.json()['status'], r.json()['database']['ok'])"
    )
    result = run(["-c", script], DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere", DB_CONNECT_TIMEOUT="2")
    assert result.stdout.split() == ["503", "down", "False"], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "maybe"}, "DEBUG: expected true/false"),
        ({"DATABASE_URL": "mysql://x@localhost/db"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL: expected redis://"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY: required when DEBUG is off"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL: expected"),
        ({"Q_WORKERS": "many"}, "Q_WORKERS: expected a whole number"),
    ],
)
def test_wrong_setting_fails_with_one_clear_line(env, expected):
    result = run(["manage.py", "check"], **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_unreachable_database_fails_at_start_up_naming_the_setting():
    result = run(["manage.py", "migrate"], DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere", DB_CONNECT_TIMEOUT="2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Configuration error: DATABASE_URL: cannot connect"), result.stderr


def test_unreachable_redis_fails_at_start_up_naming_the_setting():
    result = run(["manage.py", "qcluster"], REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "REDIS_URL: cannot connect" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # `make test` runs pytest-xdist workers: each gets a Redis database of its own.
        ({"PLEJENET_TESTING": "1", "PYTEST_XDIST_WORKER": "gw0"}, "redis://127.0.0.1:6379/15 redis://127.0.0.1:6379/15"),
        ({"PLEJENET_TESTING": "1", "PYTEST_XDIST_WORKER": "gw1"}, "redis://127.0.0.1:6379/14 redis://127.0.0.1:6379/14"),
        # Outside tests the variable means nothing: the configured database is used.
        ({"PYTEST_XDIST_WORKER": "gw1"}, "redis://127.0.0.1:6379/15 redis://127.0.0.1:6379/15"),
    ],
)
def test_each_parallel_test_process_gets_its_own_redis_database(env, expected):
    script = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings');"
        "from django.conf import settings; print(settings.Q_CLUSTER['redis'], settings.CACHES['default']['LOCATION'])"
    )
    result = run(["-c", script], REDIS_URL="redis://127.0.0.1:6379/15", **env)
    assert result.stdout.strip() == expected, result.stderr[-2000:]
