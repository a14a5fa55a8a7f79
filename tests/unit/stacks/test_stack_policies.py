"""Policies over everything the stack declares: tags, and the off-site backup's protections."""

from __future__ import annotations

import json
from typing import Any

from stack_harness import StackRun

from drctl.topology import Topology

LABELS = ("site", "system", "tier", "managed-by")
# Every resource type the stack declares, by whether it takes tags. A new type must be
# added to one of the two, which is the moment to decide how it is labelled.
TAGGED_AWS = {
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:iam/user:User",
    "aws:iam/role:Role",
    "aws:route53/healthCheck:HealthCheck",
}
TAGGED_PROXMOX = {"proxmoxve:index/vmLegacy:VmLegacy"}
UNTAGGABLE = {
    "drctl:index:EnterpriseDataCentre",
    "drctl:index:RegionalHub",
    "drctl:index:OffsiteBackup",
    "drctl:index:FrontDoor",
    "pulumi:providers:proxmoxve",
    "pulumi:providers:aws",  # carries default_tags itself
    "proxmoxve:index/fileLegacy:FileLegacy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/accessKey:AccessKey",
    "aws:route53/record:Record",
}
PRIMARY, REPLICA = "drctl-production-pgbackrest", "drctl-production-pgbackrest-replica"


def for_bucket(run: StackRun, type_: str, bucket: str) -> dict[str, Any]:
    (found,) = [r.inputs for r in run.of_type(type_) if r.inputs.get("bucket") == bucket]
    return found


# --- tags -------------------------------------------------------------------------------------


def test_every_resource_type_is_classified(production: StackRun) -> None:
    types = {r.type for r in production.resources}
    assert types <= TAGGED_AWS | TAGGED_PROXMOX | UNTAGGABLE, types - (
        TAGGED_AWS | TAGGED_PROXMOX | UNTAGGABLE
    )


def test_aws_resources_carry_every_label(production: StackRun, topology: Topology) -> None:
    tiers = {str(t.level) for t in topology.tiers}
    tagged = [r for r in production.resources if r.type in TAGGED_AWS]
    assert len(tagged) == 2 + 2 + 1 + 1 + 4
    for r in tagged:
        assert all(r.tags.get(k) for k in LABELS), (r.name, r.tags)
        assert r.tags["managed-by"] == "drctl"
        assert r.tags["tier"] in tiers
    for provider in production.of_type("pulumi:providers:aws"):
        assert json.loads(provider.inputs["defaultTags"])["tags"] == {"managed-by": "drctl"}


def test_vms_carry_every_label(production: StackRun, topology: Topology) -> None:
    sites = {s.name for s in topology.sites}
    for vm in production.of_type("proxmoxve:index/vmLegacy:VmLegacy"):
        tags = vm.inputs["tags"]
        for label in LABELS:
            assert any(t.startswith(f"{label}-") for t in tags), (vm.name, label)
        assert "managed-by-drctl" in tags
        assert {t.removeprefix("site-") for t in tags if t.startswith("site-")} <= sites
        assert all(t == t.lower() and " " not in t for t in tags)  # Proxmox tag syntax


def test_labels_say_which_system_and_site(production: StackRun) -> None:
    assert production.named("geneva-cache").inputs["tags"] == [
        "managed-by-drctl",
        "site-geneva",
        "system-ecm",
        "tier-1",
    ]
    assert production.named("offsite-backup-bucket").tags["system"] == "ecm+crm"
    assert production.named("offsite-backup-bucket").tags["site"] == "aws-eu-south-1"


# --- the off-site backup bucket ----------------------------------------------------------------


def test_buckets_in_two_regions_each_with_its_own_provider(production: StackRun) -> None:
    buckets = {b.inputs["bucket"]: b for b in production.of_type("aws:s3/bucket:Bucket")}
    assert set(buckets) == {PRIMARY, REPLICA}
    assert "aws-eu-south-1" in buckets[PRIMARY].provider
    assert "aws-eu-central-1" in buckets[REPLICA].provider
    regions = {p.name: p.inputs["region"] for p in production.of_type("pulumi:providers:aws")}
    assert regions == {"aws-eu-south-1": "eu-south-1", "aws-eu-central-1": "eu-central-1"}
    assert production.outputs["backup"]["bucket"] == PRIMARY
    assert production.outputs["backup"]["replica_bucket"] == REPLICA


def test_buckets_are_encrypted_with_kms(production: StackRun) -> None:
    for bucket in (PRIMARY, REPLICA):
        (rule,) = for_bucket(
            production,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            bucket,
        )["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "aws:kms"
        assert default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    for key in production.of_type("aws:kms/key:Key"):
        assert key.inputs["enableKeyRotation"] is True


def test_buckets_are_versioned_and_object_locked(production: StackRun) -> None:
    for bucket in (PRIMARY, REPLICA):
        b = production.named(
            "offsite-backup-bucket" if bucket == PRIMARY else "offsite-backup-replica-bucket"
        )
        assert b.inputs["objectLockEnabled"] is True
        assert b.inputs.get("forceDestroy") is not True
        versioning = for_bucket(production, "aws:s3/bucketVersioning:BucketVersioning", bucket)
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        lock = for_bucket(
            production,
            "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
            bucket,
        )
        assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 14}


def test_buckets_are_not_public(production: StackRun) -> None:
    for bucket in (PRIMARY, REPLICA):
        block = for_bucket(
            production, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket
        )
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        ):
            assert block[flag] is True, flag
        owner = for_bucket(
            production, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket
        )
        assert owner["rule"]["objectOwnership"] == "BucketOwnerEnforced"  # no ACLs at all
        policy = json.loads(
            for_bucket(production, "aws:s3/bucketPolicy:BucketPolicy", bucket)["policy"]
        )
        assert all(s["Effect"] == "Deny" for s in policy["Statement"])  # grants nothing to anyone
        assert (
            "acl"
            not in production.named(
                "offsite-backup-bucket" if bucket == PRIMARY else "offsite-backup-replica-bucket"
            ).inputs
        )


def test_primary_is_replicated_to_the_second_region(production: StackRun) -> None:
    (replication,) = production.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert replication.inputs["bucket"] == PRIMARY
    (rule,) = replication.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["destination"]["bucket"] == f"arn:aws:s3:::{REPLICA}"
    assert rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"].endswith(
        "offsite-backup-replica-key"
    )
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
    assert replication.inputs["role"].startswith("arn:aws:iam::")


def test_lifecycle_moves_backups_to_colder_storage(production: StackRun) -> None:
    for bucket in (PRIMARY, REPLICA):
        lifecycle = for_bucket(
            production, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket
        )
        (rule,) = lifecycle["rules"]
        assert rule["status"] == "Enabled"
        classes = [(t["days"], t["storageClass"]) for t in rule["transitions"]]
        assert classes == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 400  # > lock days


def statements(run: StackRun, type_: str) -> list[dict[str, Any]]:
    (policy,) = run.of_type(type_)
    doc = json.loads(policy.inputs["policy"])
    return list(doc["Statement"])


def test_backup_user_may_use_only_its_bucket(production: StackRun) -> None:
    allowed = statements(production, "aws:iam/userPolicy:UserPolicy")
    assert all(s["Effect"] == "Allow" for s in allowed)
    resources = {r for s in allowed for r in s["Resource"]}
    key_arn = production.outputs["backup"]["kms_key_arn"]
    assert resources == {f"arn:aws:s3:::{PRIMARY}", f"arn:aws:s3:::{PRIMARY}/*", key_arn}
    actions = {a for s in allowed for a in s["Action"]}
    assert not any("*" in a for a in actions)
    # it cannot remove locked versions, change retention, or reconfigure the bucket
    assert not actions & {
        "s3:DeleteObjectVersion",
        "s3:BypassGovernanceRetention",
        "s3:PutObjectRetention",
        "s3:PutBucketPolicy",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
    }
    for s in allowed:
        if any(a.startswith("kms:") for a in s["Action"]):
            assert s["Resource"] == [key_arn]
        else:
            assert all(r.startswith(f"arn:aws:s3:::{PRIMARY}") for r in s["Resource"])
    (policy,) = production.of_type("aws:iam/userPolicy:UserPolicy")
    (user,) = production.of_type("aws:iam/user:User")
    assert policy.inputs["user"] == user.name


def test_replication_role_reads_primary_and_writes_replica_only(production: StackRun) -> None:
    for s in statements(production, "aws:iam/rolePolicy:RolePolicy"):
        for action in s["Action"]:
            assert "*" not in action
        for resource in s["Resource"]:
            if any(a.startswith("s3:Replicate") for a in s["Action"]):
                assert resource == f"arn:aws:s3:::{REPLICA}/*"
            elif resource.startswith("arn:aws:s3:::"):
                assert resource.removesuffix("/*") == f"arn:aws:s3:::{PRIMARY}"


def test_secret_key_is_a_secret_output(production: StackRun) -> None:
    assert production.outputs["backup"]["secret_access_key"] == "test-secret"
    assert production.outputs["backup"]["iam_user"] == "offsite-backup-pgbackrest"


# --- the front door ----------------------------------------------------------------------------


def test_failover_records_for_each_application(production: StackRun, topology: Topology) -> None:
    records = production.of_type("aws:route53/record:Record")
    checks = {c.name: c for c in production.of_type("aws:route53/healthCheck:HealthCheck")}
    for system in topology.systems:
        if system.app is None:
            continue
        name = f"{system.name}.drctl.example.org"
        mine = [r for r in records if r.inputs["name"] == name]
        policies = {r.inputs["failoverRoutingPolicies"][0]["type"]: r for r in mine}
        assert set(policies) == {"PRIMARY", "SECONDARY"}
        primary, secondary = policies["PRIMARY"], policies["SECONDARY"]
        assert primary.inputs["records"] == ["203.0.113.10"]  # brindisi, placement[0]
        assert secondary.inputs["records"] == ["203.0.113.20"]  # valencia
        for record, site in ((primary, system.placement[0]), (secondary, system.placement[1])):
            assert record.inputs["setIdentifier"] == f"{system.name}-{site}"
            assert record.inputs["ttl"] == 60
            assert record.inputs["zoneId"] == "Z0000000000PRODUCTION"
            check = checks[f"frontdoor-{system.name}-{site}-health"]
            assert record.inputs["healthCheckId"] == f"{check.name}-id"
            assert check.inputs["port"] == system.app.port
            assert check.inputs["resourcePath"] == "/readyz"
            assert check.inputs["ipAddress"] == record.inputs["records"][0]
            assert check.tags["site"] == site
            assert check.tags["system"] == system.name
    assert production.outputs["front_door"]["records"]["ecm"]["name"] == "ecm.drctl.example.org"
