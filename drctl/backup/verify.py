"""Prove a backup restores: restore it into a scratch directory, start a throwaway PostgreSQL
on 127.0.0.1, promote it, run checks, remove it. A damaged backup fails loudly, naming the
backup and the check that failed.

Checks, in order; the first failure stops the run (later checks could only fail after it):
  repository  pgBackRest's own checksum of every file in the repository (`pgbackrest verify`)
  restore     `pgbackrest restore` of the backup (decompresses and checksums every file)
  start       the throwaway cluster reaches consistency and accepts connections
  promote     `pg_is_in_recovery()` is false once recovery reached the backup's end
  <caller's>  a query (a row count, a checksum) with an optional expected answer
  amcheck     `pg_amcheck --all` finds no heap or B-tree corruption (when installed)
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import psycopg

from drctl.backup.backups import Backups
from drctl.errors import DrctlError

Row = tuple[object, ...]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# pgBackRest verify's findings: "INFO: invalid checksum '<label>/pg_data/base/5/16384.lz4'"
_FILE_PROBLEM = re.compile(r"INFO: (?P<problem>[a-z][a-z ]*[a-z]) '(?P<path>[^']+)'")
_SET_STATUS = re.compile(r"backup: (?P<label>\S+), status: (?P<status>[a-z-]+)")
_STANZA_STATUS = re.compile(r"^\s*status: (?P<status>[a-z-]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Check:
    """A query the caller wants answered by the restored cluster: its first column of the first
    row is compared with `expect` (as text) when given, else only has to succeed."""

    name: str
    sql: str
    database: str = "postgres"
    expect: str | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class VerifyReport:
    stanza: str
    label: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failed(self) -> CheckResult | None:
        return next((r for r in self.results if not r.ok), None)

    def seconds(self, name: str) -> float:
        return sum(r.seconds for r in self.results if r.name == name)

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.results)


class BackupVerifyError(DrctlError):
    """A backup did not restore into a sound, promotable cluster."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        bad = report.failed
        what = f"check {bad.name!r} failed: {bad.detail}" if bad else "no check ran"
        super().__init__(f"backup {report.stanza}/{report.label} is damaged: {what}")


@dataclass(frozen=True)
class RepoProblem:
    label: str  # the backup set, or the WAL archive id ("15-1") for a WAL segment
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.problem} '{self.path}'"


def parse_repo_verify(output: str) -> tuple[list[RepoProblem], list[str]]:
    """From `pgbackrest verify` output: the damaged files and the backup sets not "valid"."""
    problems = [
        RepoProblem(m["path"].split("/", 1)[0], m["path"], m["problem"])
        for m in _FILE_PROBLEM.finditer(output)
    ]
    bad_sets = [m["label"] for m in _SET_STATUS.finditer(output) if m["status"] != "valid"]
    return problems, bad_sets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What the throwaway cluster must not inherit from the estate's configuration (Patroni writes
# its own postgresql.conf): addresses, archiving into the real repository, synchronous standbys
# it would wait for forever, TLS files that were not restored. postgresql.auto.conf is read
# last, so these win.
def scratch_settings(port: int, scratch: Path) -> dict[str, str]:
    return {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(scratch / "run"),
        "hba_file": str(scratch / "pg_hba.conf"),
        "ident_file": str(scratch / "pg_ident.conf"),
        "archive_mode": "off",
        "synchronous_standby_names": "",
        "primary_conninfo": "",
        "primary_slot_name": "",
        "ssl": "off",
        "logging_collector": "off",
        "shared_preload_libraries": "",
        "cluster_name": "drctl-verify",
    }


def _conf_line(key: str, value: str) -> str:
    return f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n"


@dataclass
class Verifier:
    backups: Backups
    pg_bin: Path = PG_BIN
    scratch_root: Path | None = None  # default: the system's temporary directory
    port: Callable[[], int] = free_port
    superuser: str = "postgres"
    owner: str = "postgres"
    timeout: float = 300.0
    keep: bool = False  # leave the scratch directory (debugging)
    clock: Callable[[], float] = time.monotonic

    def verify(
        self, name: str, checks: Sequence[Check] = (), label: str | None = None
    ) -> VerifyReport:
        """Verify the latest successful backup of a cluster (or the set `label`)."""
        stanza = self.backups.stanza_for(name)
        info = self.backups.info(stanza)
        if label is None:
            latest = info.latest
            if latest is None:
                raise DrctlError(f"{stanza} has no successful backup to verify")
            label = latest.label
        elif label not in {b.label for b in info.backup}:
            raise DrctlError(f"{stanza} has no backup set {label}")
        report = VerifyReport(stanza, label)
        scratch = Path(tempfile.mkdtemp(prefix=f"drctl-verify-{stanza}-", dir=self.scratch_root))
        port = self.port()
        started = False
        try:
            steps: list[tuple[str, Callable[[], str]]] = [
                ("repository", lambda: self._repository(stanza)),
                ("restore", lambda: self._restore(stanza, label, scratch, port)),
                ("start", lambda: self._start(scratch)),
                ("promote", lambda: self._promoted(scratch, port)),
            ]
            steps += [(c.name, partial(self._query, scratch, port, c)) for c in checks]
            if (self.pg_bin / "pg_amcheck").exists():
                steps.append(("amcheck", lambda: self._amcheck(scratch, port)))
            for check_name, step in steps:
                t = self.clock()
                try:
                    detail, ok = step(), True
                except (DrctlError, psycopg.Error, OSError) as exc:
                    detail, ok = str(exc).strip() or type(exc).__name__, False
                started = started or check_name == "start"
                report.results.append(CheckResult(check_name, ok, detail, self.clock() - t))
                if not ok:
                    break
        finally:
            if started:
                self._stop(scratch)
            if not self.keep:
                shutil.rmtree(scratch, ignore_errors=True)
        if not report.ok:
            raise BackupVerifyError(report)
        return report

    # --- the checks: each returns a one-line detail or raises ---------------------------------
    def _repository(self, stanza: str) -> str:
        b = self.backups
        result = b.run_as(b.pgbackrest.repo_verify(stanza), self.timeout)
        if not result.ok:
            raise DrctlError(f"pgbackrest verify exit {result.returncode}: {result.tail()}")
        problems, bad_sets = parse_repo_verify(result.stdout + result.stderr)
        stanza_status = _STANZA_STATUS.findall(result.stdout)
        if problems or bad_sets or "error" in stanza_status:
            named = "; ".join(str(p) for p in problems[:5]) or "see pgbackrest verify"
            sets = ", ".join(sorted(set(bad_sets))) or "?"
            raise DrctlError(f"damaged backup set(s) {sets}: {named}")
        n = len(_SET_STATUS.findall(result.stdout))  # pgBackRest 2.45 lists sets only on damage
        sets = f"{n} backup set(s)" if n else "every backup set"
        return f"{sets} and the WAL archive match their checksums"

    def _restore(self, stanza: str, label: str, scratch: Path, port: int) -> str:
        data = scratch / "data"
        for d in (scratch, data, scratch / "run", scratch / "tablespaces"):
            d.mkdir(mode=0o700, exist_ok=True)
            shutil.chown(d, self.owner, self.owner)
        b = self.backups
        argv = b.pgbackrest.restore_scratch(stanza, label, data, scratch)
        result = b.run_as(argv, self.timeout)
        if not result.ok:
            raise DrctlError(f"pgbackrest restore exit {result.returncode}: {result.tail(4)}")
        (scratch / "pg_hba.conf").write_text(
            f"local all {self.superuser} trust\nhost all {self.superuser} 127.0.0.1/32 trust\n"
        )
        (scratch / "pg_ident.conf").write_text("")
        with (data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write("# drctl backup verify: a throwaway copy, cut off from the estate\n")
            for key, value in scratch_settings(port, scratch).items():
                conf.write(_conf_line(key, value))
        for f in ("pg_hba.conf", "pg_ident.conf"):
            shutil.chown(scratch / f, self.owner, self.owner)
        return f"{label} restored into {data}"

    def _start(self, scratch: Path) -> str:
        argv = [
            str(self.pg_bin / "pg_ctl"), "-D", str(scratch / "data"),
            "-l", str(scratch / "postgresql.log"), "-w", "-t", f"{int(self.timeout)}", "start",
        ]  # fmt: skip
        result = self.backups.run_as(argv, self.timeout + 10)
        if not result.ok:
            log = scratch / "postgresql.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise DrctlError("; ".join([result.tail(2), *tail]))
        return "accepting connections"

    def _connect(self, scratch: Path, port: int, dbname: str) -> psycopg.Connection[Row]:
        return psycopg.connect(
            host=str(scratch / "run"), port=port, user=self.superuser, dbname=dbname,
            connect_timeout=5, autocommit=True,
        )  # fmt: skip

    def _promoted(self, scratch: Path, port: int) -> str:
        deadline = self.clock() + self.timeout
        with self._connect(scratch, port, "postgres") as conn:
            while True:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and row[0] is False:
                    return "pg_is_in_recovery() is false"
                if self.clock() > deadline:
                    raise DrctlError(f"still in recovery after {self.timeout:g} s")
                time.sleep(0.1)

    def _query(self, scratch: Path, port: int, check: Check) -> str:
        with self._connect(scratch, port, check.database) as conn:
            row = conn.execute(check.sql.encode()).fetchone()  # the caller's own query
        value = None if row is None else row[0]
        got = "no row" if value is None else str(value)
        if check.expect is not None and got != check.expect:
            raise DrctlError(f"{check.database}: expected {check.expect!r}, got {got!r}")
        return f"{check.database}: {got}"

    def _amcheck(self, scratch: Path, port: int) -> str:
        argv = [
            str(self.pg_bin / "pg_amcheck"), "-h", str(scratch / "run"), "-p", str(port),
            "-U", self.superuser, "--all", "--install-missing", "--heapallindexed",
        ]  # fmt: skip
        result = self.backups.run_as(argv, self.timeout)
        if not result.ok:
            found = (result.stdout.strip() or result.stderr.strip()).splitlines()
            raise DrctlError("; ".join(found[:4]) or f"pg_amcheck exit {result.returncode}")
        return "no heap or B-tree corruption"

    def _stop(self, scratch: Path) -> None:
        argv = [str(self.pg_bin / "pg_ctl"), "-D", str(scratch / "data"), "-m", "immediate", "stop"]
        self.backups.run_as(argv, 60)
