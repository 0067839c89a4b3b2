"""The input and output buckets, and the bucket that receives their server access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

ACCESS_LOG_DAYS = 365
DEV_ACCESS_LOG_DAYS = 30


class Storage(Construct):
    """Private, encrypted, TLS-only buckets. `retain`: keep them (and their objects) on stack deletion."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool, input_expiry_days: int) -> None:
        super().__init__(scope, construct_id)

        def bucket(
            bucket_id: str, *, expiry_days: int | None, logs: s3.IBucket | None, keep: bool = retain
        ) -> s3.Bucket:
            return s3.Bucket(
                self,
                bucket_id,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                removal_policy=RemovalPolicy.RETAIN if keep else RemovalPolicy.DESTROY,
                auto_delete_objects=not keep,
                server_access_logs_bucket=logs,
                server_access_logs_prefix=f"{bucket_id.lower()}/" if logs else None,
                lifecycle_rules=(
                    [s3.LifecycleRule(expiration=Duration.days(expiry_days))] if expiry_days else None
                ),
            )

        # Access logs need SSE-S3 (not KMS); the log delivery service writes via a bucket policy.
        # Not logged itself: it would log into itself (cdk-nag AwsSolutions-S1 accepts that).
        # Kept in every stage, by design: S3 delivers server access logs late (best effort), so a
        # bucket emptied on destroy can fail it with BucketNotEmpty (aws-cdk #21776, #16332). Its
        # lifecycle rule empties it (a year where data is kept, a month in dev); empty, it costs nothing.
        self.access_logs_bucket = bucket(
            "AccessLogs", expiry_days=ACCESS_LOG_DAYS if retain else DEV_ACCESS_LOG_DAYS, logs=None, keep=True
        )
        # An input is only needed until its result is written; results are the source of truth.
        self.input_bucket = bucket("Input", expiry_days=input_expiry_days, logs=self.access_logs_bucket)
        self.output_bucket = bucket("Output", expiry_days=None, logs=self.access_logs_bucket)
