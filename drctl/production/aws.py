"""The AWS side of the production estate: pgBackRest's off-site copies in S3 and the front door's
Route 53 failover records (stacks/components/offsite_backup.py, front_door.py).

Credentials come from the standard AWS chain (environment, profile, instance role); the driver
never reads, stores or logs them. `DRCTL_AWS_ENDPOINT_URL` (or `endpoint_url=`) sends every call
to another endpoint instead of AWS: the tests' EMULATOR (moto server mode on 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from drctl.backup.models import BackupKind
from drctl.errors import ConfigError, EstateError

log = logging.getLogger(__name__)

ENDPOINT_ENV = "DRCTL_AWS_ENDPOINT_URL"
# roles/pgbackrest: repo2-path; pgBackRest stores it in S3 without the leading slash
DEFAULT_REPO_PATH = "/pgbackrest"
# S3 Replication Time Control replicates 99.99 % of objects within 15 minutes: a younger backup
# missing from the replica is in flight, not lost
REPLICATION_GRACE = timedelta(minutes=15)
# Route 53 usually reports INSYNC within a minute
CHANGE_TIMEOUT_SECONDS = 180.0
CHANGE_POLL_SECONDS = 5.0

# 20250101-010000F, 20250101-010000F_20250102-010000D (diff) or ..._20250103-010000I (incr)
_LABEL = re.compile(r"^\d{8}-\d{6}F(?:_\d{8}-\d{6}(?P<kind>[DI]))?$")
_KINDS = {None: BackupKind.FULL, "D": BackupKind.DIFF, "I": BackupKind.INCR}
_MANIFEST = "backup.manifest"  # written last: a backup set without it is unfinished


@dataclass(frozen=True)
class BackupBuckets:
    """The `drctl_backup` inventory variable: the repository bucket and its replica."""

    bucket: str
    region: str
    replica_bucket: str | None = None
    replica_region: str | None = None
    repo_path: str = DEFAULT_REPO_PATH


@dataclass(frozen=True)
class OffsiteBackup:
    """One finished backup set of a stanza in a bucket."""

    bucket: str
    stanza: str
    label: str
    kind: BackupKind
    modified_at: datetime  # when backup.manifest was stored, i.e. the backup finished


@dataclass(frozen=True)
class OffsiteCheck:
    """The verdict on one stanza in one bucket; printable as it stands."""

    bucket: str
    stanza: str
    ok: bool
    message: str
    latest: OffsiteBackup | None = None

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'PROBLEM'}: s3://{self.bucket} {self.stanza}: {self.message}"


@dataclass(frozen=True)
class _FailoverRecord:
    site: str
    record_set: dict[str, Any]  # as Route 53 lists it; UPSERTed back with only Failover changed

    @property
    def failover(self) -> str:
        return str(self.record_set.get("Failover", ""))


class AwsDriver:
    """Off-site backup checks and front-door switching for the production estate."""

    def __init__(
        self,
        backups: BackupBuckets | None,
        front_door: Mapping[str, str],
        *,
        zone_id: str | None = None,
        endpoint_url: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        change_timeout: float = CHANGE_TIMEOUT_SECONDS,
        change_poll: float = CHANGE_POLL_SECONDS,
        replication_grace: timedelta = REPLICATION_GRACE,
    ) -> None:
        self.backups = backups
        self.front_door = dict(front_door)  # {system: DNS name}
        self.zone_id = zone_id  # None: the public hosted zone the names belong to
        self.endpoint_url = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
        self.now, self.clock, self.sleep = now, clock, sleep
        self.change_timeout, self.change_poll = change_timeout, change_poll
        self.replication_grace = replication_grace
        self._session: Any = None  # boto3's, made on first use
        self._clients: dict[tuple[str, str], Any] = {}
        if self.endpoint_url:
            log.info("AWS calls go to %s, not AWS", self.endpoint_url)

    @classmethod
    def from_inventory(cls, path: Path, **options: Any) -> AwsDriver:
        """From the production inventory's `drctl_backup` and `drctl_front_door` variables."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            variables = data["all"]["vars"]
            if not isinstance(variables, dict):
                raise TypeError
        except OSError as exc:
            raise ConfigError.single(path, "", f"cannot read file: {exc.strerror}") from None
        except (yaml.YAMLError, KeyError, TypeError):
            raise ConfigError.single(path, "all.vars", "not a drctl inventory") from None
        backup = variables.get("drctl_backup")
        try:
            known = {f.name for f in fields(BackupBuckets)}  # iam_user is for the stack's policy
            buckets = (
                BackupBuckets(**{k: v for k, v in backup.items() if k in known}) if backup else None
            )
        except (TypeError, AttributeError) as exc:
            raise ConfigError.single(path, "all.vars.drctl_backup", str(exc)) from None
        return cls(buckets, variables.get("drctl_front_door") or {}, **options)

    # -- off-site backups ---------------------------------------------------------------------

    def offsite_backups(self, stanza: str, *, replica: bool = False) -> list[OffsiteBackup]:
        """The finished backup sets of `stanza` in the bucket (or its replica), oldest first."""
        bucket, region = self._bucket(replica)
        s3 = self._client("s3", region)
        root = self._buckets().repo_path.strip("/")
        prefix = f"{root}/backup/{stanza}/" if root else f"backup/{stanza}/"
        found: list[OffsiteBackup] = []
        with _aws_errors(f"s3://{bucket}/{prefix}"):
            # one level down only: a backup set holds thousands of files, its label is a prefix
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/"
            )
            labels = [
                p["Prefix"][len(prefix) :].rstrip("/")
                for page in pages
                for p in page.get("CommonPrefixes", [])
            ]
            for label in labels:
                match = _LABEL.match(label)
                if not match:  # backup.history/ and the like
                    continue
                key = f"{prefix}{label}/{_MANIFEST}"
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=2)
                for obj in listed.get("Contents", []):
                    if obj["Key"] == key:
                        kind = _KINDS[match.group("kind")]
                        found.append(
                            OffsiteBackup(bucket, stanza, label, kind, obj["LastModified"])
                        )
        return sorted(found, key=lambda b: (b.modified_at, b.label))

    def check_offsite(self, stanzas: Iterable[str], max_age: timedelta) -> list[OffsiteCheck]:
        """Each stanza has a backup no older than `max_age` in the bucket, and in the replica
        every set the bucket has had time to replicate. One result per stanza and bucket."""
        has_replica = self._buckets().replica_bucket is not None
        results: list[OffsiteCheck] = []
        for stanza in stanzas:
            result, originals = self._check_bucket(stanza, max_age, replica=False)
            results.append(result)
            if has_replica:
                results.append(self._check_replica(stanza, max_age, originals))
        return results

    def _check_bucket(
        self, stanza: str, max_age: timedelta, *, replica: bool
    ) -> tuple[OffsiteCheck, list[OffsiteBackup]]:
        bucket, _ = self._bucket(replica)
        try:
            backups = self.offsite_backups(stanza, replica=replica)
        except EstateError as exc:
            return OffsiteCheck(bucket, stanza, False, str(exc)), []
        if not backups:
            return OffsiteCheck(bucket, stanza, False, "no backup in the bucket"), []
        latest = backups[-1]
        age = self.now() - latest.modified_at
        what = f"latest backup {latest.label} ({latest.kind}) is {_duration(age)} old"
        if age > max_age:
            message = f"{what}, more than {_duration(max_age)}"
            return OffsiteCheck(bucket, stanza, False, message, latest), backups
        return OffsiteCheck(bucket, stanza, True, what, latest), backups

    def _check_replica(
        self, stanza: str, max_age: timedelta, originals: list[OffsiteBackup]
    ) -> OffsiteCheck:
        result, copies = self._check_bucket(stanza, max_age, replica=True)
        copied = {b.label for b in copies}
        due = self.now() - self.replication_grace
        missing = [b.label for b in originals if b.label not in copied and b.modified_at < due]
        if not missing:
            return result
        message = f"no copy of {', '.join(missing)} from s3://{self._buckets().bucket}"
        if copies:
            message = f"{message}; {result.message}"
        return OffsiteCheck(result.bucket, stanza, False, message, result.latest)

    def _buckets(self) -> BackupBuckets:
        if self.backups is None:
            raise EstateError("no off-site backup bucket: the inventory has no drctl_backup")
        return self.backups

    def _bucket(self, replica: bool) -> tuple[str, str]:
        b = self._buckets()
        if not replica:
            return b.bucket, b.region
        if b.replica_bucket is None:
            raise EstateError(f"s3://{b.bucket} has no replica bucket configured")
        return b.replica_bucket, b.replica_region or b.region

    # -- front door ---------------------------------------------------------------------------

    def front_door_site(self, system: str) -> str:
        """The site the system's name sends users to while its health check passes: the site of
        its PRIMARY failover record (Route 53 answers with the SECONDARY only when it fails)."""
        return self._primary(system, self._records(system))

    def point_front_door(self, system: str, site: str) -> str:
        """Make `site` the PRIMARY and the other site the SECONDARY, in one change batch (never
        two PRIMARYs, never none); wait until Route 53 has it in sync. Says what it did."""
        records = self._records(system)
        name = self.front_door[system]
        sites = [r.site for r in records]
        if site not in sites:
            raise EstateError(
                f"unknown site {site!r} for the front door of {system} ({name}): "
                f"its failover records are at {', '.join(sites)}"
            )
        current = self._primary(system, records)
        if current == site:
            return f"{name} already sends users to {site}: nothing to change"
        changes = [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    **r.record_set,
                    "Failover": "PRIMARY" if r.site == site else "SECONDARY",
                },
            }
            for r in records
        ]
        route53 = self.route53
        started = self.clock()
        with _aws_errors(f"Route 53 records of {name}"):
            response = route53.change_resource_record_sets(
                HostedZoneId=self._zone(name),
                ChangeBatch={
                    "Comment": f"drctl: front door of {system} to {site}",
                    "Changes": changes,
                },
            )
            change: str = response["ChangeInfo"]["Id"]
            status: str = response["ChangeInfo"]["Status"]
            while status != "INSYNC":
                if self.clock() - started > self.change_timeout:
                    raise EstateError(
                        f"{name}: change {change} to send users to {site} is still {status} after "
                        f"{self.change_timeout:.0f} s; Route 53 applies it eventually"
                    )
                self.sleep(self.change_poll)
                status = route53.get_change(Id=change)["ChangeInfo"]["Status"]
        decision = (
            f"{name} sends users to {site} (was {current}); "
            f"change {change} in sync after {self.clock() - started:.1f} s"
        )
        log.info(decision)
        return decision

    @property
    def route53(self) -> Any:
        return self._client("route53", "us-east-1")  # a global service, signed for us-east-1

    def _records(self, system: str) -> list[_FailoverRecord]:
        """The system's failover A records (set identifier `<system>-<site>`), in zone order."""
        if system not in self.front_door:
            known = ", ".join(self.front_door) or "none"
            raise EstateError(f"unknown system {system!r}: the front door has records for {known}")
        name = _fqdn(self.front_door[system])
        records: list[_FailoverRecord] = []
        with _aws_errors(f"Route 53 records of {name}"):
            pages = self.route53.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=self._zone(name), StartRecordName=name, StartRecordType="A"
            )
            for rs in (rs for page in pages for rs in page["ResourceRecordSets"]):
                if _fqdn(rs["Name"]) != name:
                    if records:  # a zone lists one name's records together
                        break
                    continue
                ident = str(rs.get("SetIdentifier", ""))
                if rs["Type"] == "A" and "Failover" in rs and ident.startswith(f"{system}-"):
                    records.append(_FailoverRecord(ident.removeprefix(f"{system}-"), rs))
        if len(records) != 2:
            raise EstateError(
                f"{name}: expected a PRIMARY and a SECONDARY failover record, found "
                f"{', '.join(f'{r.site} {r.failover}' for r in records) or 'none'}"
            )
        return records

    def _primary(self, system: str, records: list[_FailoverRecord]) -> str:
        primaries = [r.site for r in records if r.failover == "PRIMARY"]
        if len(primaries) != 1:
            raise EstateError(f"{self.front_door[system]}: no single PRIMARY failover record")
        return primaries[0]

    def _zone(self, name: str) -> str:
        """The configured zone, else the public hosted zone whose domain is the longest suffix."""
        if self.zone_id:
            return self.zone_id
        with _aws_errors("Route 53 hosted zones"):
            pages = self.route53.get_paginator("list_hosted_zones").paginate()
            zones = [
                (len(z["Name"]), str(z["Id"]))
                for page in pages
                for z in page["HostedZones"]
                if not z.get("Config", {}).get("PrivateZone")
                and (name == _fqdn(z["Name"]) or name.endswith("." + _fqdn(z["Name"])))
            ]
        if not zones:
            raise EstateError(f"{name}: no public Route 53 hosted zone holds it")
        self.zone_id = max(zones)[1].removeprefix("/hostedzone/")
        return self.zone_id

    def _client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            import boto3  # production only: the lab never needs it
            from botocore.config import Config

            config = Config(
                connect_timeout=10, read_timeout=30, retries={"mode": "standard", "max_attempts": 5}
            )
            self._session = self._session or boto3.session.Session()
            self._clients[service, region] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service, region]


@contextmanager
def _aws_errors(what: str) -> Iterator[None]:
    """Turn boto errors into an EstateError naming what was being read or changed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise EstateError(f"{what}: {err.get('Code')}: {err.get('Message')}") from None
    except BotoCoreError as exc:  # no credentials, endpoint unreachable: never a secret in it
        raise EstateError(f"{what}: {exc}") from None


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
