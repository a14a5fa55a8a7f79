"""The AWS driver against an EMULATOR (moto server mode on 127.0.0.1), never AWS: off-site
backup copies in S3 and the front door's Route 53 failover records, named as the production
inventory names them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drctl.backup.models import BackupKind
from drctl.errors import ConfigError, EstateError
from drctl.production.aws import AwsDriver, BackupBuckets
from tests.doubles.aws_emulator import AwsEmulator

REPO = Path(__file__).resolve().parents[3]
INVENTORY = REPO / "inventories" / "production" / "hosts.yml"
FULL = "20250101-010000F"
DIFF = f"{FULL}_20250102-010000D"
INCR = f"{FULL}_20250103-010000I"
DAY = timedelta(days=1)
SITES = {"brindisi": "192.0.2.10", "valencia": "198.51.100.10"}  # PRIMARY first, as the stack


@pytest.fixture
def make_driver(aws: AwsEmulator) -> Callable[..., AwsDriver]:
    def make(**options: Any) -> AwsDriver:
        return AwsDriver.from_inventory(INVENTORY, **options)

    return make


def later(delta: timedelta) -> Callable[[], datetime]:
    """A clock `delta` ahead of the emulator's (which stamps objects with the real time)."""
    return lambda: datetime.now(UTC) + delta


# -- S3: seeded as pgBackRest lays out repo2 ----------------------------------------------------


def buckets(aws: AwsEmulator, driver: AwsDriver, *, replica: bool = True) -> None:
    b = driver.backups
    assert b is not None and b.replica_bucket and b.replica_region
    for name, region in [(b.bucket, b.region)] + [(b.replica_bucket, b.replica_region)] * replica:
        aws.client("s3", region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )


def put_backup(
    aws: AwsEmulator, driver: AwsDriver, stanza: str, label: str, *, replica: bool = False
) -> None:
    b = driver.backups
    assert b is not None and b.replica_bucket and b.replica_region
    bucket, region = (b.replica_bucket, b.replica_region) if replica else (b.bucket, b.region)
    s3 = aws.client("s3", region)
    root = f"pgbackrest/backup/{stanza}/{label}"
    for key in ("pg_data/base/1/1259.zst", "backup.manifest.copy", "backup.manifest"):
        s3.put_object(Bucket=bucket, Key=f"{root}/{key}", Body=b"x")


def test_the_inventory_names_the_buckets_and_the_repository_path(make_driver):
    driver = make_driver()
    assert driver.backups == BackupBuckets(
        bucket="drctl-production-pgbackrest",
        region="eu-south-1",
        replica_bucket="drctl-production-pgbackrest-replica",
        replica_region="eu-central-1",
        repo_path="/pgbackrest",
    )
    assert driver.front_door == {"ecm": "ecm.drctl.example.org", "crm": "crm.drctl.example.org"}


def test_offsite_backups_lists_finished_sets_with_their_kind_and_time(aws, make_driver):
    driver = make_driver()
    buckets(aws, driver)
    before = datetime.now(UTC).replace(microsecond=0)
    for label in (FULL, DIFF, INCR):
        put_backup(aws, driver, "ecm-db", label)
    put_backup(aws, driver, "crm-db", FULL)
    s3 = aws.client("s3", "eu-south-1")
    bucket = "drctl-production-pgbackrest"
    # pgBackRest's other files, and a set still running (no backup.manifest yet)
    for key in (
        "pgbackrest/backup/ecm-db/backup.info",
        "pgbackrest/backup/ecm-db/backup.history/2025/20250101-010000F.manifest.gz",
        "pgbackrest/backup/ecm-db/20250104-010000F/pg_data/PG_VERSION.zst",
        "pgbackrest/backup/ecm-db/20250104-010000F/backup.manifest.copy",
        "pgbackrest/archive/ecm-db/15-1/0000000100000000/000000010000000000000001-ab.zst",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    after = datetime.now(UTC)

    found = driver.offsite_backups("ecm-db")

    assert [(b.label, b.kind) for b in found] == [
        (FULL, BackupKind.FULL),
        (DIFF, BackupKind.DIFF),
        (INCR, BackupKind.INCR),
    ]
    assert all(b.bucket == bucket and b.stanza == "ecm-db" for b in found)
    assert all(before <= b.modified_at <= after for b in found)
    assert [b.label for b in driver.offsite_backups("crm-db")] == [FULL]
    assert driver.offsite_backups("ecm-db", replica=True) == []


def test_fresh_backups_in_both_buckets_pass(aws, make_driver):
    driver = make_driver()
    buckets(aws, driver)
    for stanza in ("ecm-db", "crm-db"):
        put_backup(aws, driver, stanza, FULL)
        put_backup(aws, driver, stanza, FULL, replica=True)

    results = driver.check_offsite(["ecm-db", "crm-db"], max_age=DAY)

    assert [(r.bucket, r.stanza, r.ok) for r in results] == [
        ("drctl-production-pgbackrest", "ecm-db", True),
        ("drctl-production-pgbackrest-replica", "ecm-db", True),
        ("drctl-production-pgbackrest", "crm-db", True),
        ("drctl-production-pgbackrest-replica", "crm-db", True),
    ]
    assert str(results[0]).startswith("ok: s3://drctl-production-pgbackrest ecm-db: latest backup")
    assert all(r.latest is not None and r.latest.label == FULL for r in results)


def test_a_stale_backup_is_reported_naming_bucket_and_stanza(aws, make_driver):
    driver = make_driver(now=later(3 * DAY))
    buckets(aws, driver)
    put_backup(aws, driver, "ecm-db", FULL)
    put_backup(aws, driver, "ecm-db", FULL, replica=True)

    primary, replica = driver.check_offsite(["ecm-db"], max_age=DAY)

    assert not primary.ok and not replica.ok
    assert str(primary) == (
        f"PROBLEM: s3://drctl-production-pgbackrest ecm-db: latest backup {FULL} (full) "
        "is 3.0 d old, more than 24.0 h"
    )
    assert "s3://drctl-production-pgbackrest-replica ecm-db" in str(replica)


def test_a_missing_backup_and_a_missing_bucket_are_reported(aws, make_driver):
    driver = make_driver()
    buckets(aws, driver, replica=False)
    put_backup(aws, driver, "ecm-db", FULL)

    ecm, ecm_replica, crm, _ = driver.check_offsite(["ecm-db", "crm-db"], max_age=DAY)

    assert ecm.ok
    assert not crm.ok
    assert str(crm) == "PROBLEM: s3://drctl-production-pgbackrest crm-db: no backup in the bucket"
    assert not ecm_replica.ok
    assert ecm_replica.bucket == "drctl-production-pgbackrest-replica"
    assert "NoSuchBucket" in ecm_replica.message


def test_a_copy_missing_from_the_replica_is_reported_once_replication_is_overdue(aws, make_driver):
    for now, replica_ok in ((later(timedelta(0)), True), (later(timedelta(hours=1)), False)):
        aws.reset()
        driver = make_driver(now=now)
        buckets(aws, driver)
        put_backup(aws, driver, "ecm-db", FULL)
        put_backup(aws, driver, "ecm-db", DIFF)
        put_backup(aws, driver, "ecm-db", FULL, replica=True)

        primary, replica = driver.check_offsite(["ecm-db"], max_age=DAY)

        assert primary.ok
        assert replica.ok is replica_ok  # within 15 minutes the copy is in flight
    assert replica.bucket == "drctl-production-pgbackrest-replica"
    assert replica.stanza == "ecm-db"
    assert f"no copy of {DIFF} from s3://drctl-production-pgbackrest" in replica.message


def test_no_backup_configuration_is_an_estate_error(aws):
    driver = AwsDriver(None, {})
    with pytest.raises(EstateError, match="drctl_backup"):
        driver.check_offsite(["ecm-db"], max_age=DAY)


def test_an_inventory_without_vars_is_a_config_error(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts: {}\n")
    with pytest.raises(ConfigError, match=r"all\.vars"):
        AwsDriver.from_inventory(path)


# -- Route 53: the front door as stacks/components/front_door.py creates it ---------------------


@pytest.fixture
def zone(aws: AwsEmulator, make_driver: Callable[..., AwsDriver]) -> str:
    """The zone with both systems' failover records, brindisi PRIMARY, valencia SECONDARY; and
    its parent domain's zone, which must not be taken for it."""
    r53 = aws.client("route53")
    r53.create_hosted_zone(Name="example.org", CallerReference="parent")
    zone_id: str = r53.create_hosted_zone(Name="drctl.example.org", CallerReference="drctl")[
        "HostedZone"
    ]["Id"].removeprefix("/hostedzone/")
    for system, name in make_driver().front_door.items():
        changes = []
        for (site, address), failover in zip(SITES.items(), ("PRIMARY", "SECONDARY"), strict=True):
            check = r53.create_health_check(
                CallerReference=f"{system}-{site}",
                HealthCheckConfig={"IPAddress": address, "Port": 80, "Type": "HTTP"},
            )["HealthCheck"]["Id"]
            changes.append(
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": address}],
                        "SetIdentifier": f"{system}-{site}",
                        "Failover": failover,
                        "HealthCheckId": check,
                    },
                }
            )
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id


def failover_records(aws: AwsEmulator, zone_id: str, name: str) -> dict[str, tuple[str, str, str]]:
    """{set identifier: (failover, address, health check)} of `name`, read back through boto3."""
    listed = aws.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {
        rs["SetIdentifier"]: (
            rs["Failover"],
            rs["ResourceRecords"][0]["Value"],
            rs["HealthCheckId"],
        )
        for rs in listed["ResourceRecordSets"]
        if rs["Name"] == name + "." and "SetIdentifier" in rs
    }


def test_the_front_door_is_switched_to_valencia_and_back(aws, zone, make_driver):
    driver = make_driver()  # finds the zone by name
    before = failover_records(aws, zone, "ecm.drctl.example.org")
    crm_before = failover_records(aws, zone, "crm.drctl.example.org")
    assert driver.front_door_site("ecm") == "brindisi"

    decision = driver.point_front_door("ecm", "valencia")

    after = failover_records(aws, zone, "ecm.drctl.example.org")
    assert {k: v[0] for k, v in after.items()} == {
        "ecm-brindisi": "SECONDARY",
        "ecm-valencia": "PRIMARY",
    }
    assert {k: v[1:] for k, v in after.items()} == {k: v[1:] for k, v in before.items()}
    assert failover_records(aws, zone, "crm.drctl.example.org") == crm_before
    assert decision.startswith("ecm.drctl.example.org sends users to valencia (was brindisi)")
    assert driver.front_door_site("ecm") == "valencia"
    assert driver.front_door_site("crm") == "brindisi"

    assert "nothing to change" in driver.point_front_door("ecm", "valencia")
    driver.point_front_door("ecm", "brindisi")

    assert failover_records(aws, zone, "ecm.drctl.example.org") == before
    assert driver.front_door_site("ecm") == "brindisi"


def test_an_unknown_system_or_site_is_an_error_naming_it(aws, zone, make_driver):
    driver = make_driver(zone_id=zone)
    before = failover_records(aws, zone, "ecm.drctl.example.org")

    with pytest.raises(EstateError, match=r"unknown system 'erp'.*ecm, crm"):
        driver.point_front_door("erp", "valencia")
    with pytest.raises(EstateError, match="unknown system 'erp'"):
        driver.front_door_site("erp")
    with pytest.raises(EstateError, match=r"unknown site 'newyork'.*brindisi, valencia"):
        driver.point_front_door("ecm", "newyork")

    assert failover_records(aws, zone, "ecm.drctl.example.org") == before


def test_a_change_not_in_sync_in_time_is_an_error(aws, zone, make_driver):
    ticks = iter(range(0, 1000, 10))  # every reading of the clock is 10 s later
    driver = make_driver(clock=lambda: float(next(ticks)), sleep=lambda _: None, change_timeout=30)

    def pending(parsed: dict[str, Any], **_: Any) -> None:
        parsed["ChangeInfo"]["Status"] = "PENDING"

    for call in ("ChangeResourceRecordSets", "GetChange"):
        driver.route53.meta.events.register(f"after-call.route53.{call}", pending)

    with pytest.raises(EstateError, match=r"change .* is still PENDING after 30 s"):
        driver.point_front_door("crm", "valencia")


def test_a_name_without_its_pair_of_failover_records_is_an_error(aws, zone, make_driver):
    r53 = aws.client("route53")
    valencia = [
        rs
        for rs in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        if rs.get("SetIdentifier") == "crm-valencia"
    ]
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": valencia[0]}]},
    )
    driver = make_driver(zone_id=zone)

    with pytest.raises(EstateError, match=r"crm\.drctl\.example\.org\.: expected a PRIMARY"):
        driver.point_front_door("crm", "brindisi")
    assert driver.front_door_site("ecm") == "brindisi"


def test_a_name_outside_every_zone_is_an_error(aws, zone):
    driver = AwsDriver(None, {"ecm": "ecm.elsewhere.example.net"})
    with pytest.raises(EstateError, match=r"ecm\.elsewhere\.example\.net\.: no public"):
        driver.front_door_site("ecm")
