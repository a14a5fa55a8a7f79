"""Where the exporter reads the truth, each behind a small injectable function.

The defaults talk to the estate (TCP connects, HTTP GETs) or read local files; tests and the
benchmark pass fakes. Every function is called afresh on each scrape and reads the truth as it
is then (drill journals are only re-parsed when their file changed).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from drills.journal import Journal, journal_dir, load_journal
from monitoring import netio

log = logging.getLogger(__name__)

HostPort = tuple[str, int]
# Given endpoints and a timeout in seconds, return the ones that accepted a TCP connection.
Prober = Callable[[Collection[HostPort], float], set[HostPort]]
# GET groups of alternative URLs at once, within a timeout in seconds; for each group, the body
# of the first URL (in order) that answered 2xx, or the exception saying why none did.
FetchFirst = Callable[[Sequence[Sequence[str]], float], list[str | Exception]]
JournalSource = Callable[[], Iterable[Journal]]
# {system: epoch seconds of the last successful backup}
BackupSource = Callable[[], Mapping[str, float]]
# {system: seconds the WAL archive is behind}, for the systems where it was measured
WalLagSource = Callable[[], Mapping[str, float]]
# {trigger: [reasons]}; an empty list means the trigger does not fire
PlanSource = Callable[[], Mapping[str, Sequence[str]]]

DEFAULT_BACKUP_STATUS = Path("/var/lib/drctl/backup-status.json")
# A group's next URL is tried when the previous one failed or has not answered this soon.
STAGGER_SECONDS = 0.25


def tcp_prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
    """Connect to every endpoint at once; whatever has not answered within `timeout` is down."""
    return netio.probe(endpoints, timeout)


def http_fetch_first(groups: Sequence[Sequence[str]], timeout: float) -> list[str | Exception]:
    """Plain HTTP, every group at once (a proxy from the environment is never used)."""
    return netio.get_first(groups, timeout, stagger=min(STAGGER_SECONDS, timeout / 2))


def fetch_one(fetch: FetchFirst, url: str, timeout: float) -> str:
    result = fetch([[url]], timeout)[0]
    if isinstance(result, Exception):
        raise result
    return result


def journal_source(directory: Path | None = None) -> JournalSource:
    """Drill journals from a directory (default: $DRCTL_JOURNAL_DIR or drills/journals).

    Every scrape lists the directory and reads each journal as it is on disk now; a journal
    whose file has not changed since the last scrape (same size and modification time) is not
    parsed again. Journals keep their raw probe samples (hundreds of kilobytes each), and
    parsing a year of them every 2 s would cost more than the rest of the scrape."""
    parsed: dict[Path, tuple[tuple[int, int], Journal]] = {}
    lock = threading.Lock()  # two scrapes at once must not interleave their updates

    def read() -> list[Journal]:
        d = directory or journal_dir()
        if not d.is_dir():
            return []
        with lock:
            seen = {}
            for path in sorted(d.glob("*.json")):
                try:
                    st = path.stat()
                    key = (st.st_mtime_ns, st.st_size)
                    cached = parsed.get(path)
                    if cached is None or cached[0] != key:
                        cached = (key, load_journal(path))
                    seen[path] = cached
                except FileNotFoundError:
                    continue  # removed since the listing

            parsed.clear()
            parsed.update(seen)
            return sorted((j for _, j in seen.values()), key=lambda j: j.started_at)

    return read


def backup_status_file(path: Path = DEFAULT_BACKUP_STATUS) -> BackupStatusFile:
    """Last successful backup per system, from the JSON status file the backup engine writes
    (drctl.backup.status); the same file's WAL archive lags through `.wal_archive_lags()`.

    Accepted shapes: {"ecm": 1700000000.0, ...} or
    {"ecm": {"last_success_timestamp_seconds": 1700000000.0, ...}, ...}, optionally wrapped in
    {"systems": {...}}. A missing file means no backup has been recorded yet.
    """
    return BackupStatusFile(path)


class BackupStatusFile:
    """A BackupSource reading the status file; the file is parsed once per change (both
    families of a scrape come from one read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._parsed: tuple[tuple[int, int, int], Any] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, float]:
        return parse_backup_status(self._doc())

    def wal_archive_lags(self) -> dict[str, float]:
        return parse_wal_archive_lags(self._doc())

    def _doc(self) -> Any:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        # written by atomic replace (drctl.backup.status.write_status): a new inode each time
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._parsed is None or self._parsed[0] != key:
                self._parsed = (key, json.loads(self.path.read_text(encoding="utf-8")))
            return self._parsed[1]


def _systems(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict) and isinstance(doc.get("systems"), dict):
        doc = doc["systems"]
    if not isinstance(doc, dict):
        raise ValueError("backup status must be a JSON object keyed by system")
    return doc


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_backup_status(doc: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for system, value in _systems(doc).items():
        if isinstance(value, dict):
            value = value.get("last_success_timestamp_seconds", value.get("last_success"))
        if _number(value):
            out[str(system)] = float(value)
    return out


def parse_wal_archive_lags(doc: Any) -> dict[str, float]:
    """{system: seconds its WAL archive is behind}, for the systems where it was measured."""
    out: dict[str, float] = {}
    for system, value in _systems(doc).items():
        lag = value.get("wal_archive_lag_seconds") if isinstance(value, dict) else None
        if lag is not None and _number(lag):
            out[str(system)] = float(lag)
    return out


PLAN_REFRESH_SECONDS = 30.0


def plan_staleness(
    topology_path: Path, data_dir: Path, journals_dir: Path, plan_dir: Path
) -> PlanSource | None:
    """`drctl.plan.check.staleness` bound to its paths, or None while that module is absent."""
    try:
        module = importlib.import_module("drctl.plan.check")
        staleness: Callable[..., Mapping[str, Sequence[str]]] = module.staleness
    except (ImportError, AttributeError):
        log.info("drctl.plan.check.staleness is not available; drctl_plan_stale is not exported")
        return None

    # Checking re-renders the plan (tens of ms here, seconds for a large estate): at most once
    # per PLAN_REFRESH_SECONDS, not on every 2 s scrape. Triggers move in days, not seconds.
    cache: list[tuple[float, Mapping[str, Sequence[str]]]] = []

    def read() -> Mapping[str, Sequence[str]]:
        now = time.monotonic()
        if not cache or now - cache[0][0] > PLAN_REFRESH_SECONDS:
            cache[:] = [(now, staleness(topology_path, data_dir, journals_dir, plan_dir))]
        return cache[0][1]

    return read
