"""`drctl backup offsite` against the AWS EMULATOR (moto server mode on 127.0.0.1), never AWS:
the production inventory's buckets, seeded as pgBackRest lays out its S3 repository."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drctl.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.doubles.aws_emulator import AwsEmulator, running_emulator, use_emulator

BUCKETS = {
    "drctl-production-pgbackrest": "eu-south-1",
    "drctl-production-pgbackrest-replica": "eu-central-1",
}
LABEL = "20261201-010000F"


@pytest.fixture(scope="module")
def emulator() -> Iterator[AwsEmulator]:
    with running_emulator() as aws:
        yield aws


@pytest.fixture
def aws(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> AwsEmulator:
    emulator.reset()
    use_emulator(monkeypatch, emulator)
    for bucket, region in BUCKETS.items():
        emulator.client("s3", region).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    return emulator


def put_backup(aws: AwsEmulator, bucket: str, stanza: str) -> None:
    s3 = aws.client("s3", BUCKETS[bucket])
    s3.put_object(
        Bucket=bucket, Key=f"pgbackrest/backup/{stanza}/{LABEL}/backup.manifest", Body=b""
    )


def test_fresh_copies_of_every_cluster_pass(
    aws: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for bucket in BUCKETS:
        for stanza in ("ecm-db", "crm-db"):
            put_backup(aws, bucket, stanza)
    assert main(["backup", "offsite"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == 4, out
    assert "s3://drctl-production-pgbackrest-replica crm-db" in out


def test_a_cluster_without_a_copy_fails_naming_bucket_and_cluster(
    aws: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for bucket in BUCKETS:
        put_backup(aws, bucket, "ecm-db")
    assert main(["backup", "offsite"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert problems, "no problem reported"
    assert all("crm-db" in line for line in problems), problems
    assert any("s3://drctl-production-pgbackrest crm-db" in line for line in problems)


def test_copies_older_than_the_limit_fail(
    aws: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for bucket in BUCKETS:
        for stanza in ("ecm-db", "crm-db"):
            put_backup(aws, bucket, stanza)
    # the objects were stored a moment ago: a limit of about a second makes them stale
    import time

    time.sleep(1.5)
    assert main(["backup", "offsite", "--max-age-hours", "0.0003"]) == 1
    assert "PROBLEM" in capsys.readouterr().out


def test_a_bad_limit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "offsite", "--max-age-hours", "0"]) == 1
    assert "--max-age-hours" in capsys.readouterr().err
