"""`Verifier` with a fake pgBackRest: which check fails, and how loudly (no PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from drctl.backup import Backups, BackupVerifyError, Check, PgBackRest, Verifier
from drctl.backup.runner import Result
from drctl.backup.verify import parse_repo_verify
from drctl.cli.backup import parse_checks
from drctl.errors import DrctlError

FIXTURES = Path(__file__).parent / "fixtures"
INFO = (FIXTURES / "info-ecm-db.json").read_text()
DAMAGED = (FIXTURES / "verify-damaged.txt").read_text()
LATEST = "20261125-115450F_20261125-115455I"
VALID = (
    "P00   INFO: stanza: ecm-db\n"
    "                                    status: ok\n"
    f"                                      backup: {LATEST}, status: valid, total files"
    " checked: 965, total valid files: 965\n"
)


class FakePgBackRest:
    def __init__(self, verify_output: str, restore_rc: int = 0) -> None:
        self.verify_output, self.restore_rc = verify_output, restore_rc
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        if "info" in argv:
            return Result(argv, 0, INFO, "")
        if "verify" in argv:
            return Result(argv, 0, self.verify_output, "")
        if "restore" in argv:
            return Result(argv, self.restore_rc, "", "ERROR: [029]: lz4 error")
        raise AssertionError(f"unexpected {argv}")


def _verifier(fake: FakePgBackRest, tmp_path: Path) -> Verifier:
    backups = Backups({"ecm": "ecm-db"}, PgBackRest(), run_as=fake)
    return Verifier(backups, scratch_root=tmp_path, pg_bin=tmp_path / "no-pg", owner="root")


def test_repository_damage_names_the_backup_and_the_file(tmp_path: Path) -> None:
    fake = FakePgBackRest(DAMAGED)
    with pytest.raises(BackupVerifyError) as caught:
        _verifier(fake, tmp_path).verify("ecm")
    assert str(caught.value) == (
        f"backup ecm-db/{LATEST} is damaged: check 'repository' failed: damaged backup set(s) "
        f"{LATEST}: invalid checksum '{LATEST}/pg_data/base/5/16384.lz4'"
    )
    assert not any("restore" in c for c in fake.calls), "nothing restored from a damaged set"
    assert list(tmp_path.iterdir()) == [], "scratch directory removed"


def test_a_failed_restore_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackupVerifyError, match=r"check 'restore' failed: .*lz4 error"):
        _verifier(FakePgBackRest(VALID, restore_rc=29), tmp_path).verify("ecm-db")


def test_unknown_system_and_missing_set(tmp_path: Path) -> None:
    v = _verifier(FakePgBackRest(VALID), tmp_path)
    with pytest.raises(DrctlError, match="no cluster or system named 'hr'"):
        v.verify("hr")
    with pytest.raises(DrctlError, match="no backup set nope"):
        v.verify("ecm", label="nope")


def test_parse_repo_verify() -> None:
    problems, bad = parse_repo_verify(DAMAGED)
    assert [(p.label, p.problem) for p in problems] == [(LATEST, "invalid checksum")]
    assert bad == [LATEST]
    assert parse_repo_verify(VALID) == ([], [])


def test_cli_checks() -> None:
    checks = parse_checks(
        ["rows@ecm=SELECT count(*) FROM documents", "sum=SELECT 1"], ["rows=5000"]
    )
    assert checks == [
        Check("rows", "SELECT count(*) FROM documents", "ecm", "5000"),
        Check("sum", "SELECT 1", "postgres", None),
    ]
    with pytest.raises(DrctlError, match="NAME\\[@DB\\]=SQL"):
        parse_checks(["rows"], [])
    with pytest.raises(DrctlError, match="names no --check: x"):
        parse_checks([], ["x=1"])
