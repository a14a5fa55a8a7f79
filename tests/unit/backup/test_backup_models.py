"""`pgbackrest info --output=json` (pgBackRest 2.45, a full and an incremental backup)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drctl.backup import BackupKind, parse_info
from drctl.backup.models import InfoError

FIXTURES = Path(__file__).parent / "fixtures"
INFO = (FIXTURES / "info-ecm-db.json").read_text()


def test_a_full_and_its_incremental() -> None:
    [stanza] = parse_info(INFO)
    assert stanza.name == "ecm-db" and stanza.ok
    full, incr = stanza.backup
    assert (full.type, incr.type) == (BackupKind.FULL, BackupKind.INCR)
    assert incr.prior == full.label and incr.reference == [full.label]
    assert full.duration_seconds == full.timestamp.stop - full.timestamp.start
    assert incr.info.repository.delta < incr.info.size
    assert stanza.latest == incr
    assert stanza.last_wal == "000000010000000000000004"


def test_a_backup_with_page_checksum_errors_is_not_a_success() -> None:
    doc = json.loads(INFO)
    doc[0]["backup"][1]["error"] = True
    [stanza] = parse_info(json.dumps(doc))
    assert stanza.latest is not None and stanza.latest.label == doc[0]["backup"][0]["label"]


def test_newer_pgbackrest_fields_are_ignored() -> None:
    doc = json.loads(INFO)
    doc[0]["backup"][0]["annotation"] = {"drill": "x"}
    doc[0]["new-field"] = 1
    assert parse_info(json.dumps(doc))[0].backup[0].label


def test_a_stanza_without_backups() -> None:
    doc = [{"name": "crm-db", "status": {"code": 2, "message": "no valid backups"}}]
    [stanza] = parse_info(json.dumps(doc))
    assert stanza.latest is None and not stanza.ok and stanza.last_wal is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("{}", "expected a JSON list"),
        ('[{"name": "x"}]', "0.status: Field required"),
        (
            '[{"name": "x", "status": {"code": 0, "message": "ok"}, "backup": [{"label": "y"}]}]',
            "0.backup.0.type",
        ),
    ],
)
def test_malformed_output_is_named(text: str, message: str) -> None:
    with pytest.raises(InfoError, match=message):
        parse_info(text)
