"""The restore in docs/operations.md works: pg_dump a database, restore it into a fresh one, compare.

PostgreSQL only (skipped on SQLite, with the reason). Needs pg_dump and pg_restore on PATH, of a
major version at least the server's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from django.db import connection

from support.models import Child, Competence, Service
from support.reference_data import install

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="backup and restore are PostgreSQL tools"),
    pytest.mark.skipif(not shutil.which("pg_dump") or not shutil.which("pg_restore"), reason="no pg_dump/pg_restore"),
]


def libpq_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update({"PGHOST": str(db["HOST"] or "127.0.0.1"), "PGPORT": str(db["PORT"] or 5432), "PGUSER": db["USER"] or ""})
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def row_counts(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [name for (name,) in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608  (names from the catalogue)
        counts[table] = cursor.fetchone()[0]
    return counts


def test_pg_dump_and_restore_into_a_fresh_database_keeps_every_row(transactional_db, request, tmp_path):
    install(Service, Competence)
    world = request.getfixturevalue("world")
    assert world.child.pk
    source = connection.settings_dict["NAME"]
    target = f"{source}_restore_{uuid.uuid4().hex[:8]}"
    dump = tmp_path / "plejenet.dump"
    env = libpq_env()

    with connection.cursor() as cursor:
        expected = row_counts(cursor)
    assert expected["support_child"] == Child.objects.count() >= 2

    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source], env=env, check=True)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{target}"')
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)], env=env, check=True
        )
        import psycopg

        with psycopg.connect(dbname=target, host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                             password=env.get("PGPASSWORD")) as restored, restored.cursor() as cursor:
            assert row_counts(cursor) == expected
            cursor.execute("SELECT display_name FROM support_child WHERE id = %s", [world.child.pk])
            assert cursor.fetchone()[0] == "Demo-barn A."
            cursor.execute("SELECT count(*) FROM django_migrations")
            assert cursor.fetchone()[0] == expected["django_migrations"] > 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
