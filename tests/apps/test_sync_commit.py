"""A COMMIT whose wait for the synchronous standby is cancelled is never acknowledged.

PostgreSQL then commits locally and only WARNs; with a standby that never answers (here: one
named in synchronous_standby_names that does not exist) and the wait cancelled, the app must
answer as for an unavailable database, since a failover to the standby would lose the row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from apps_testlib import Cluster

from apps.common.db import Database, DatabaseUnavailable


@pytest.fixture
def waiting_standby(cluster: Cluster) -> Iterator[str]:
    """synchronous_standby_names names a standby that never connects; only sessions with
    synchronous_commit on (the server default here is off) wait for it."""
    dsn = cluster.dsn("postgres")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'ghost'")
        admin.execute("SELECT pg_reload_conf()")
        admin.execute("CREATE TABLE IF NOT EXISTS sync_commit_probe (n int)")
    time.sleep(0.3)  # the reload reaches the backends
    try:
        yield dsn
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
            admin.execute("DROP TABLE sync_commit_probe")


def _cancel_waiting_commit(dsn: str, stop: threading.Event) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        while not stop.is_set():
            cancelled = admin.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
            ).fetchall()
            if cancelled:
                return
            time.sleep(0.05)


def test_a_cancelled_synchronous_wait_is_not_acknowledged(waiting_standby: str) -> None:
    db = Database(waiting_standby, deadline_s=10)
    stop = threading.Event()
    canceller = threading.Thread(target=_cancel_waiting_commit, args=(waiting_standby, stop))
    canceller.start()
    try:
        with (
            pytest.raises(DatabaseUnavailable, match="synchronous standby"),
            db.transaction() as conn,
        ):
            conn.execute("SET LOCAL synchronous_commit = on")
            conn.execute("INSERT INTO sync_commit_probe VALUES (1)")
    finally:
        stop.set()
        canceller.join(10)
        db.close()
    with psycopg.connect(waiting_standby) as check:
        # committed locally all the same: exactly the row a failover would lose
        assert check.execute("SELECT count(*) FROM sync_commit_probe").fetchone() == (1,)


def test_a_commit_the_standby_confirms_is_acknowledged(cluster: Cluster) -> None:
    db = Database(cluster.dsn("postgres"))
    try:
        with db.transaction() as conn:
            conn.execute("SET LOCAL synchronous_commit = on")  # no standby named: no wait
            assert conn.execute("SELECT 1").fetchone() is not None
    finally:
        db.close()
