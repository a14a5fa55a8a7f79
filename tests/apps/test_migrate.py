"""Migrations as the deploy role runs them: `python -m apps.<app>.migrate` says "Running
upgrade" when it changed the schema and nothing of the sort on a re-run; both at once are safe."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from apps_testlib import Cluster

pytestmark = pytest.mark.postgres


def _migrate(app: str, dsn: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DRCTL_DB_DSN": dsn,
        "DRCTL_ADMIN_TOKEN": "t-admin",
        "DRCTL_PROBER_TOKEN": "t-prober",
    }
    return subprocess.run(
        [sys.executable, "-m", f"apps.{app}.migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("app", ["ecm", "crm"])
def test_migrations_are_idempotent_and_concurrent_safe(cluster: Cluster, app: str) -> None:
    db = f"{app}_migrate_test"
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"CREATE DATABASE {db}")
    dsn = cluster.dsn(db)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: _migrate(app, dsn), range(2)))
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    outputs = [r.stdout + r.stderr for r in runs]
    # Exactly one of the two concurrent runs applied the revisions.
    assert sum("Running upgrade" in out for out in outputs) == 1, outputs
    again = _migrate(app, dsn)
    assert again.returncode == 0 and "Running upgrade" not in again.stdout + again.stderr
    assert f"{app} schema is at head" in again.stdout
    with psycopg.connect(dsn) as conn:
        users = conn.execute(
            "SELECT u.username, r.role FROM users u JOIN user_roles r ON r.user_id = u.id "
            "ORDER BY 1"
        ).fetchall()
    assert users == [("admin", "admin"), ("prober", "prober")]


def test_migrate_without_a_database_fails_cleanly() -> None:
    r = _migrate("crm", "host=127.0.0.1 port=1 dbname=x user=x")
    assert r.returncode == 1 and "database unavailable" in r.stderr
    assert "Traceback" not in r.stderr
