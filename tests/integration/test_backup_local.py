"""Backups of a throwaway PostgreSQL 15 cluster (not the lab): WAL archived by pgBackRest into a
temporary repository, a full and an incremental backup, `drctl backup verify` restoring the
latest into a scratch cluster; then one file of that backup is damaged and verify must fail,
naming the backup and the file.

Runs as root (initdb and pgBackRest run as postgres through runuser).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from drctl.backup import (
    BackupKind,
    Backups,
    BackupVerifyError,
    Check,
    PgBackRest,
    Verifier,
    restore_to,
)
from drctl.cli import main
from monitoring.sources import backup_status_file

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBACKREST = Path("/usr/bin/pgbackrest")
STANZA = "ecm-db"
ROWS = 5000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, text=True
    )


@dataclass
class Primary:
    root: Path
    port: int
    backups: Backups

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres"

    @property
    def repo(self) -> Path:
        return self.root / "repo"


@pytest.fixture(scope="module")
def primary() -> Iterator[Primary]:
    if os.geteuid() != 0:
        pytest.skip("needs root (initdb and pgBackRest run as postgres through runuser)")
    if not (PG_BIN / "initdb").exists() or not PGBACKREST.exists():
        pytest.skip("PostgreSQL 15 or pgBackRest is not installed")
    root = Path(tempfile.mkdtemp(prefix="drctl-backup-"))
    shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    port = _free_port()
    config = root / "pgbackrest.conf"
    # what roles/pgbackrest renders for one stanza, with a local repo1
    config.write_text(
        f"[global]\nrepo1-path={root}/repo\nrepo1-retention-full=2\nrepo1-retention-diff=6\n"
        f"compress-type=zst\ncompress-level=3\narchive-async=n\nstart-fast=y\n"
        f"log-path={root}/log\nlock-path={root}/lock\nspool-path={root}/spool\n"
        f"\n[{STANZA}]\npg1-path={root}/data\npg1-port={port}\npg1-socket-path={root}\n"
    )
    for d in ("data", "repo", "log", "lock", "spool"):
        (root / d).mkdir(mode=0o700)
    for p in root.iterdir():
        shutil.chown(p, "postgres", "postgres")
    _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
        "-E", "UTF8", "--data-checksums",
    )  # fmt: skip
    with open(root / "data" / "postgresql.conf", "a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
            "fsync = off\narchive_mode = on\n"
            f"archive_command = '{PGBACKREST} --config={config} --stanza={STANZA} "
            "archive-push %p'\n"
        )
    _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "pg.log"),
        "-w", "-t", "30", "start",
    )  # fmt: skip
    backups = Backups({"ecm": STANZA}, PgBackRest(config=config))
    try:
        yield Primary(root, port, backups)
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
             str(root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _rows(p: Primary) -> int:
    with psycopg.connect(p.dsn) as conn:
        row = conn.execute("SELECT count(*) FROM docs").fetchone()
    assert row is not None
    return int(row[0])


def test_full_then_incremental_backup_restores_every_row(primary: Primary) -> None:
    b = primary.backups
    b.create_stanza("ecm")
    with psycopg.connect(primary.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE docs (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO docs SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
    full = b.run("ecm", BackupKind.FULL)
    with psycopg.connect(primary.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO docs SELECT g, md5(g::text) FROM generate_series(1001, %s) g", (ROWS,)
        )
    incr = b.run("ecm", "incr")
    print(f"\nfull backup {full.seconds:.2f} s, incremental {incr.seconds:.2f} s")
    assert incr.backup.prior == full.backup.label
    assert [x.label for x in b.list()[0].backup] == [full.backup.label, incr.backup.label]

    checks = [
        Check("rows", "SELECT count(*) FROM docs", expect=str(ROWS)),
        Check("checksum", "SELECT md5(string_agg(body, '' ORDER BY id)) FROM docs"),
    ]
    t = time.monotonic()
    report = Verifier(b).verify("ecm", checks)
    print(
        f"verify {time.monotonic() - t:.2f} s (restore {report.seconds('restore'):.2f} s): "
        + ", ".join(f"{r.name} {r.seconds:.2f}" for r in report.results)
    )
    assert report.ok and report.label == incr.backup.label
    names = [r.name for r in report.results]
    assert names[:6] == ["repository", "restore", "start", "promote", "rows", "checksum"]
    with psycopg.connect(primary.dsn) as conn:
        row = conn.execute("SELECT md5(string_agg(body, '' ORDER BY id)) FROM docs").fetchone()
    assert row is not None and report.results[5].detail == f"postgres: {row[0]}"
    assert not list(Path(tempfile.gettempdir()).glob(f"drctl-verify-{STANZA}-*")), "scratch left"


def test_the_command_line_runs_lists_and_verifies(
    primary: Primary, capsys: pytest.CaptureFixture[str]
) -> None:
    config = f"--config={primary.backups.pgbackrest.config}"
    status = primary.root / "backup-status.json"
    assert main(["backup", "run", "ecm", "--type", "diff", config, f"--status-file={status}"]) == 0
    assert "ecm-db: diff backup" in capsys.readouterr().out
    assert set(backup_status_file(status)()) == {"ecm"}
    assert main(["backup", "list", "--json", config]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["systems"]["ecm"]["last_type"] == "diff"
    check = ["--check", "rows=SELECT count(*) FROM docs", "--expect", f"rows={ROWS}"]
    assert main(["backup", "verify", "ecm", config, *check]) == 0
    out = capsys.readouterr().out
    assert "rows" in out and "verified in" in out
    assert main(["backup", "verify", "ecm", config, *check[:2], "--expect", "rows=1"]) == 1
    assert "check 'rows' failed: postgres: expected '1', got" in capsys.readouterr().err


def test_point_in_time_restore_stops_before_the_corruption(primary: Primary) -> None:
    """The corruption drill in small: rows deleted at t0, restored to just before t0."""
    with psycopg.connect(primary.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY)")
        conn.execute("INSERT INTO ledger SELECT generate_series(1, 100)")
        time.sleep(0.05)
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        t0: datetime = row[0]
        conn.execute("DELETE FROM ledger WHERE id > 10")  # the fault
        conn.execute("SELECT pg_switch_wal()")
    _wait_archived(primary)
    target = primary.root / "pitr"
    target.mkdir(mode=0o700)
    shutil.chown(target, "postgres", "postgres")
    argv = restore_to(target, t0, stanza=STANZA, pgbackrest=primary.backups.pgbackrest, delta=False)
    t = time.monotonic()
    _as_postgres(*argv)
    port = _free_port()
    with open(target / "postgresql.auto.conf", "a") as conf:
        conf.write(
            f"port = {port}\narchive_mode = off\nunix_socket_directories = '{primary.root}'\n"
        )
    _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(target), "-l", str(primary.root / "pitr.log"),
        "-w", "-t", "60", "start",
    )  # fmt: skip
    try:
        dsn = f"host=127.0.0.1 port={port} dbname=postgres user=postgres"
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and row[0] is False:
                    count = conn.execute("SELECT count(*) FROM ledger").fetchone()
                    break
            assert time.monotonic() < deadline, "PITR copy never promoted"
            time.sleep(0.1)
        print(f"\nPITR restore + replay + promote {time.monotonic() - t:.2f} s")
        assert count is not None and count[0] == 100
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(target),
             "-m", "immediate", "stop"],
            capture_output=True,
        )  # fmt: skip


def _wait_archived(p: Primary) -> None:
    deadline = time.monotonic() + 20
    with psycopg.connect(p.dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1)"
                " FROM pg_stat_archiver"
            ).fetchone()
            if row is not None and row[0]:
                return
            assert time.monotonic() < deadline, "WAL not archived"
            time.sleep(0.1)


def test_verify_fails_naming_a_damaged_backup(primary: Primary) -> None:
    b = primary.backups
    latest = b.info("ecm").latest
    assert latest is not None, "the previous test took the backups"
    # the table's own file in the incremental backup: flip bytes in its middle
    files = sorted(
        (primary.repo / "backup" / STANZA / latest.label / "pg_data" / "base").rglob("*.zst"),
        key=lambda f: f.stat().st_size,
    )
    victim = files[-1]
    data = bytearray(victim.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 32):
        data[i] ^= 0xFF
    victim.write_bytes(bytes(data))

    with pytest.raises(BackupVerifyError) as caught:
        Verifier(b).verify("ecm")
    message = str(caught.value)
    print(f"\n{message}")
    assert f"backup {STANZA}/{latest.label} is damaged" in message
    assert "check 'repository' failed" in message
    assert victim.relative_to(primary.repo / "backup" / STANZA).as_posix() in message


def test_a_damaged_file_also_fails_the_restore_itself(primary: Primary) -> None:
    """Without pgBackRest's repository check, the restore is what fails, not a later query."""

    class RestoreOnly(Verifier):
        def _repository(self, stanza: str) -> str:
            return "skipped"

    with pytest.raises(BackupVerifyError) as caught:
        RestoreOnly(primary.backups).verify("ecm")
    assert "check 'restore' failed" in str(caught.value)
