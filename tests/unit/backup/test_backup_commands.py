"""pgBackRest command lines and the point-in-time restore helper (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from drctl.backup import BackupKind, PgBackRest, restore_to

CONF = Path("/var/lib/drctl/lab/brindisi/pgbackrest/pgbackrest.conf")
PGBR = PgBackRest(config=CONF)
HEAD = ["/usr/bin/pgbackrest", f"--config={CONF}", "--stanza=ecm-db"]


@pytest.mark.parametrize("kind", list(BackupKind))
def test_backup(kind: BackupKind) -> None:
    assert PGBR.backup("ecm-db", kind) == [*HEAD, "backup", f"--type={kind.value}"]


def test_backup_to_one_repository() -> None:
    assert PGBR.backup("ecm-db", BackupKind.FULL, repo=2)[-1] == "--repo=2"


def test_info_is_json_for_one_or_every_stanza() -> None:
    assert PGBR.info("ecm-db") == [*HEAD, "info", "--output=json"]
    assert PGBR.info() == ["/usr/bin/pgbackrest", f"--config={CONF}", "info", "--output=json"]


def test_scratch_restore_cannot_touch_the_estate() -> None:
    argv = PGBR.restore_scratch("ecm-db", "L1", Path("/tmp/s/data"), Path("/tmp/s"))
    assert argv[:4] == [*HEAD, "restore"]
    assert "--set=L1" in argv and "--pg1-path=/tmp/s/data" in argv
    assert "--tablespace-map-all=/tmp/s/tablespaces" in argv
    assert "--archive-mode=off" in argv and "--job-retry=0" in argv
    assert "--type=immediate" in argv and "--target-action=promote" in argv


def test_restore_to_a_point_in_time_just_before_t0() -> None:
    t0 = datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)
    argv = restore_to(Path("/srv/ecm-db/data"), t0, stanza="ecm-db", pgbackrest=PGBR)
    assert argv == [
        *HEAD,
        "restore",
        "--pg1-path=/srv/ecm-db/data",
        "--type=time",
        "--target=2026-11-25 10:00:00.250000+00:00",
        "--target-exclusive",
        "--target-action=promote",
        "--delta",
    ]


def test_restore_to_keeps_the_offset_and_can_use_the_offsite_repository() -> None:
    t0 = datetime(2026, 11, 25, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    argv = restore_to(Path("/d"), t0, stanza="crm-db", delta=False, repo=2)
    assert argv[0] == "/usr/bin/pgbackrest" and "--config=/etc/pgbackrest/pgbackrest.conf" in argv
    assert "--target=2026-11-25 11:00:00.000000+01:00" in argv
    assert "--delta" not in argv and argv[-1] == "--repo=2"


def test_restore_to_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        restore_to(Path("/d"), datetime(2026, 1, 1), stanza="ecm-db")
