"""OffsiteBackup: the S3 repository pgBackRest writes database backups to, and its copy abroad.

Protection in layers: default KMS encryption, versioning with object lock (COMPLIANCE mode by
default: not even the account root can delete a locked version, which is what ransomware tries),
public access blocked and ACLs disabled, TLS required, replication to a bucket in a second
region under its own provider and key, lifecycle to colder storage, and a backup user that can
read, write and delete current objects in this one bucket, nothing else (it cannot delete
versions, change retention or touch the replica).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from stack_config import BackupSettings
from stack_layout import Labels

# What pgBackRest needs from an S3 repository (its documentation's minimal policy), and no more.
BACKUP_BUCKET_ACTIONS = ["s3:ListBucket"]
BACKUP_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
BACKUP_KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]


@dataclass(frozen=True)
class OffsiteBackupArgs:
    settings: BackupSettings
    labels: Labels
    replica_labels: Labels
    primary_provider: aws.Provider
    replica_provider: aws.Provider


@dataclass
class _Bucket:
    bucket: aws.s3.Bucket
    key: aws.kms.Key
    versioning: aws.s3.BucketVersioning


class OffsiteBackup(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: OffsiteBackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("drctl:index:OffsiteBackup", name, None, opts)
        s = args.settings
        primary = self._bucket(name, s.bucket, args.labels, args.primary_provider, s, replica=False)
        replica = self._bucket(
            f"{name}-replica",
            s.replica_bucket_name,
            args.replica_labels,
            args.replica_provider,
            s,
            replica=True,
        )
        self._replication(name, primary, replica, args)
        user, access_key = self._backup_user(name, primary, args)

        self.bucket_name = primary.bucket.bucket
        self.outputs: dict[str, Any] = {
            "bucket": primary.bucket.bucket,
            "bucket_arn": primary.bucket.arn,
            "region": s.primary_region,
            "kms_key_arn": primary.key.arn,
            "replica_bucket": replica.bucket.bucket,
            "replica_region": s.replica_region,
            "iam_user": user.name,
            "access_key_id": access_key.id,
            "secret_access_key": pulumi.Output.secret(access_key.secret),
        }
        self.register_outputs(self.outputs)

    def _bucket(
        self,
        name: str,
        bucket_name: str,
        labels: Labels,
        provider: aws.Provider,
        s: BackupSettings,
        *,
        replica: bool,
    ) -> _Bucket:
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        tags = labels.aws_tags(role="pgbackrest-replica" if replica else "pgbackrest-repository")
        key = aws.kms.Key(
            f"{name}-key",
            description=f"drctl: encrypts the pgBackRest repository {bucket_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=opts,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            object_lock_enabled=True,  # only possible at creation
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[bucket])
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode=s.lock_mode, days=s.lock_days
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[versioning]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="colder-storage",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=s.infrequent_after_days, storage_class="STANDARD_IA"
                        ),
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=s.cold_after_days, storage_class=s.cold_storage_class
                        ),
                    ],
                    noncurrent_version_transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                            noncurrent_days=s.infrequent_after_days, storage_class="STANDARD_IA"
                        )
                    ],
                    # versions pgBackRest expired are kept (and locked) this long, then removed
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=s.noncurrent_expire_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[block]),
        )
        return _Bucket(bucket, key, versioning)

    def _replication(
        self, name: str, primary: _Bucket, replica: _Bucket, args: OffsiteBackupArgs
    ) -> None:
        opts = pulumi.ResourceOptions(parent=self, provider=args.primary_provider)
        role = aws.iam.Role(
            f"{name}-replication-role",
            path="/drctl/",
            description="drctl: S3 replication of the pgBackRest repository to its replica",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=args.labels.aws_tags(role="s3-replication"),
            opts=opts,
        )
        src, dst = primary.bucket.arn, replica.bucket.arn
        aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": [src],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                                "s3:GetObjectRetention",
                                "s3:GetObjectLegalHold",
                            ],
                            "Resource": [pulumi.Output.concat(src, "/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ReplicateTags",
                                "s3:ObjectOwnerOverrideToBucketOwner",
                            ],
                            "Resource": [pulumi.Output.concat(dst, "/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Decrypt"],
                            "Resource": [primary.key.arn],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": [replica.key.arn],
                        },
                    ],
                }
            ),
            opts=opts,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=primary.bucket.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="offsite-copy",
                    status="Enabled",
                    priority=1,
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    # deletions stay deletions over there too; locked versions survive both
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=dst,
                        storage_class="STANDARD_IA",
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=replica.key.arn
                        ),
                    ),
                )
            ],
            # both buckets must be versioned before S3 accepts a replication rule
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.primary_provider,
                depends_on=[primary.versioning, replica.versioning],
            ),
        )

    def _backup_user(
        self, name: str, primary: _Bucket, args: OffsiteBackupArgs
    ) -> tuple[aws.iam.User, aws.iam.AccessKey]:
        opts = pulumi.ResourceOptions(parent=self, provider=args.primary_provider)
        user = aws.iam.User(
            f"{name}-pgbackrest",
            path="/drctl/",
            tags=args.labels.aws_tags(role="pgbackrest"),
            opts=opts,
        )
        bucket = primary.bucket.arn
        aws.iam.UserPolicy(
            f"{name}-pgbackrest-policy",
            user=user.name,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ListRepository",
                            "Effect": "Allow",
                            "Action": BACKUP_BUCKET_ACTIONS,
                            "Resource": [bucket],
                        },
                        {
                            "Sid": "ReadWriteRepository",
                            "Effect": "Allow",
                            "Action": BACKUP_OBJECT_ACTIONS,
                            "Resource": [pulumi.Output.concat(bucket, "/*")],
                        },
                        {
                            "Sid": "UseRepositoryKey",
                            "Effect": "Allow",
                            "Action": BACKUP_KEY_ACTIONS,
                            "Resource": [primary.key.arn],
                        },
                    ],
                }
            ),
            opts=opts,
        )
        access_key = aws.iam.AccessKey(f"{name}-pgbackrest-key", user=user.name, opts=opts)
        return user, access_key
