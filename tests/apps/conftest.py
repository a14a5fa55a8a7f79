"""A throwaway PostgreSQL 15 cluster for the application tests, migrated once per session.

We run as root, and PostgreSQL refuses to: initdb and pg_ctl run as `postgres` via runuser,
in a temporary directory that user owns (data directory mode 0700).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from apps_testlib import (
    ADMIN_TOKEN,
    PG_BIN,
    PROBER_TOKEN,
    Cluster,
    _as_postgres,
    _free_port,
    _settings,
)
from fastapi.testclient import TestClient

from apps.common.migrate import upgrade


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 is not installed")
    root = Path(tempfile.mkdtemp(prefix="drctl-apps-pg-"))
    shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    data = root / "data"
    data.mkdir(mode=0o700)
    shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"
    )
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{root}'\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\n"
        )
    c = Cluster(root, data, port)
    c.start()
    try:
        with psycopg.connect(c.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ecm")
            conn.execute("CREATE DATABASE crm")
        yield c
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data),
             "-m", "immediate", "stop"],
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def ecm_dsn(cluster: Cluster) -> str:
    from apps.ecm.migrate import MIGRATIONS

    dsn = cluster.dsn("ecm")
    upgrade("ecm", MIGRATIONS, dsn, ADMIN_TOKEN, PROBER_TOKEN)
    return dsn


@pytest.fixture(scope="session")
def crm_dsn(cluster: Cluster) -> str:
    from apps.crm.migrate import MIGRATIONS

    dsn = cluster.dsn("crm")
    upgrade("crm", MIGRATIONS, dsn, ADMIN_TOKEN, PROBER_TOKEN)
    return dsn


@pytest.fixture(scope="session")
def ecm(ecm_dsn: str) -> Iterator[TestClient]:
    from apps.ecm.main import create_app

    with TestClient(create_app(_settings("ecm", ecm_dsn)), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def crm(crm_dsn: str) -> Iterator[TestClient]:
    from apps.crm.main import create_app

    with TestClient(create_app(_settings("crm", crm_dsn)), raise_server_exceptions=False) as client:
        yield client
