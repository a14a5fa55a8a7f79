"""`drctl backup offsite` against the AWS EMULATOR (moto server mode on 127.0.0.1), never AWS:
the production inventory's buckets, seeded as pgBackRest lays out its S3 repository."""

from __future__ import annotations

import time

import pytest

from drctl.cli import main
from tests.doubles.aws_emulator import AwsEmulator

BUCKETS = {
    "drctl-production-pgbackrest": "eu-south-1",
    "drctl-production-pgbackrest-replica": "eu-central-1",
}
LABEL = "20261201-010000F"
STANZAS = ("ecm-db", "crm-db")


@pytest.fixture
def buckets(aws: AwsEmulator) -> AwsEmulator:
    """The emulator with the production inventory's bucket and its replica, empty."""
    for bucket, region in BUCKETS.items():
        aws.client("s3", region).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    return aws


def put_backup(aws: AwsEmulator, bucket: str, stanza: str) -> None:
    s3 = aws.client("s3", BUCKETS[bucket])
    s3.put_object(
        Bucket=bucket, Key=f"pgbackrest/backup/{stanza}/{LABEL}/backup.manifest", Body=b""
    )


def put_everywhere(aws: AwsEmulator) -> None:
    """A fresh backup of every cluster in the bucket and in its replica."""
    for bucket in BUCKETS:
        for stanza in STANZAS:
            put_backup(aws, bucket, stanza)


def test_fresh_copies_of_every_cluster_pass(
    buckets: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    put_everywhere(buckets)
    assert main(["backup", "offsite"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == 4, out
    assert "s3://drctl-production-pgbackrest-replica crm-db" in out


def test_a_cluster_without_a_copy_fails_naming_bucket_and_cluster(
    buckets: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for bucket in BUCKETS:
        put_backup(buckets, bucket, "ecm-db")
    assert main(["backup", "offsite"]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]
    assert problems, "no problem reported"
    assert all("crm-db" in line for line in problems), problems
    assert any("s3://drctl-production-pgbackrest crm-db" in line for line in problems)


def test_copies_older_than_the_limit_fail(
    buckets: AwsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    put_everywhere(buckets)
    # the objects were stored a moment ago: a limit of about a second makes them stale
    time.sleep(1.5)
    assert main(["backup", "offsite", "--max-age-hours", "0.0003"]) == 1
    assert "PROBLEM" in capsys.readouterr().out


def test_a_bad_limit_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "offsite", "--max-age-hours", "0"]) == 1
    assert "--max-age-hours" in capsys.readouterr().err
