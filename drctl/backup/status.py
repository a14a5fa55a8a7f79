"""The backup metrics hook: last successful backup per system and WAL archive lag.

The exporter's `monitoring.sources.backup_status_file` reads a JSON status file keyed by system;
`status_document` produces exactly that shape (plus the archive lag), `write_status` writes it
atomically, and `backup_source` is a `BackupSource` reading pgBackRest at scrape time instead.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drctl.backup.models import Stanza

# Where monitoring.sources reads it by default (DRCTL_BACKUP_STATUS overrides).
DEFAULT_STATUS_FILE = Path("/var/lib/drctl/backup-status.json")


def status_file_path() -> Path:
    return Path(os.environ.get("DRCTL_BACKUP_STATUS", str(DEFAULT_STATUS_FILE)))


@dataclass(frozen=True)
class ArchiverStats:
    """One row of pg_stat_archiver on the primary, and the WAL segment being written now."""

    last_archived_wal: str | None
    last_archived_time: float | None  # epoch seconds
    last_failed_wal: str | None
    last_failed_time: float | None
    current_wal: str

    SQL = (
        "SELECT last_archived_wal, extract(epoch FROM last_archived_time)::float8,"
        " last_failed_wal, extract(epoch FROM last_failed_time)::float8,"
        " pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver"
    )


def _segment_number(wal: str) -> int:
    """A WAL file name's position (log * 2^32/16MiB + segment), timeline ignored."""
    return int(wal[8:16], 16) * 0x100 + int(wal[16:24], 16)


def archive_lag_seconds(stats: ArchiverStats, now: float) -> float:
    """How long completed WAL has been waiting to be archived: 0 when every segment before the
    one being written is archived, else the time since the last successful archive (or since
    the first failure, when nothing was ever archived). A lower bound: a segment that filled
    just after an archive is counted from that archive."""
    if stats.last_archived_wal is not None:
        pending = _segment_number(stats.current_wal) - _segment_number(stats.last_archived_wal)
        if pending <= 1:
            return 0.0
        since = stats.last_archived_time
    else:
        since = stats.last_failed_time
    if since is None:
        return 0.0  # nothing completed yet: nothing to archive
    return max(0.0, now - since)


def last_success(stanza: Stanza) -> float | None:
    latest = stanza.latest
    return float(latest.timestamp.stop) if latest else None


def status_document(
    stanzas: Iterable[Stanza],
    systems: Mapping[str, str],
    lags: Mapping[str, float] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """{"generated_at": t, "systems": {system: {last_success_timestamp_seconds, ...}}}.
    `systems` maps stanza -> system; `lags` is the archive lag per stanza, when measured."""
    out: dict[str, Any] = {}
    for s in stanzas:
        system = systems.get(s.name, s.name)
        latest = s.latest
        entry: dict[str, Any] = {
            "stanza": s.name,
            "status": s.status.message,
            "last_success_timestamp_seconds": last_success(s),
            "last_label": latest.label if latest else None,
            "last_type": str(latest.type) if latest else None,
            "last_wal_archived": s.last_wal,
        }
        if lags is not None and s.name in lags:
            entry["wal_archive_lag_seconds"] = lags[s.name]
        out[system] = entry
    return {"generated_at": time.time() if now is None else now, "systems": out}


def write_status(path: Path, doc: Mapping[str, Any]) -> None:
    """Replace the status file atomically: a scrape never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def backup_source(
    list_stanzas: Callable[[], Iterable[Stanza]], systems: Mapping[str, str]
) -> Callable[[], dict[str, float]]:
    """A `monitoring.sources.BackupSource` reading pgBackRest at scrape time:
    {system: epoch of its last successful backup}. `systems` maps stanza -> system."""

    def read() -> dict[str, float]:
        out: dict[str, float] = {}
        for s in list_stanzas():
            t = last_success(s)
            if t is not None:
                out[systems.get(s.name, s.name)] = t
        return out

    return read


def read_archiver(dsn: str) -> ArchiverStats:
    """pg_stat_archiver of the cluster at `dsn` (its primary)."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=3) as conn:
        row = conn.execute(ArchiverStats.SQL).fetchone()
    if row is None:
        raise ValueError("pg_stat_archiver returned no row")
    return ArchiverStats(row[0], row[1], row[2], row[3], row[4])
