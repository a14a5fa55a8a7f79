"""Database access that survives failovers: bounded waits, broken connections discarded.

The apps reach PostgreSQL through the site's HAProxy. When the primary dies or is partitioned
away, a connection may hang rather than fail, so every transaction runs under a watchdog that
shuts the socket down at a deadline; the blocked libpq call then fails at once and the request
gets a 503 instead of hanging. Broken connections are never returned to the pool, and one
failure empties the idle pool, because after a failover every old connection points at the
old primary.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

Conn = psycopg.Connection[DictRow]

CONNECT_TIMEOUT_S = 2  # libpq's minimum
# PostgreSQL's WARNING when a COMMIT stops waiting for the synchronous standby (a cancel, a
# terminated backend): the row is committed locally only, and a failover may lose it.
SYNC_WAIT_CANCELLED = "canceling wait for synchronous replication"


class DatabaseUnavailable(Exception):
    """The database cannot serve this request now; answered with 503."""


def connect_kwargs(statement_timeout_ms: int, application_name: str) -> dict[str, Any]:
    """libpq parameters that keep a dead peer from hanging us (merged into any DSN)."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": 5000,
        "application_name": application_name,
        "options": f"-c statement_timeout={statement_timeout_ms} "
        "-c idle_in_transaction_session_timeout=30000 -c lock_timeout=3000",
    }


def _sever(conn: Conn) -> None:
    """Shut the socket down under a blocked libpq call (safe: the fd itself stays open)."""
    with contextlib.suppress(Exception):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


def _looks_alive(conn: Conn) -> bool:
    """Cheap check of an idle connection: no round trip, just 'has the peer said goodbye?'."""
    if conn.closed or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
        return False
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return False
    # An idle connection has nothing to read unless the server closed or terminated it.
    return not readable


class Database:
    """A small connection pool with per-transaction deadlines."""

    def __init__(
        self,
        dsn: str,
        *,
        application_name: str = "drctl-app",
        statement_timeout_ms: int = 5000,
        deadline_s: float = 3.0,
        max_size: int = 20,
        max_idle: int = 10,
    ) -> None:
        self.dsn = dsn
        self.deadline_s = deadline_s
        self._kwargs = connect_kwargs(statement_timeout_ms, application_name)
        self._idle: list[Conn] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_size)
        self._max_idle = max_idle
        # libpq will not give up a connection attempt before 2 s: attempts run on these
        # threads, and a request stops waiting at its own deadline (see _take).
        self._connector = ThreadPoolExecutor(max_size, thread_name_prefix="db-connect")

    def _connect(self) -> Conn:
        if not self.dsn:
            raise DatabaseUnavailable("DRCTL_DB_DSN is not set")
        try:
            return psycopg.connect(self.dsn, row_factory=dict_row, **self._kwargs)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot connect: {str(exc).strip()[:200]}") from exc

    def _take(self, wait_s: float) -> Conn:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if _looks_alive(conn):
                    return conn
                conn.close()
        wait_s = max(0.05, wait_s)
        attempt = self._connector.submit(self._connect_unless_late, time.monotonic() + wait_s)
        try:
            return attempt.result(timeout=wait_s)
        except FutureTimeout:
            # Too late for this request; a connection that arrives after all is kept.
            attempt.add_done_callback(self._adopt)
            raise DatabaseUnavailable("cannot connect: no answer within the deadline") from None

    def _connect_unless_late(self, deadline: float) -> Conn:
        # Attempts queued behind hanging ones during an outage are not worth starting.
        if time.monotonic() > deadline:
            raise DatabaseUnavailable("connection attempt abandoned")
        return self._connect()

    def _adopt(self, attempt: Future[Conn]) -> None:
        if not attempt.cancelled() and attempt.exception() is None:
            self._give_back(attempt.result())

    def _give_back(self, conn: Conn) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle and _looks_alive(conn):
                self._idle.append(conn)
                return
        conn.close()

    def discard_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextlib.contextmanager
    def transaction(
        self, deadline_s: float | None = None, statement_timeout_ms: int | None = None
    ) -> Iterator[Conn]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Raises DatabaseUnavailable when the database fails or the deadline passes (connecting
        included). `statement_timeout_ms` tightens the server-side limit for this transaction.
        """
        budget = self.deadline_s if deadline_s is None else deadline_s
        started = time.monotonic()
        if not self._slots.acquire(timeout=budget):
            raise DatabaseUnavailable("connection pool exhausted")
        conn: Conn | None = None
        timer: threading.Timer | None = None
        expired = threading.Event()
        try:
            conn = self._take(budget - (time.monotonic() - started))
            remaining = max(0.1, budget - (time.monotonic() - started))
            bound = conn

            def expire() -> None:
                expired.set()
                _sever(bound)

            timer = threading.Timer(remaining, expire)
            timer.daemon = True
            timer.start()
            warnings: list[str] = []

            def keep(diag: psycopg.errors.Diagnostic) -> None:
                warnings.append(diag.message_primary or "")

            conn.add_notice_handler(keep)
            try:
                with conn.transaction():
                    if statement_timeout_ms is not None:
                        conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
                    yield conn
            finally:
                conn.remove_notice_handler(keep)
            if any(SYNC_WAIT_CANCELLED in w for w in warnings):
                # never acknowledge it: the caller answers 503 and the client retries
                raise DatabaseUnavailable("commit not confirmed by the synchronous standby")
        except (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            # A connection left on a demoted primary: drop it, the router knows the new one.
            psycopg.errors.ReadOnlySqlTransaction,
        ) as exc:
            self._drop(conn)
            conn = None
            reason = "deadline exceeded" if expired.is_set() else str(exc).strip()[:200]
            raise DatabaseUnavailable(f"database unavailable: {reason}") from exc
        finally:
            if timer is not None:
                timer.cancel()
            if conn is not None:
                if expired.is_set() or conn.closed:
                    self._drop(conn)
                else:
                    self._give_back(conn)
            self._slots.release()

    def _drop(self, conn: Conn | None) -> None:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self.discard_idle()

    def close(self) -> None:
        self._connector.shutdown(wait=False, cancel_futures=True)
        self.discard_idle()
