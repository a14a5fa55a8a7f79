"""The metrics hook: what the exporter's backup source reads, and WAL archive lag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drctl.backup import backup_source, parse_info, status_document, write_status
from drctl.backup.status import ArchiverStats, archive_lag_seconds
from monitoring.sources import backup_status_file

INFO = (Path(__file__).parent / "fixtures" / "info-ecm-db.json").read_text()
SYSTEMS = {"ecm-db": "ecm", "crm-db": "crm"}


def test_the_status_file_is_what_the_exporter_reads(tmp_path: Path) -> None:
    stanzas = parse_info(INFO)
    doc = status_document(stanzas, SYSTEMS, lags={"ecm-db": 4.0}, now=1.0)
    path = tmp_path / "backup-status.json"
    write_status(path, doc)
    last = float(stanzas[0].backup[-1].timestamp.stop)
    assert backup_status_file(path)() == {"ecm": last}
    entry = json.loads(path.read_text())["systems"]["ecm"]
    assert entry["wal_archive_lag_seconds"] == 4.0
    assert entry["last_label"] == stanzas[0].backup[-1].label
    assert entry["last_type"] == "incr"


def test_a_system_never_backed_up_has_no_timestamp(tmp_path: Path) -> None:
    none = parse_info('[{"name": "crm-db", "status": {"code": 2, "message": "no valid backups"}}]')
    path = tmp_path / "s.json"
    write_status(path, status_document(none, SYSTEMS))
    assert backup_status_file(path)() == {}


def test_scrape_time_source_keys_by_system() -> None:
    read = backup_source(lambda: parse_info(INFO), SYSTEMS)
    assert list(read()) == ["ecm"]


NOW = 10_000.0


@pytest.mark.parametrize(
    ("archived", "archived_at", "failed_at", "current", "lag"),
    [
        # the segment before the one being written is archived: nothing waits
        ("000000010000000000000004", NOW - 300, None, "000000010000000000000005", 0.0),
        ("000000010000000000000005", NOW - 300, None, "000000010000000000000005", 0.0),
        # two completed segments wait: behind since the last archive
        ("000000010000000000000004", NOW - 90, NOW - 1, "000000010000000000000007", 90.0),
        # across a log boundary (0x...00FF -> 0x...0100)
        ("0000000100000000000000FE", NOW - 5, None, "000000010000000100000000", 5.0),
        # a new timeline after failover continues the position
        ("000000010000000000000009", NOW - 30, None, "00000002000000000000000A", 0.0),
        # never archived anything, failing since
        (None, None, NOW - 42, "000000010000000000000003", 42.0),
        (None, None, None, "000000010000000000000001", 0.0),
    ],
)
def test_archive_lag(
    archived: str | None,
    archived_at: float | None,
    failed_at: float | None,
    current: str,
    lag: float,
) -> None:
    stats = ArchiverStats(archived, archived_at, None, failed_at, current)
    assert archive_lag_seconds(stats, NOW) == lag
