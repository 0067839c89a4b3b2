"""Buckets: private, encrypted, TLS-only, access-logged; destroyed in dev, retained in prod."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from infra.storage import Storage


def build(stack: cdk.Stack, *, retain: bool) -> tuple[Storage, Template]:
    storage = Storage(stack, "Storage", retain=retain, input_expiry_days=30)
    return storage, Template.from_stack(stack)


def logical_id(stack: cdk.Stack, construct: cdk.IResource) -> str:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return str(stack.resolve(stack.get_logical_id(child)))


@pytest.mark.parametrize("retain", [False, True], ids=["dev", "prod"])
def test_every_bucket_is_private_encrypted_and_tls_only(stack, retain):
    storage, template = build(stack, retain=retain)
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        # The access-log bucket is kept in every stage (late log deliveries would fail a destroy).
        kept = retain or "AccessLogs" in name
        assert bucket["DeletionPolicy"] == ("Retain" if kept else "Delete")
    # A TLS-only policy (deny when aws:SecureTransport is false) on each of the three.
    for each in (storage.input_bucket, storage.output_bucket, storage.access_logs_bucket):
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": logical_id(stack, each)},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
    # dev empties the data buckets before deleting them; prod keeps everything; the access-log
    # bucket is kept in both and empties itself (its lifecycle rule).
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0 if retain else 2)


def test_input_and_output_log_to_the_access_log_bucket(stack):
    storage, template = build(stack, retain=False)
    logs_ref = {"Ref": logical_id(stack, storage.access_logs_bucket)}
    for bucket, prefix in ((storage.input_bucket, "input/"), (storage.output_bucket, "output/")):
        resource = template.to_json()["Resources"][logical_id(stack, bucket)]
        assert resource["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": logs_ref,
            "LogFilePrefix": prefix,
        }


def test_inputs_expire_and_results_do_not(stack):
    storage, template = build(stack, retain=True)
    resources = template.to_json()["Resources"]
    input_rules = resources[logical_id(stack, storage.input_bucket)]["Properties"]["LifecycleConfiguration"]
    assert input_rules["Rules"] == [{"ExpirationInDays": 30, "Status": "Enabled"}]
    assert "LifecycleConfiguration" not in resources[logical_id(stack, storage.output_bucket)]["Properties"]
